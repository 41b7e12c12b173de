//! The header: what runs, how fast, for how long, and whether anything is wrong.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::secs;
use crate::tui::app::App;
use crate::tui::state::JobState;

/// Draws the one-line header.
pub fn render(frame: &mut Frame, area: Rect, app: &App, now: f64) {
    let st = &app.state;
    let th = &app.theme;
    let mut spans = vec![
        Span::styled(" joblock ", th.title()),
        Span::raw(format!(
            "{} jobs · {} client{} · {} · {}x · seed {} ",
            st.jobs.len(),
            st.clients.len(),
            if st.clients.len() == 1 { "" } else { "s" },
            if st.info.store.is_empty() {
                "memory"
            } else {
                &st.info.store
            },
            fmt_speed(st.speed),
            st.info.seed
        )),
        Span::styled(format!("t={} ", secs(now)), th.title()),
    ];
    if st.paused {
        spans.push(Span::styled(" ‖ PAUSED ", th.badge()));
        spans.push(Span::raw(" "));
    }
    if st.summary.is_some() {
        spans.push(Span::styled(" DONE ", th.badge()));
        spans.push(Span::raw(" "));
    }
    let warnings = st.warnings.len();
    spans.push(Span::styled(
        format!(
            "⚠ {warnings} warning{} ",
            if warnings == 1 { "" } else { "s" }
        ),
        if warnings > 0 { th.warn() } else { th.dim() },
    ));
    for s in [
        JobState::Running,
        JobState::Waiting,
        JobState::Finished,
        JobState::Crashed,
    ] {
        spans.push(Span::styled(
            format!("{}{} ", s.symbol(), st.count(s)),
            th.state(s),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Speed without trailing zeros: 1, 0.5, 1000.
pub fn fmt_speed(s: f64) -> String {
    let t = format!("{s:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}
