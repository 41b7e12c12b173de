//! The jobs table. Only the rows in view are built, so thousands of jobs stay cheap;
//! columns that do not fit the width are left out, least useful first.

use crate::sanitize::printable;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};

use super::{Drawn, secs};
use crate::describe::short_hash;
use crate::tui::app::{App, Focus, SortKey};
use crate::tui::state::JobRow;

/// A table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Number,
    Hash,
    Client,
    State,
    Tries,
    Wait,
    Run,
    Chunks,
    Reason,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Number => "#",
            Col::Hash => "hash",
            Col::Client => "client",
            Col::State => "state",
            Col::Tries => "tries",
            Col::Wait => "wait",
            Col::Run => "run",
            Col::Chunks => "chunks",
            Col::Reason => "end reason",
        }
    }

    fn width(self) -> u16 {
        match self {
            Col::Number => 5,
            Col::Hash => 8,
            Col::Client => 9,
            Col::State => 10,
            Col::Tries => 5,
            Col::Wait => 6,
            Col::Run => 5,
            Col::Chunks => 6,
            Col::Reason => 14,
        }
    }

    fn sort(self) -> Option<SortKey> {
        match self {
            Col::Number => Some(SortKey::Number),
            Col::Client => Some(SortKey::Client),
            Col::State => Some(SortKey::State),
            Col::Tries => Some(SortKey::Attempts),
            Col::Wait => Some(SortKey::Wait),
            Col::Run => Some(SortKey::Run),
            Col::Chunks => Some(SortKey::Chunks),
            Col::Hash | Col::Reason => None,
        }
    }
}

/// Columns by how much they matter; the table keeps the first ones that fit.
const PRIORITY: [Col; 9] = [
    Col::Number,
    Col::State,
    Col::Chunks,
    Col::Wait,
    Col::Tries,
    Col::Run,
    Col::Reason,
    Col::Hash,
    Col::Client,
];

fn columns(width: u16, clients: usize) -> Vec<Col> {
    let mut chosen = Vec::new();
    let mut used = 0u16;
    // With several clients, which client a job belongs to matters right after its state.
    let mut priority = PRIORITY.to_vec();
    if clients > 1 {
        priority.retain(|c| *c != Col::Client);
        priority.insert(2, Col::Client);
    }
    for col in priority {
        if col == Col::Client && clients <= 1 {
            continue;
        }
        let w = col.width() + 1;
        if used + w <= width {
            used += w;
            chosen.push(col);
        }
    }
    // Show them in reading order, not priority order.
    let order = [
        Col::Number,
        Col::Hash,
        Col::Client,
        Col::State,
        Col::Tries,
        Col::Wait,
        Col::Run,
        Col::Chunks,
        Col::Reason,
    ];
    order.into_iter().filter(|c| chosen.contains(c)).collect()
}

/// Draws the table; returns its page size and first row.
pub fn render(frame: &mut Frame, area: Rect, app: &App, now: f64) -> Drawn {
    let th = &app.theme;
    let rows = app.visible_jobs(now);
    let page = area.height.saturating_sub(3) as usize;
    let selected_pos = app
        .ui
        .selected
        .and_then(|id| rows.iter().position(|i| app.state.jobs[*i].id == id));
    // Keep the selection in view, moving the window as little as possible.
    let mut offset = app.ui.offset.min(rows.len().saturating_sub(page.max(1)));
    if let Some(p) = selected_pos {
        if p < offset {
            offset = p;
        } else if page > 0 && p >= offset + page {
            offset = p + 1 - page;
        }
    }
    let cols = columns(area.width.saturating_sub(2), app.state.clients.len());
    let arrow = if app.ui.reverse { "▼" } else { "▲" };
    let header = Row::new(cols.iter().map(|c| {
        if c.sort() == Some(app.ui.sort) {
            Cell::from(format!("{}{arrow}", c.title()))
        } else {
            Cell::from(c.title())
        }
    }))
    .style(th.title());
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(page)
        .map(|(pos, i)| {
            let row = row(app, &app.state.jobs[*i], now, &cols);
            if Some(pos) == selected_pos {
                row.style(th.selected())
            } else {
                row
            }
        })
        .collect();
    let filter = match app.ui.filter {
        Some(f) => format!(" · filter: {}", f.word()),
        None => String::new(),
    };
    let search = if app.ui.search.active() {
        format!(" · search: {}", printable(&app.ui.search.query))
    } else {
        String::new()
    };
    let title = format!(
        " jobs {}/{}{filter}{search} ",
        rows.len(),
        app.state.jobs.len()
    );
    let focused = app.ui.focus == Focus::Jobs;
    let block = Block::bordered().title(Span::styled(
        title,
        if focused { th.selected() } else { th.title() },
    ));
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|c| {
            if *c == Col::Reason {
                Constraint::Min(c.width())
            } else {
                Constraint::Length(c.width())
            }
        })
        .collect();
    frame.render_widget(Table::new(body, widths).header(header).block(block), area);
    Drawn {
        page,
        offset,
        ..Drawn::default()
    }
}

fn row<'a>(app: &App, j: &JobRow, now: f64, cols: &[Col]) -> Row<'a> {
    let th = &app.theme;
    Row::new(cols.iter().map(|c| match c {
        Col::Number => Cell::from(j.id.to_string()),
        Col::Hash => Cell::from(printable(short_hash(&j.hash)).into_owned()),
        Col::Client => Cell::from(printable(&j.client).into_owned()),
        Col::State => Cell::from(Line::from(Span::styled(
            format!("{} {}", j.state.symbol(), j.state.word()),
            th.state(j.state),
        ))),
        Col::Tries => Cell::from(j.attempts.to_string()),
        Col::Wait => Cell::from(secs(j.wait_time(now))),
        Col::Run => Cell::from(secs(j.run_time(now))),
        Col::Chunks => Cell::from(format!("{}/{}", j.chunks, if j.of == 0 { 6 } else { j.of })),
        Col::Reason => Cell::from(printable(&j.reason).into_owned()),
    }))
}
