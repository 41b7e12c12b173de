//! `joblock watch` in the terminal: the same looks as the text form, redrawn every
//! interval until `q`.

use ratatui::layout::Constraint;
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::{LockView, Options, WatchError, Watcher, open};
use crate::sanitize::printable;
use crate::screen::{Input, TerminalGuard, Theme, input, is_quit};
use crate::store::{StoreError, StoreUrl};

/// A live view in the terminal until `q`.
pub fn live(url: &StoreUrl, options: &Options) -> Result<(), WatchError> {
    let store = open(url, options)?;
    let mut watcher = Watcher::new(store, options.lease);
    let keys = input::spawn();
    let theme = Theme::from_env();
    let mut guard = TerminalGuard::enter().map_err(WatchError::Terminal)?;
    let ticker = crossbeam_channel::tick(options.interval);
    let mut last: Result<Vec<LockView>, StoreError> = watcher.look();
    loop {
        let views = last.as_ref().map(|v| v.as_slice());
        guard
            .terminal()
            .draw(|f| {
                let area = f.area();
                let title = format!(
                    " joblock watch · {} · namespace {} · q quits ",
                    url_text(url),
                    options.namespace
                );
                let block = Block::bordered().title(Span::styled(title, theme.title()));
                match views {
                    Ok(views) => {
                        let rows = views.iter().map(|v| {
                            Row::new(vec![
                                Cell::from(printable(&v.key).into_owned()),
                                Cell::from(printable(&v.state).into_owned()),
                                Cell::from(
                                    printable(v.owner.as_deref().unwrap_or("-")).into_owned(),
                                ),
                                Cell::from(v.fence.to_string()),
                                Cell::from(v.heartbeat.to_string()),
                                Cell::from(format!("{:.1}s", v.unchanged_for)),
                                Cell::from(v.committed.to_string()),
                                Cell::from(v.waiters.len().to_string()),
                            ])
                        });
                        let header = Row::new(vec![
                            "key",
                            "state",
                            "holder",
                            "fence",
                            "beat",
                            "still",
                            "committed",
                            "waiters",
                        ])
                        .style(theme.title());
                        let widths = [
                            Constraint::Min(20),
                            Constraint::Length(8),
                            Constraint::Length(37),
                            Constraint::Length(6),
                            Constraint::Length(6),
                            Constraint::Length(7),
                            Constraint::Length(9),
                            Constraint::Length(7),
                        ];
                        f.render_widget(Table::new(rows, widths).header(header).block(block), area);
                    }
                    Err(e) => f.render_widget(
                        Paragraph::new(format!(
                            "store trouble: {} (retrying)",
                            printable(&e.to_string())
                        ))
                        .block(block),
                        area,
                    ),
                }
            })
            .map_err(WatchError::Terminal)?;
        crossbeam_channel::select! {
            recv(ticker) -> _ => last = watcher.look(),
            recv(keys) -> k => match k {
                Ok(Input::Key(k)) if is_quit(k) => return Ok(()),
                Ok(_) => {}
                Err(_) => return Ok(()),
            },
        }
    }
}

fn url_text(url: &StoreUrl) -> String {
    match url {
        StoreUrl::Memory => "memory".into(),
        StoreUrl::Postgres(u) | StoreUrl::Redis(u) => u.clone(),
        StoreUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}
