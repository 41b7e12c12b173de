//! The footer: key hints, generated from the same table as the help overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::App;
use crate::tui::keys::BINDINGS;

/// Draws the key hints that fit.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    let mut spans = Vec::new();
    let mut used = 0usize;
    for b in BINDINGS.iter().filter(|b| b.footer) {
        let short = b.help.split(" (").next().unwrap_or(b.help);
        let width = b.keys.chars().count() + short.chars().count() + 3;
        if used + width > area.width as usize {
            continue; // a shorter hint further on may still fit
        }
        used += width;
        spans.push(Span::styled(format!(" {}", b.keys), th.title()));
        spans.push(Span::raw(format!(" {short} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
