//! The event log: the latest events, newest first, scrollable.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::tui::app::{App, Focus};

/// Draws the log panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    let focused = app.ui.focus == Focus::Log;
    let title = if app.ui.log_scroll > 0 {
        format!(" events (scrolled {}) ", app.ui.log_scroll)
    } else {
        " events ".to_string()
    };
    let block = Block::bordered().title(Span::styled(
        title,
        if focused { th.selected() } else { th.title() },
    ));
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .state
        .log
        .iter()
        .rev()
        .skip(app.ui.log_scroll)
        .take(rows)
        .map(|l| {
            Line::from(vec![
                Span::styled(format!("{:>7.1} ", l.t), th.dim()),
                Span::styled(l.text.clone(), th.level(l.level)),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
