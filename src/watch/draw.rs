//! One frame of the live view, a pure function of what is shown: a banner while
//! the store is unreachable, a line per output out of step with its lock, the
//! table of keys (the selected one highlighted) and the selected key's history
//! below it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::state::Shown;
use super::{HistoryLine, LockView, output_note, process};
use crate::lock::wall::time_utc;
use crate::sanitize::printable;
use crate::screen::Theme;

/// History lines the panel has room for (it shows the newest).
const HISTORY_ROWS: u16 = 8;

/// Lines the outputs out of step may take above the table (then "and N more").
const OUTPUT_ROWS: usize = 3;

/// Draws `shown` under `title`.
pub(super) fn draw(f: &mut Frame, title: &str, shown: &Shown, theme: &Theme) {
    let mut top_lines: Vec<String> = banner(shown).into_iter().collect();
    top_lines.extend(output_lines(shown));
    let [top, table, history] = Layout::vertical([
        Constraint::Length(u16::try_from(top_lines.len()).unwrap_or(u16::MAX)),
        Constraint::Min(4),
        Constraint::Length(HISTORY_ROWS + 3),
    ])
    .areas(f.area());
    if !top_lines.is_empty() {
        let lines: Vec<Line> = top_lines.into_iter().map(Line::from).collect();
        f.render_widget(Paragraph::new(lines).style(theme.warn()), top);
    }
    draw_table(f, table, title, shown, theme);
    draw_history(f, history, shown.selected_view(), theme);
}

/// What the line above the table says: the store's trouble, or that nothing has
/// been read yet; nothing when all is well.
fn banner(shown: &Shown) -> Option<String> {
    if let Some(t) = &shown.trouble {
        let kept = match shown.looked_ms {
            Some(ms) => format!("showing the last table, from {} UTC", time_utc(ms)),
            None => "nothing read yet".to_string(),
        };
        let text = format!(
            "store unreachable since {} UTC: {} (retrying; {kept})",
            time_utc(t.since_ms),
            t.error
        );
        return Some(printable(&text).into_owned());
    }
    shown
        .looked_ms
        .is_none()
        .then(|| "reading the store...".to_string())
}

/// One line per key whose output disagrees with its document, at most
/// [`OUTPUT_ROWS`], the worst (out of step, unreadable) first.
fn output_lines(shown: &Shown) -> Vec<String> {
    let mut notes: Vec<(bool, String)> = shown
        .views
        .iter()
        .filter_map(|v| {
            let trouble = v.output.as_ref().is_some_and(|o| o.is_trouble());
            output_note(v).map(|n| (!trouble, n))
        })
        .collect();
    notes.sort_by_key(|(later, _)| *later);
    let more = notes.len().saturating_sub(OUTPUT_ROWS);
    let mut lines: Vec<String> = notes
        .into_iter()
        .take(OUTPUT_ROWS)
        .map(|(_, n)| format!("⚠ {n}"))
        .collect();
    if more > 0 {
        lines.push(format!(
            "⚠ and {more} more (joblock watch --once lists them all)"
        ));
    }
    lines
}

fn draw_table(f: &mut Frame, area: Rect, title: &str, shown: &Shown, theme: &Theme) {
    let block = Block::bordered().title(Span::styled(title.to_string(), theme.title()));
    if shown.views.is_empty() && shown.looked_ms.is_some() {
        let text = "no locks yet in this namespace";
        f.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let rows = shown.views.iter().map(row);
    let header = [
        "key",
        "state",
        "holder",
        "fence",
        "beat",
        "still",
        "lease",
        "committed",
        "waiters",
    ];
    let widths = [
        Constraint::Min(20),
        Constraint::Length(8),
        Constraint::Min(30),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(7),
    ];
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title()))
        .row_highlight_style(theme.selected())
        // Seen without colours too (NO_COLOR, a test terminal).
        .highlight_symbol("> ")
        .block(block);
    let mut state = TableState::default().with_selected(shown.selected());
    f.render_stateful_widget(table, area, &mut state);
}

/// One key's row; the holder is who it is when it says (`job 7 · host box-1 pid
/// 4242`), its owner id otherwise.
fn row(v: &LockView) -> Row<'static> {
    let holder = match (&v.holder, &v.owner) {
        (Some(h), _) => process(h),
        (None, Some(o)) => printable(o).into_owned(),
        (None, None) => "-".to_string(),
    };
    let lease = v
        .lease_real_ms
        .map_or("-".to_string(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
    Row::new([
        Cell::from(printable(&v.key).into_owned()),
        Cell::from(printable(&v.state).into_owned()),
        Cell::from(holder),
        Cell::from(v.fence.to_string()),
        Cell::from(v.heartbeat.to_string()),
        Cell::from(format!("{:.1}s", v.unchanged_for)),
        Cell::from(lease),
        Cell::from(v.committed.to_string()),
        Cell::from(v.waiters.len().to_string()),
    ])
}

fn draw_history(f: &mut Frame, area: Rect, view: Option<&LockView>, theme: &Theme) {
    let title = match view {
        Some(v) => format!(
            " history of {} · newest first · ↑/↓ or j/k selects ",
            printable(&v.key)
        ),
        None => " history ".to_string(),
    };
    let block = Block::bordered().title(Span::styled(title, theme.title()));
    let lines = view.map_or(&[][..], |v| v.history.as_slice());
    if lines.is_empty() {
        let text = Line::styled(
            "no acquisition recorded or seen yet (joblock run records its own; watch adds the changes it sees)",
            theme.dim(),
        );
        f.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let rows = lines
        .iter()
        .rev()
        .take(usize::from(HISTORY_ROWS))
        .map(history_row);
    let widths = [
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(22),
        Constraint::Min(30),
        Constraint::Length(9),
        Constraint::Length(7),
    ];
    let header =
        Row::new(["fence", "when", "how", "holder", "ended", "source"]).style(theme.title());
    f.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn history_row(l: &HistoryLine) -> Row<'static> {
    let how = match l.from_fence {
        Some(from) => format!("{} from {from}", l.how),
        None => l.how.clone(),
    };
    let who = l
        .holder
        .as_ref()
        .map_or_else(|| l.owner.clone(), |h| h.describe());
    Row::new([
        Cell::from(l.fence.to_string()),
        Cell::from(time_utc(l.at_ms)),
        Cell::from(printable(&how).into_owned()),
        Cell::from(printable(&who).into_owned()),
        Cell::from(printable(l.ended.as_deref().unwrap_or("-")).into_owned()),
        Cell::from(printable(&l.source).into_owned()),
    ])
}

#[cfg(test)]
mod tests;
