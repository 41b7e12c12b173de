//! The timeline: who held each client's lock over scenario time, with crashes,
//! kills, expiries, takeovers, rejected writes and repairs marked.

use crate::sanitize::printable;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::secs;
use crate::tui::app::App;
use crate::tui::state::{ClientView, MarkKind};

/// Draws one strip per client and a time axis.
pub fn render(frame: &mut Frame, area: Rect, app: &App, now: f64) {
    let th = &app.theme;
    let legend = if area.width >= 104 {
        " timeline  █ holder  ░ dead holder  x crash  K kill  e expiry  T takeover  ! rejected  r repair "
    } else {
        " timeline █ holder ░ dead x crash K kill e expiry T takeover ! reject r repair "
    };
    let block = Block::bordered().title(Span::styled(legend, th.title()));
    let inner = block.inner(area);
    let label = 10usize;
    let width = (inner.width as usize).saturating_sub(label).max(1);
    let span_t = now.max(1.0);
    let room = inner.height.saturating_sub(1) as usize;
    let mut lines: Vec<Line> = app
        .state
        .clients
        .iter()
        .take(room)
        .map(|c| strip(app, c, width, span_t, label))
        .collect();
    let right = secs(span_t);
    let pad = width.saturating_sub(right.len() + 2);
    lines.push(Line::from(Span::styled(
        format!("{:label$}0s{}{right}", "", " ".repeat(pad)),
        th.dim(),
    )));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn strip<'a>(app: &App, c: &ClientView, width: usize, span_t: f64, label: usize) -> Line<'a> {
    let th = &app.theme;
    let dt = span_t / width as f64;
    // (character, segment number) per column; segment number picks the stripe.
    let mut cells: Vec<(char, Option<usize>)> = vec![(' ', None); width];
    for (n, seg) in c.segments.iter().enumerate() {
        let to = seg.to.unwrap_or(span_t);
        let a = (seg.from / dt).floor().max(0.0) as usize;
        let b = ((to / dt).ceil() as usize).clamp(a + 1, width);
        // Alternate the block so neighbouring holders differ even without colour.
        let ch = if n % 2 == 0 { '█' } else { '▓' };
        let dead_col = seg.dead_from.map(|d| ((d / dt) as usize).min(width));
        for (col, cell) in cells.iter_mut().enumerate().take(b).skip(a.min(width)) {
            // After its holder died the lock is only held on paper until a takeover.
            let c = if dead_col.is_some_and(|d| col >= d) {
                '░'
            } else {
                ch
            };
            *cell = (c, Some(n));
        }
    }
    for m in &c.marks {
        let col = ((m.t / dt) as usize).min(width - 1);
        let keep = matches!(cells[col].0, 'x' | 'K' | '!' | 'T');
        if !keep || matches!(m.kind, MarkKind::Kill | MarkKind::Rejected) {
            cells[col] = (m.kind.symbol(), None);
        }
    }
    let mut spans = vec![Span::raw(format!(
        "{:<label$}",
        truncate(&printable(&c.name), label - 1)
    ))];
    for (ch, seg) in cells {
        let style = match seg {
            Some(n) => th.stripe(n),
            None if ch != ' ' => th.warn(),
            None => th.dim(),
        };
        spans.push(Span::styled(ch.to_string(), style));
    }
    Line::from(spans)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
