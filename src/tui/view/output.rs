//! The output panel: the tail of each client's output file as it grows, the chunk
//! just written highlighted with its writer's fence, and repairs as they happen.

use crate::sanitize::printable;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tui::app::App;
use crate::tui::state::ClientView;
use crate::verify::RECORD;

/// How long (scenario seconds) a repair stays flagged.
const REPAIR_FLASH: f64 = 4.0;

/// Draws the output tail of the chosen client (with a line of totals for the rest).
pub fn render(frame: &mut Frame, area: Rect, app: &App, now: f64) {
    let th = &app.theme;
    let Some(first) = app
        .state
        .clients
        .get(app.ui.client)
        .or(app.state.clients.first())
    else {
        frame.render_widget(Block::bordered().title(" output "), area);
        return;
    };
    let records = first.output.len / RECORD.len() as u64;
    let title = format!(
        " {} · {} bytes · {records} record{} ",
        printable(&first.output_path),
        first.output.len,
        if records == 1 { "" } else { "s" }
    );
    let block = Block::bordered().title(Span::styled(title, th.title()));
    let rows = area.height.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    if let Some((t, bytes, job)) = first.output.last_repair
        && now - t < REPAIR_FLASH
    {
        lines.push(Line::from(Span::styled(
            format!(
                "✂ repaired: cut {bytes} torn bytes ({})",
                if job == 0 {
                    "end-of-run recovery".to_string()
                } else {
                    format!("job {job}")
                }
            ),
            th.warn(),
        )));
    }
    let others: Vec<&ClientView> = app
        .state
        .clients
        .iter()
        .filter(|c| !std::ptr::eq(*c, first))
        .collect();
    // One line per other output while they are few; one line of totals otherwise,
    // so a hundred clients leave room for the tail.
    if others.len() <= 2 {
        for c in &others {
            lines.push(Line::from(Span::styled(
                format!("{}: {} bytes", printable(&c.output_path), c.output.len),
                th.dim(),
            )));
        }
    } else {
        let bytes = others
            .iter()
            .fold(0u64, |n, c| n.saturating_add(c.output.len));
        lines.push(Line::from(Span::styled(
            format!(
                "{} other outputs: {bytes} bytes · [ ] shows another",
                others.len()
            ),
            th.dim(),
        )));
    }
    let room = rows.saturating_sub(lines.len());
    let tail = tail_lines(first, app, room);
    lines.extend(tail);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The last `room` non-empty lines of the output, the latest chunk highlighted.
fn tail_lines<'a>(c: &ClientView, app: &App, room: usize) -> Vec<Line<'a>> {
    let th = &app.theme;
    let out = &c.output;
    let highlight = out.last_write.map(|(off, len, fence, job)| {
        let from = usize::try_from(off.saturating_sub(out.start)).unwrap_or(usize::MAX);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        (from, from.saturating_add(len), fence, job)
    });
    let mut lines: Vec<Line> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut run = String::new();
    let mut run_fresh = false;
    let flush = |spans: &mut Vec<Span<'a>>, run: &mut String, fresh: bool| {
        if !run.is_empty() {
            let style = if fresh { th.fresh() } else { Style::new() };
            spans.push(Span::styled(std::mem::take(run), style));
        }
    };
    for (i, ch) in out.text.char_indices() {
        let fresh = highlight.is_some_and(|(a, b, _, _)| i >= a && i < b);
        if ch == '\n' {
            flush(&mut spans, &mut run, run_fresh);
            if !spans.is_empty() {
                lines.push(Line::from(std::mem::take(&mut spans)));
            }
            continue;
        }
        if fresh != run_fresh {
            flush(&mut spans, &mut run, run_fresh);
            run_fresh = fresh;
        }
        // A recording may hold anything: never send a control character to the terminal.
        run.push(if ch.is_control() { '·' } else { ch });
    }
    flush(&mut spans, &mut run, run_fresh);
    let torn = !spans.is_empty();
    if torn {
        lines.push(Line::from(std::mem::take(&mut spans)));
    }
    if let Some((_, _, fence, job)) = highlight
        && let Some(last) = lines.last_mut()
    {
        last.spans.push(Span::styled(
            format!("  ← job {job}, fence {fence}"),
            th.dim(),
        ));
    }
    let skip = lines.len().saturating_sub(room);
    lines.into_iter().skip(skip).collect()
}
