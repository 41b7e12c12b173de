//! `joblock watch`: the locks in a store, whoever runs their workers.
//!
//! The watcher only reads, with the same exact-match operations the lock uses plus a
//! `find_many({})` to list documents. It judges a lease the way a waiter does: by
//! how long the (fence, heartbeat) pair has stood still on its *own* clock, never by
//! comparing timestamps written by other machines.

use crate::sanitize::printable;
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ratatui::layout::Constraint;
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use serde::Serialize;
use serde_json::{Value, json};

use crate::lock::LockDoc;
use crate::store::{Store, StoreError, StoreUrl, open_store_read_only};
use crate::tui::input::{self, Input};
use crate::tui::keys::{Action, action_for};
use crate::tui::term::TerminalGuard;
use crate::tui::theme::Theme;

/// How to watch.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workers' namespace.
    pub namespace: String,
    /// Time between two looks.
    pub interval: Duration,
    /// The workers' lease, to tell a live holder from a silent one.
    pub lease: Duration,
}

/// One lock key as the watcher sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockView {
    /// The lock key.
    pub key: String,
    /// Holder id, if held.
    pub owner: Option<String>,
    /// Fence of the latest acquisition.
    pub fence: u64,
    /// The holder's heartbeat counter.
    pub heartbeat: u64,
    /// Output bytes committed by finished holders.
    pub committed: u64,
    /// Seconds the (fence, heartbeat) pair has stood still, as far as this watcher saw.
    pub unchanged_for: f64,
    /// `free`, `held` (heartbeat moving), `silent` (still for a while) or
    /// `expired` (still for a whole lease: a waiter may take it over).
    pub state: String,
    /// Waiters that announced themselves (worker processes do).
    pub waiters: Vec<String>,
}

/// Remembers when each key's (fence, heartbeat) last changed.
pub struct Watcher {
    store: Arc<dyn Store>,
    lease: Duration,
    seen: HashMap<String, (u64, u64, Instant)>,
    /// Per waiter announcement: its `touched` counter and when it last moved.
    waiter_seen: HashMap<String, (u64, Instant)>,
}

impl Watcher {
    /// A watcher on `store`.
    pub fn new(store: Arc<dyn Store>, lease: Duration) -> Watcher {
        Watcher {
            store,
            lease,
            seen: HashMap::new(),
            waiter_seen: HashMap::new(),
        }
    }

    /// Reads every lock document once.
    pub fn look(&mut self) -> Result<Vec<LockView>, StoreError> {
        let docs = self.store.find_many(&json!({}))?;
        let now = Instant::now();
        let mut waiters: HashMap<String, Vec<String>> = HashMap::new();
        for d in &docs {
            let (Some(id), Some(key), Some(owner)) = (
                d.get("_id").and_then(Value::as_str),
                d.get("key").and_then(Value::as_str),
                d.get("owner").and_then(Value::as_str),
            ) else {
                continue;
            };
            if !id.starts_with("wait:") {
                continue;
            }
            // A waiter that died leaves its announcement behind: count it only while
            // its `touched` counter keeps moving.
            let touched = d.get("touched").and_then(Value::as_u64).unwrap_or(0);
            let e = self
                .waiter_seen
                .entry(id.to_string())
                .or_insert((touched, now));
            if e.0 != touched {
                *e = (touched, now);
            }
            if now - e.1 < self.lease * 2 {
                waiters
                    .entry(key.to_string())
                    .or_default()
                    .push(owner.to_string());
            }
        }
        let mut views = Vec::new();
        for d in &docs {
            let is_lock = d
                .get("_id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.starts_with("lock:"));
            if !is_lock {
                continue;
            }
            let Ok(doc) = LockDoc::from_value(d) else {
                continue;
            };
            let entry = self
                .seen
                .entry(doc.key.clone())
                .or_insert((doc.fence, doc.heartbeat, now));
            if (entry.0, entry.1) != (doc.fence, doc.heartbeat) {
                *entry = (doc.fence, doc.heartbeat, now);
            }
            let still = now - entry.2;
            let state = match &doc.owner {
                None => "free",
                Some(_) if still >= self.lease => "expired",
                Some(_) if still >= self.lease / 2 => "silent",
                Some(_) => "held",
            };
            views.push(LockView {
                waiters: waiters.remove(&doc.key).unwrap_or_default(),
                key: doc.key,
                owner: doc.owner,
                fence: doc.fence,
                heartbeat: doc.heartbeat,
                committed: doc.committed,
                unchanged_for: still.as_secs_f64(),
                state: state.to_string(),
            });
        }
        views.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(views)
    }
}

/// Opens the store read-only: watching creates nothing (a namespace with no table
/// yet reads as empty) and can write nothing.
fn open(url: &StoreUrl, options: &Options) -> Result<Arc<dyn Store>, StoreError> {
    open_store_read_only(url, &options.namespace)
}

/// Looks twice, a third of a lease apart, so a live heartbeat can be told from a
/// silent one; returns the second look.
pub fn once(url: &StoreUrl, options: &Options) -> Result<Vec<LockView>, StoreError> {
    let mut w = Watcher::new(open(url, options)?, options.lease);
    w.look()?;
    thread::sleep(options.lease / 3 + Duration::from_millis(50));
    w.look()
}

/// The text form of a look, one line per lock key. An empty or absent namespace
/// is named, so that a mistyped `--namespace` shows.
pub fn write_text(views: &[LockView], namespace: &str, out: &mut dyn Write) -> io::Result<()> {
    if views.is_empty() {
        return writeln!(out, "no locks yet in namespace {}", printable(namespace));
    }
    writeln!(
        out,
        "{:<28} {:<9} {:<38} {:>6} {:>9} {:>9} {:>9}  waiters",
        "key", "state", "holder", "fence", "heartbeat", "still", "committed"
    )?;
    for v in views {
        writeln!(
            out,
            "{:<28} {:<9} {:<38} {:>6} {:>9} {:>8.1}s {:>9}  {}",
            printable(&v.key),
            printable(&v.state),
            printable(v.owner.as_deref().unwrap_or("-")),
            v.fence,
            v.heartbeat,
            v.unchanged_for,
            v.committed,
            v.waiters.len()
        )?;
    }
    Ok(())
}

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
                Ok(Input::Key(k)) if action_for(k) == Some(Action::Quit) => return Ok(()),
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
    }
}

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Terminal(io::Error),
}
