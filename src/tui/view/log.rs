//! The event log: the latest events, newest first, scrollable. Scrolled back, it
//! holds still while new lines arrive (the app keeps the offset in step).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::sanitize::printable;
use crate::tui::app::{App, Focus};

/// Draws the log panel; returns how many events it showed (a page).
pub fn render(frame: &mut Frame, area: Rect, app: &App) -> usize {
    let th = &app.theme;
    let focused = app.ui.focus == Focus::Log;
    let title = if app.ui.log_scroll > 0 {
        format!(" events · {} newer above · g follows ", app.ui.log_scroll)
    } else {
        " events ".to_string()
    };
    let block = Block::bordered().title(Span::styled(
        title,
        if focused { th.selected() } else { th.title() },
    ));
    let rows = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2).max(1) as usize;
    // Long lines wrap; a page is as many events as fit, so PgDn moves by what
    // was on screen, no more.
    let mut used = 0usize;
    let mut lines: Vec<Line> = Vec::new();
    for l in app
        .state
        .log
        .iter()
        .rev()
        .filter(|l| app.ui.search.matches_line(l))
        .skip(app.ui.log_scroll)
    {
        let stamp = format!("{:>7} ", stamp(l.t));
        let text = printable(&l.text).into_owned();
        let height = (stamp.chars().count() + text.chars().count()).div_ceil(width);
        if used + height > rows && !lines.is_empty() {
            break;
        }
        used += height;
        lines.push(Line::from(vec![
            Span::styled(stamp, th.dim()),
            Span::styled(text, th.level(l.level)),
        ]));
        if used >= rows {
            break;
        }
    }
    let shown = lines.len();
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
    shown.max(1)
}

fn stamp(t: f64) -> String {
    if t.abs() < 1e6 {
        format!("{t:.1}")
    } else {
        format!("{t:.0e}")
    }
}
