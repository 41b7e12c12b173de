//! Drawing: a pure function of the app's state, the view state and `now`.
//!
//! ```text
//! header ─────────────────────────────────────────────
//! lock panel            │ output tail
//! timeline (one strip per client) ────────────────────
//! jobs table                         │ event log
//! footer (key hints from the key table) ──────────────
//! ```

mod footer;
mod header;
mod jobs;
mod lock;
mod log;
mod output;
mod overlay;
mod timeline;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::app::{App, Overlay};

/// Smallest terminal the dashboard draws on.
pub const MIN_WIDTH: u16 = 80;
/// Smallest terminal height the dashboard draws on.
pub const MIN_HEIGHT: u16 = 24;

/// What drawing learned that the view state needs next time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drawn {
    /// Rows the jobs table had room for.
    pub page: usize,
    /// First row it showed.
    pub offset: usize,
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App, now: f64) -> Drawn {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return Drawn::default();
    }
    let clients = app.state.clients.len().max(1) as u16;
    // One client: four lines of detail; several: a line each.
    let top = if clients <= 1 {
        6
    } else {
        (clients + 3).clamp(5, 9)
    };
    let strip = (clients + 3).clamp(4, 8);
    let [head, top_row, time_row, bottom, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(top),
        Constraint::Length(strip),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    let [lock_area, output_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top_row);
    let [jobs_area, log_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(bottom);

    header::render(frame, head, app, now);
    lock::render(frame, lock_area, app, now);
    output::render(frame, output_area, app, now);
    timeline::render(frame, time_row, app, now);
    let drawn = jobs::render(frame, jobs_area, app, now);
    log::render(frame, log_area, app);
    footer::render(frame, foot, app);

    match app.ui.overlay {
        Overlay::None => {}
        Overlay::Help => overlay::help(frame, area, app),
        Overlay::Detail(job) => overlay::detail(frame, area, app, job, now),
        Overlay::Summary => overlay::summary(frame, area, app),
    }
    drawn
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from(format!(
            "terminal too small: need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
            area.width, area.height
        )),
        Line::from("enlarge the window, or press q to quit"),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::new()),
        area,
    );
}

/// A rectangle of `w` x `h` centred in `area` (clipped to it).
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Seconds as a short human string.
pub(crate) fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}
