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
pub use header::fmt_speed;
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

pub use super::app::Drawn;
use super::app::{App, Areas, Overlay};

/// Smallest terminal the dashboard draws on.
pub const MIN_WIDTH: u16 = 80;
/// Smallest terminal height the dashboard draws on.
pub const MIN_HEIGHT: u16 = 24;

/// The clients the lock panel and the timeline show: a window of `rows` that
/// keeps the chosen client in view, as near the middle as the ends allow.
pub(crate) fn client_window(app: &App, rows: usize) -> std::ops::Range<usize> {
    let n = app.state.clients.len();
    let rows = rows.min(n);
    if rows == 0 {
        return 0..0;
    }
    let chosen = app.ui.client.min(n - 1);
    let first = chosen.saturating_sub(rows / 2).min(n - rows);
    first..first + rows
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App, now: f64) -> Drawn {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return Drawn::default();
    }
    let clients = app.state.clients.len().max(1);
    let many = clients.min(60) as u16;
    // One client: four lines of detail; several: a line each (scrolled past 7).
    let top = if clients <= 1 {
        6
    } else {
        (many + 3).clamp(5, 9)
    };
    let strip = (many + 3).clamp(4, 8);
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
    // The same clients in the lock panel and the timeline, so rows line up in mind.
    let lock_rows = if clients <= 1 { 0 } else { top as usize - 2 };
    let time_rows = strip as usize - 3;
    let window = client_window(
        app,
        if clients <= 1 {
            1
        } else {
            lock_rows.min(time_rows)
        },
    );

    header::render(frame, head, app, now);
    lock::render(frame, lock_area, app, now, window.clone());
    output::render(frame, output_area, app, now);
    timeline::render(frame, time_row, app, now, window.clone());
    let mut drawn = jobs::render(frame, jobs_area, app, now);
    drawn.log_page = log::render(frame, log_area, app);
    footer::render(frame, foot, app);
    drawn.areas = Areas {
        jobs: jobs_area,
        jobs_first_row: jobs_area.y + 2,
        log: log_area,
        lock: lock_area,
        lock_first_row: (clients > 1).then_some(lock_area.y + 1),
        timeline: time_row,
        timeline_first_row: time_row.y + 1,
        first_client: window.start,
        clients_shown: window.len(),
    };

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
    if !s.is_finite() || s.abs() >= 1e7 {
        // A corrupt recording's 1e300 still fits a cell.
        format!("{}s", sci(s))
    } else if s >= 100.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

/// A huge number in one-decimal scientific form, cut (not rounded) so that it
/// never reads as more than it is: f64::MAX is `1.7e308`, not an infinite `1.8e308`.
pub(crate) fn sci(s: f64) -> String {
    if !s.is_finite() {
        return format!("{s}");
    }
    let e = s.abs().log10().floor();
    let m = (s / 10f64.powf(e) * 10.0).trunc() / 10.0;
    format!("{m:.1}e{e}")
}
