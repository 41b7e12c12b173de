//! The timeline: who held each client's lock over scenario time, with crashes,
//! kills, expiries, takeovers, rejected writes and repairs marked.

use std::ops::Range;

use crate::sanitize::printable;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::secs;
use crate::tui::app::App;
use crate::tui::state::{ClientView, MarkKind};

/// Draws one strip per client in `window` and a time axis.
pub fn render(frame: &mut Frame, area: Rect, app: &App, now: f64, window: Range<usize>) {
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
    // Events can be stamped at (or, in a corrupt recording, after) `now`: the
    // axis covers both, so nothing falls off its end.
    let span_t = now.max(app.state.last_t).max(1.0);
    let span_t = if span_t.is_finite() { span_t } else { 1.0 };
    let room = inner.height.saturating_sub(1) as usize;
    let several = app.state.clients.len() > 1;
    let mut lines: Vec<Line> = app.state.clients[window.clone()]
        .iter()
        .enumerate()
        .take(room)
        .map(|(i, c)| {
            let chosen = several && window.start + i == app.ui.client;
            strip(app, c, width, span_t, label, chosen)
        })
        .collect();
    let right = secs(span_t);
    let pad = width.saturating_sub(right.len() + 2);
    lines.push(Line::from(Span::styled(
        format!("{:label$}0s{}{right}", "", " ".repeat(pad)),
        th.dim(),
    )));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The column of time `t` on a strip `width` columns wide, each `dt` long.
fn column(t: f64, dt: f64, width: usize) -> usize {
    let c = (t / dt).floor();
    if c.is_finite() && c > 0.0 {
        (c as usize).min(width - 1)
    } else {
        0
    }
}

fn strip<'a>(
    app: &App,
    c: &ClientView,
    width: usize,
    span_t: f64,
    label: usize,
    chosen: bool,
) -> Line<'a> {
    let th = &app.theme;
    let dt = span_t / width as f64;
    // (character, segment number) per column; segment number picks the stripe.
    let mut cells: Vec<(char, Option<usize>)> = vec![(' ', None); width];
    for (n, seg) in c.segments.iter().enumerate() {
        let to = seg.to.unwrap_or(span_t).max(seg.from);
        let a = column(seg.from, dt, width);
        // A stretch shorter than a column still gets one.
        let b = ((to / dt).ceil().min(width as f64) as usize).max(a + 1);
        // Alternate the block so neighbouring holders differ even without colour.
        let ch = if n % 2 == 0 { '█' } else { '▓' };
        let dead_col = seg.dead_from.map(|d| column(d, dt, width));
        for (col, cell) in cells.iter_mut().enumerate().take(b).skip(a) {
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
        let col = column(m.t, dt, width);
        let keep = matches!(cells[col].0, 'x' | 'K' | '!' | 'T');
        if !keep || matches!(m.kind, MarkKind::Kill | MarkKind::Rejected) {
            cells[col] = (m.kind.symbol(), None);
        }
    }
    let name = truncate(&printable(&c.name), label - 2);
    let mut spans = vec![Span::styled(
        format!(
            "{}{name:<w$}",
            if chosen { "▸" } else { " " },
            w = label - 1
        ),
        if chosen {
            th.selected()
        } else {
            ratatui::style::Style::new()
        },
    )];
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
