//! The footer: the search box while it is open, else the answer to the last key,
//! else key hints from the same table as the help overlay. Hints that do not fit
//! are dropped, and `? help` (which lists them all) is always kept.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::sanitize::printable;
use crate::tui::app::App;
use crate::tui::keys::{Action, BINDINGS};

/// Draws the footer.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    let search = &app.ui.search;
    if search.editing {
        let line = Line::from(vec![
            Span::styled(" / ", th.title()),
            Span::raw(printable(&search.query).into_owned()),
            Span::styled("█", th.dim()),
            Span::styled("   Enter keeps · Esc clears", th.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let mut spans = Vec::new();
    let mut width = area.width as usize;
    if let Some(notice) = &app.ui.notice {
        let text = format!(" {} ", printable(notice));
        width = width.saturating_sub(text.chars().count());
        spans.push(Span::styled(text, th.warn()));
    } else if search.active() {
        let text = format!(" search: {} (Esc clears) ", printable(&search.query));
        width = width.saturating_sub(text.chars().count());
        spans.push(Span::styled(text, th.badge()));
    }
    spans.extend(hints(app, width));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The hints of this mode that fit `width`, `? help` first among what is dropped
/// last, with a `…` when some did not fit.
fn hints<'a>(app: &App, width: usize) -> Vec<Span<'a>> {
    let th = &app.theme;
    let shown: Vec<_> = BINDINGS
        .iter()
        .filter(|b| b.footer && b.mode.applies(app.replay))
        .collect();
    let text = |b: &crate::tui::keys::Binding| {
        let short = b.help.split(" (").next().unwrap_or(b.help);
        (b.keys, short.to_string())
    };
    let cost = |keys: &str, short: &str| keys.chars().count() + short.chars().count() + 3;
    // Room for the help hint is set aside first: it is the way to the rest.
    let help = shown.iter().find(|b| b.action == Action::Help);
    let reserve = help.map_or(0, |b| {
        let (k, s) = text(b);
        cost(k, &s) + 2
    });
    let mut used = 0usize;
    let mut spans = Vec::new();
    let mut dropped = false;
    for b in shown.iter().filter(|b| b.action != Action::Help) {
        let (keys, short) = text(b);
        let w = cost(keys, &short);
        if used + w + reserve > width {
            dropped = true;
            continue; // a shorter hint further on may still fit
        }
        used += w;
        spans.push(Span::styled(format!(" {keys}"), th.title()));
        spans.push(Span::raw(format!(" {short} ")));
    }
    if let Some(b) = help
        && used + reserve <= width
    {
        let (keys, short) = text(b);
        spans.push(Span::styled(format!(" {keys}"), th.title()));
        let more = if dropped { " …" } else { "" };
        spans.push(Span::raw(format!(" {short}{more} ")));
    }
    spans
}
