//! `joblock locks list`: one row per lock key, from one look at the store or two
//! `--sample` apart (two looks can bound the lease left; one cannot).

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::lease::{Earlier, LeaseLeft, Span};
use super::table::write_table;
use super::{KeyView, LocksError};
use crate::lock::state::recorded_real_lease;
use crate::lock::{Holder, LockDoc, Survey, survey};
use crate::store::Store;

/// One lock key as `locks list` shows it. The JSON field names are an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Key, state, owner, holder, fence, heartbeat and lease.
    #[serde(flatten)]
    pub lock: KeyView,
    /// What the look(s) say of the lease left (`null` when free or unknown).
    pub lease_left: Option<LeaseLeft>,
    /// The owners of the waiters announced for this key (a waiter that died may
    /// leave its announcement behind until it is cleaned up).
    pub waiters: Vec<String>,
}

/// One read of every lock document and announcement, and when it was taken.
#[derive(Debug, Clone)]
pub struct Look {
    /// What the read returned.
    pub survey: Survey,
    /// When it was sent and answered.
    pub span: Span,
}

impl Look {
    /// Reads the store once.
    pub fn take(store: &dyn Store) -> Result<Look, LocksError> {
        let started = Instant::now();
        let survey = survey(store)?;
        let ended = Instant::now();
        Ok(Look {
            survey,
            span: Span { started, ended },
        })
    }
}

/// Every lock key of `store`, sorted; with a non-zero `sample`, two looks that far
/// apart.
pub fn list(store: &dyn Store, sample: Duration) -> Result<Vec<Row>, LocksError> {
    let first = Look::take(store)?;
    if sample.is_zero() {
        return Ok(rows(None, &first));
    }
    std::thread::sleep(sample);
    let last = Look::take(store)?;
    Ok(rows(Some(&first), &last))
}

/// The rows of the look `last`, its leases bounded with the help of `earlier`.
pub fn rows(earlier: Option<&Look>, last: &Look) -> Vec<Row> {
    let before: HashMap<&str, (u64, u64)> = earlier
        .map(|e| {
            e.survey
                .locks
                .iter()
                .map(|d| (d.key.as_str(), (d.fence, d.heartbeat)))
                .collect()
        })
        .unwrap_or_default();
    let mut waiters: HashMap<&str, Vec<String>> = HashMap::new();
    for w in &last.survey.waiters {
        waiters.entry(&w.key).or_default().push(w.owner.clone());
    }
    let mut rows: Vec<Row> = last
        .survey
        .locks
        .iter()
        .map(|doc| {
            let seen = earlier.map(|e| Earlier {
                span: e.span,
                moved: before.get(doc.key.as_str()) != Some(&(doc.fence, doc.heartbeat)),
            });
            let mut w = waiters.remove(doc.key.as_str()).unwrap_or_default();
            w.sort();
            Row {
                lock: KeyView::of(doc),
                lease_left: lease_left(doc, last.span, seen),
                waiters: w,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.lock.key.cmp(&b.lock.key));
    rows
}

/// The bounds on a held lock's lease left, if its holder recorded its lease.
fn lease_left(doc: &LockDoc, last: Span, earlier: Option<Earlier>) -> Option<LeaseLeft> {
    let lease = recorded_real_lease(doc).filter(|_| doc.owner.is_some())?;
    Some(LeaseLeft::judge(lease, last, earlier))
}

/// The rows as an aligned table, one line per key (`no locks` when there are none).
pub fn write_list(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no locks");
    }
    let dash = || "-".to_string();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (l, h) = (&r.lock, r.lock.holder.as_ref());
            vec![
                l.key.clone(),
                l.state.name().to_string(),
                l.fence.to_string(),
                l.owner.clone().unwrap_or_else(dash),
                h.map_or_else(dash, |h| h.host.clone()),
                h.map_or_else(dash, |h| h.pid.to_string()),
                r.lease_left.map_or_else(dash, |l| l.text()),
                waiters_text(&r.waiters),
                h.map_or_else(dash, Holder::what),
            ]
        })
        .collect();
    write_table(
        out,
        &[
            "key",
            "state",
            "fence",
            "owner",
            "host",
            "pid",
            "lease left",
            "waiters",
            "command",
        ],
        &cells,
    )
}

/// `0`, or the count and the owners: `2 (w-1, w-2)`.
fn waiters_text(waiters: &[String]) -> String {
    match waiters.len() {
        0 => "0".to_string(),
        n => format!("{n} ({})", waiters.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::state::Announcement;

    fn doc(key: &str, owner: Option<&str>, heartbeat: u64) -> LockDoc {
        LockDoc {
            owner: owner.map(str::to_string),
            fence: 3,
            heartbeat,
            lease_ms: Some(30_000),
            ..LockDoc::free(key)
        }
    }

    fn look(t0: Instant, at_ms: u64, locks: Vec<LockDoc>) -> Look {
        let at = t0 + Duration::from_millis(at_ms);
        Look {
            survey: Survey {
                locks,
                history: vec![],
                waiters: vec![Announcement {
                    id: "wait:lock:b:w-1".into(),
                    key: "lock:b".into(),
                    owner: "w-1".into(),
                    touched: 1,
                }],
            },
            span: Span {
                started: at,
                ended: at,
            },
        }
    }

    #[test]
    fn rows_are_sorted_and_carry_their_waiters_and_lease_bounds() {
        let t0 = Instant::now();
        let first = look(t0, 0, vec![doc("lock:b", Some("o"), 1)]);
        let last = look(
            t0,
            1000,
            vec![doc("lock:b", Some("o"), 1), doc("lock:a", None, 0)],
        );
        let rows = rows(Some(&first), &last);
        assert_eq!(rows[0].lock.key, "a");
        assert_eq!(rows[0].lock.state, crate::locks::KeyState::Free);
        assert_eq!((rows[0].lock.lease_ms, rows[0].lease_left), (None, None));
        assert_eq!(rows[1].waiters, vec!["w-1".to_string()]);
        let left = rows[1].lease_left.unwrap();
        assert_eq!(left.heartbeat_moved, Some(false));
        assert_eq!(left.at_most_ms, 29_000);
        let mut out = Vec::new();
        write_list(&rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("1 (w-1)"), "{text}");
        assert!(text.contains("still 1.0s, <=29.0s"), "{text}");
    }

    #[test]
    fn a_key_the_first_look_did_not_see_counts_as_moved() {
        let t0 = Instant::now();
        let first = look(t0, 0, vec![]);
        let last = look(t0, 1000, vec![doc("lock:b", Some("o"), 1)]);
        let left = rows(Some(&first), &last)[0].lease_left.unwrap();
        assert_eq!(left.heartbeat_moved, Some(true));
        assert_eq!(left.at_least_ms, Some(29_000));
    }

    #[test]
    fn an_empty_store_says_no_locks() {
        let mut out = Vec::new();
        write_list(&[], &mut out).unwrap();
        assert_eq!(out, b"no locks\n");
    }
}
