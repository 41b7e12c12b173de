//! `joblock watch` in the terminal: the same looks as the text form, redrawn every
//! interval until `q`.

use ratatui::Frame;
use ratatui::layout::Constraint;
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::{LockView, Options, WatchError, Watcher, open, process};
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
    let title = format!(
        " joblock watch · {} · namespace {} · q quits ",
        url_text(url),
        options.namespace
    );
    let mut last: Result<Vec<LockView>, StoreError> = watcher.look();
    loop {
        let views = last.as_ref().map(|v| v.as_slice());
        guard
            .terminal()
            .draw(|f| draw(f, &title, views, &theme))
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

/// One frame: the table of locks, or the store's trouble. A `process` column
/// (host, pid, command) is added only when some holder is a `joblock run` wrapper.
fn draw(f: &mut Frame, title: &str, views: Result<&[LockView], &StoreError>, theme: &Theme) {
    let area = f.area();
    let block = Block::bordered().title(Span::styled(title.to_string(), theme.title()));
    let views = match views {
        Ok(views) => views,
        Err(e) => {
            let text = format!("store trouble: {} (retrying)", printable(&e.to_string()));
            f.render_widget(Paragraph::new(text).block(block), area);
            return;
        }
    };
    let processes = views.iter().any(|v| v.holder.is_some());
    let rows = views.iter().map(|v| {
        let mut cells = vec![
            Cell::from(printable(&v.key).into_owned()),
            Cell::from(printable(&v.state).into_owned()),
            Cell::from(printable(v.owner.as_deref().unwrap_or("-")).into_owned()),
            Cell::from(v.fence.to_string()),
            Cell::from(v.heartbeat.to_string()),
            Cell::from(format!("{:.1}s", v.unchanged_for)),
            Cell::from(v.committed.to_string()),
            Cell::from(v.waiters.len().to_string()),
        ];
        if processes {
            cells.push(Cell::from(v.holder.as_ref().map_or("-".into(), process)));
        }
        Row::new(cells)
    });
    let mut header = vec![
        "key",
        "state",
        "holder",
        "fence",
        "beat",
        "still",
        "committed",
        "waiters",
    ];
    let mut widths = vec![
        Constraint::Min(20),
        Constraint::Length(8),
        Constraint::Length(37),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(7),
    ];
    if processes {
        header.push("process");
        widths.push(Constraint::Min(20));
    }
    let header = Row::new(header).style(theme.title());
    f.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn url_text(url: &StoreUrl) -> String {
    match url {
        StoreUrl::Memory => "memory".into(),
        StoreUrl::Postgres(u) | StoreUrl::Redis(u) => u.clone(),
        StoreUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Holder;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn view(key: &str, holder: Option<Holder>) -> LockView {
        LockView {
            key: key.into(),
            owner: Some("run-1".into()),
            holder,
            lease_ms: Some(30_000),
            fence: 3,
            heartbeat: 9,
            committed: 0,
            unchanged_for: 0.0,
            state: "held".into(),
            waiters: vec![],
        }
    }

    fn screen(views: &[LockView]) -> String {
        let mut terminal = Terminal::new(TestBackend::new(160, 6)).unwrap();
        terminal
            .draw(|f| draw(f, " t ", Ok(views), &Theme::mono()))
            .unwrap();
        let buffer = terminal.backend().buffer();
        let width = buffer.area.width as usize;
        let cells: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
        cells
            .chunks(width)
            .map(|row| row.concat())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_wrapper_holder_shows_its_host_pid_and_command() {
        let h = Holder {
            owner: "run-1".into(),
            host: "box-7".into(),
            pid: 4242,
            command: vec!["python".into(), "etl.py".into()],
            job: None,
            started_at_ms: 0,
        };
        let text = screen(&[view("lock:a", Some(h)), view("lock:b", None)]);
        assert!(text.contains("process"), "{text}");
        assert!(text.contains("box-7 pid 4242: python etl.py"), "{text}");
    }

    #[test]
    fn demo_holders_alone_get_no_process_column() {
        let text = screen(&[view("lock:b", None)]);
        assert!(!text.contains("process"), "{text}");
        assert!(text.contains("run-1"), "{text}");
    }
}
