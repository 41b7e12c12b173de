//! `joblock watch` in the terminal: the looks of [`look`](super::look) folded into
//! what is [`Shown`], redrawn after every look and key, until `q` or Ctrl-C.
//!
//! The key loop never touches the store: looks arrive on a channel, so a store
//! that hangs leaves the last table on screen (under a banner, once a read gives
//! up) and the keys working.

use crossbeam_channel::never;
use ratatui::crossterm::event::KeyCode;

use super::draw::draw;
use super::look::{self, Looked};
use super::state::Shown;
use super::{Options, WatchError, Watcher, open};
use crate::lock::history::now_ms;
use crate::screen::{Input, TerminalGuard, Theme, input, is_quit};
use crate::store::{StoreError, StoreUrl};

/// A live view in the terminal until `q` (or Ctrl-C).
pub fn live(url: &StoreUrl, options: &Options) -> Result<(), WatchError> {
    // Opened before the terminal is taken: a store that cannot be opened at all
    // (a typo in the URL) is one error line, as for every command.
    let store = open(url, options)?;
    let mut looks = look::spawn(Watcher::new(store, options.lease), options.interval)
        .map_err(WatchError::Thread)?;
    let keys = input::spawn();
    let signals = crate::screen::signals::spawn();
    let theme = Theme::from_env();
    let mut guard = TerminalGuard::enter().map_err(WatchError::Terminal)?;
    let title = format!(
        " joblock watch · {} · namespace {} · q quits ",
        url_text(url),
        options.namespace
    );
    let mut shown = Shown::default();
    loop {
        guard
            .terminal()
            .draw(|f| draw(f, &title, &shown, &theme))
            .map_err(WatchError::Terminal)?;
        crossbeam_channel::select! {
            recv(looks) -> l => match l {
                Ok(Looked { at_ms, result }) => shown.apply(at_ms, result),
                Err(_) => {
                    // The looking thread is gone (it panicked): say so, keep the
                    // table, and stop listening to a channel that is always ready.
                    let gone = StoreError::Unavailable("the thread reading the store ended".into());
                    shown.apply(now_ms(), Err(gone));
                    looks = never();
                }
            },
            recv(keys) -> k => match k {
                Ok(Input::Key(k)) if is_quit(k) => return Ok(()),
                Ok(Input::Key(k)) => match k.code {
                    KeyCode::Up | KeyCode::Char('k') => shown.select(-1),
                    KeyCode::Down | KeyCode::Char('j') => shown.select(1),
                    _ => {}
                },
                // Resizes need only the redraw; clicks are not asked for.
                Ok(_) => {}
                Err(_) => return Ok(()),
            },
            // SIGTERM, SIGHUP: leave as q does, restoring the terminal.
            recv(signals) -> _ => return Ok(()),
        }
    }
}

/// The store's URL as the title shows it.
fn url_text(url: &StoreUrl) -> String {
    match url {
        StoreUrl::Memory => "memory".into(),
        StoreUrl::Postgres(u) | StoreUrl::Redis(u) => u.clone(),
        StoreUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}
