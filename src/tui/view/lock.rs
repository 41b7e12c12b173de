//! The lock panel: who holds each client's lock, with which fence, and how much of
//! the lease is left since the last heartbeat.

use std::ops::Range;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::secs;
use crate::describe::short_hash;
use crate::lock::state;
use crate::sanitize::printable;
use crate::tui::app::App;
use crate::tui::state::ClientView;

/// Draws the lock panel: one client in detail, or a line per client in `window`
/// with the chosen one marked.
pub fn render(frame: &mut Frame, area: Rect, app: &App, now: f64, window: Range<usize>) {
    let th = &app.theme;
    let n = app.state.clients.len();
    let title = if n > window.len() {
        format!(
            " lock · clients {}–{} of {n} ",
            window.start + 1,
            window.end
        )
    } else {
        " lock ".to_string()
    };
    let block = Block::bordered().title(Span::styled(title, th.title()));
    let inner_width = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = if n <= 1 {
        match app.state.clients.first() {
            Some(c) => single(app, c, now, inner_width),
            None => vec![Line::from("waiting for the run to start")],
        }
    } else {
        app.state.clients[window.clone()]
            .iter()
            .enumerate()
            .map(|(i, c)| compact(app, c, now, inner_width, window.start + i == app.ui.client))
            .collect()
    };
    let rows = area.height.saturating_sub(2) as usize;
    if n > 1 && lines.len() < rows {
        lines.push(Line::from(Span::styled(
            "[ ] or a click chooses the client that c 9 s a hit",
            th.dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn holder_text(app: &App, c: &ClientView) -> String {
    match c.holder {
        None => "free".into(),
        Some(j) => {
            let hash = app
                .state
                .job(j)
                .map(|r| printable(short_hash(&r.hash)).into_owned())
                .unwrap_or_default();
            let dead = if c.holder_alive { "" } else { " DEAD" };
            format!("job {j} ({hash}){dead}")
        }
    }
}

/// The lease left since the last heartbeat, as a fraction (the lock's own rule).
fn lease_left(app: &App, c: &ClientView, now: f64) -> f64 {
    if c.holder.is_none() {
        return 0.0;
    }
    let dur = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX);
    state::lease_left(
        dur(now - c.heartbeat_at),
        dur(app.state.info.lease.max(0.001)),
    )
}

/// A draining lease is a warning; a free lock is nothing to worry about.
fn lease_style(app: &App, c: &ClientView, left: f64) -> ratatui::style::Style {
    if c.holder.is_none() {
        app.theme.dim()
    } else if left < 0.34 {
        app.theme.warn()
    } else {
        app.theme.good()
    }
}

fn bar(frac: f64, width: usize) -> String {
    let full = (frac * width as f64).round() as usize;
    format!(
        "{}{}",
        "█".repeat(full.min(width)),
        "░".repeat(width - full.min(width))
    )
}

fn single<'a>(app: &App, c: &ClientView, now: f64, width: usize) -> Vec<Line<'a>> {
    let th = &app.theme;
    let left = lease_left(app, c, now);
    let age = if c.holder.is_some() {
        now - c.heartbeat_at
    } else {
        0.0
    };
    let holder_style = if c.holder.is_some() && !c.holder_alive {
        th.warn()
    } else {
        th.good()
    };
    let bar_width = width.saturating_sub(26).clamp(5, 30);
    vec![
        Line::from(vec![
            Span::raw("holder    "),
            Span::styled(holder_text(app, c), holder_style),
            Span::raw(format!("  fence {}", c.fence)),
        ]),
        Line::from(vec![
            Span::raw("lease     "),
            Span::styled(bar(left, bar_width), lease_style(app, c, left)),
            Span::raw(format!(" {:>3.0}%", left * 100.0)),
        ]),
        Line::from(match c.holder {
            Some(_) => format!(
                "heartbeat {} ago   waiting {}",
                secs(age.max(0.0)),
                app.state.waiters(&c.name)
            ),
            None => format!("no holder   waiting {}", app.state.waiters(&c.name)),
        }),
        Line::from(format!(
            "handoffs {}   takeovers {}",
            c.handoffs, c.takeovers
        )),
    ]
}

fn compact<'a>(app: &App, c: &ClientView, now: f64, width: usize, chosen: bool) -> Line<'a> {
    let th = &app.theme;
    let left = lease_left(app, c, now);
    let bar_width = width.saturating_sub(54).clamp(3, 12);
    let dead = c.holder.is_some() && !c.holder_alive;
    let name: String = printable(&c.name).chars().take(9).collect();
    Line::from(vec![
        Span::styled(
            format!("{}{name:<9} ", if chosen { "▸" } else { " " }),
            if chosen {
                th.selected()
            } else {
                ratatui::style::Style::new()
            },
        ),
        Span::styled(
            format!("{:<21}", holder_text(app, c)),
            if dead { th.warn() } else { th.good() },
        ),
        Span::raw(format!(" f{:<4} ", c.fence)),
        Span::styled(bar(left, bar_width), lease_style(app, c, left)),
        Span::raw(format!(
            " w{} h{} t{}",
            app.state.waiters(&c.name),
            c.handoffs,
            c.takeovers
        )),
    ])
}
