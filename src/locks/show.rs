//! `joblock locks show KEY`: one key's document in detail, its announced waiters
//! and its recent history (what `joblock run` recorded of each acquisition).

use std::io::{self, Write};

use serde::Serialize;

use super::lease::secs;
use super::table::write_table;
use super::{KeyView, LocksError, lock_id};
use crate::lock::history::{self, Entry, HISTORY_SLOTS};
use crate::lock::wall::iso_utc;
use crate::lock::{Holder, LockDoc, read_doc, survey};
use crate::sanitize::printable;
use crate::store::Store;

/// One key in detail. The JSON field names are an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// Key, state, owner, holder, fence, heartbeat and lease.
    #[serde(flatten)]
    pub lock: KeyView,
    /// Output bytes committed by finished holders.
    pub committed: u64,
    /// The output the lock commits to, if bound.
    pub output: Option<BoundOutput>,
    /// The document's incarnation id.
    pub incarnation: Option<String>,
    /// The owners of the announced waiters.
    pub waiters: Vec<String>,
    /// The recorded acquisitions, oldest (lowest fence) first.
    pub history: Vec<Entry>,
}

/// The output a lock commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundOutput {
    /// The output's id.
    pub id: String,
    /// Its path when it was bound.
    pub path: String,
}

/// The detail of `key` (named without the `lock:` prefix).
pub fn show(store: &dyn Store, key: &str) -> Result<Detail, LocksError> {
    let id = lock_id(key);
    let doc = read_doc(store, &id)?.ok_or_else(|| LocksError::NoSuchLock(key.to_string()))?;
    let mut waiters: Vec<String> = survey(store)?
        .waiters
        .into_iter()
        .filter(|w| w.key == id)
        .map(|w| w.owner)
        .collect();
    waiters.sort();
    let history = history::read(store, &id)?;
    Ok(detail(&doc, waiters, history))
}

fn detail(doc: &LockDoc, waiters: Vec<String>, history: Vec<Entry>) -> Detail {
    Detail {
        lock: KeyView::of(doc),
        committed: doc.committed,
        output: doc.output.as_ref().map(|b| BoundOutput {
            id: b.id.clone(),
            path: b.path.clone(),
        }),
        incarnation: doc.incarnation.clone(),
        waiters,
        history,
    }
}

/// The detail as text: the document, then the history as a table.
pub fn write_detail(d: &Detail, out: &mut dyn Write) -> io::Result<()> {
    let l = &d.lock;
    let by = l
        .owner
        .as_deref()
        .map_or(String::new(), |o| format!(" by {o}"));
    let line = format!("{}: {} at fence {}{by}", l.key, l.state.name(), l.fence);
    writeln!(out, "{}", printable(&line))?;
    let mut field = |name: &str, value: String| writeln!(out, "  {name:<10} {}", printable(&value));
    if let Some(h) = &l.holder {
        field(
            "holder",
            format!(
                "{} pid {}, since {}",
                h.host,
                h.pid,
                iso_utc(h.started_at_ms)
            ),
        )?;
        match h.job {
            Some(n) => field("job", n.to_string())?,
            None => field("command", h.command_line())?,
        }
    }
    field("heartbeat", l.heartbeat.to_string())?;
    if let Some(ms) = l.lease_real_ms {
        let note = "at most that is left; `joblock locks list --sample SECS` bounds it";
        field("lease", format!("{} ({note})", secs(ms)))?;
    }
    let output = d
        .output
        .as_ref()
        .map_or(String::new(), |o| format!(" of {}", o.path));
    field("committed", format!("{} bytes{output}", d.committed))?;
    let waiters = match d.waiters.len() {
        0 => "none announced".to_string(),
        n => format!("{n} ({})", d.waiters.join(", ")),
    };
    field("waiters", waiters)?;
    writeln!(out)?;
    if d.history.is_empty() {
        return writeln!(
            out,
            "no history recorded (only joblock run records its acquisitions)"
        );
    }
    writeln!(
        out,
        "history, oldest first (at most the last {HISTORY_SLOTS} acquisitions):"
    )?;
    let rows: Vec<Vec<String>> = d.history.iter().map(|e| history_row(d, e)).collect();
    write_table(
        out,
        &[
            "fence", "owner", "host", "pid", "via", "acquired", "ended", "ended at", "exit",
            "command",
        ],
        &rows,
    )
}

/// One acquisition as table cells.
fn history_row(d: &Detail, e: &Entry) -> Vec<String> {
    let dash = || "-".to_string();
    let h = e.holder.as_ref();
    let via = match (e.via.as_str(), e.from_fence) {
        ("takeover", Some(f)) => format!("takeover from fence {f}"),
        (via, _) => via.to_string(),
    };
    // No end recorded: still holding if the document says so, else unknown (an
    // end that was never written, or a wrapper that died).
    let holding = e.fence == d.lock.fence && d.lock.owner.as_deref() == Some(e.owner.as_str());
    let ended = match &e.ended {
        Some(how) => how.clone(),
        None if holding => "holding".to_string(),
        None => dash(),
    };
    vec![
        e.fence.to_string(),
        e.owner.clone(),
        h.map_or_else(dash, |h| h.host.clone()),
        h.map_or_else(dash, |h| h.pid.to_string()),
        via,
        iso_utc(e.acquired_at_ms),
        ended,
        e.ended_at_ms.map_or_else(dash, iso_utc),
        e.exit.clone().unwrap_or_else(dash),
        h.map_or_else(dash, Holder::what),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fence: u64, via: &str, ended: Option<&str>) -> Entry {
        Entry {
            key: "lock:w:a".into(),
            fence,
            owner: format!("run-{fence}"),
            holder: None,
            via: via.into(),
            from_fence: (via == "takeover").then(|| fence - 1),
            acquired_at_ms: 1_700_000_000_000,
            ended: ended.map(str::to_string),
            ended_at_ms: ended.map(|_| 1_700_000_001_000),
            exit: ended.map(|_| "exit 0".to_string()),
        }
    }

    #[test]
    fn the_history_shows_how_each_acquisition_came_and_went() {
        let doc = LockDoc {
            owner: Some("run-2".into()),
            fence: 2,
            heartbeat: 5,
            lease_ms: Some(3000),
            ..LockDoc::free("lock:w:a")
        };
        let history = vec![
            entry(1, "created", Some("lost")),
            entry(2, "takeover", None),
        ];
        let d = detail(&doc, vec!["w-9".into()], history);
        let mut out = Vec::new();
        write_detail(&d, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("w:a: held at fence 2 by run-2\n"),
            "{text}"
        );
        assert!(text.contains("3.0s (at most that is left"), "{text}");
        assert!(text.contains("1 (w-9)"), "{text}");
        let one = text.lines().find(|l| l.starts_with("1 ")).unwrap();
        assert!(one.contains("created") && one.contains("lost"), "{one}");
        assert!(one.contains("2023-11-14T22:13:21.000Z") && one.contains("exit 0"));
        let two = text.lines().find(|l| l.starts_with("2 ")).unwrap();
        assert!(two.contains("takeover from fence 1") && two.contains("holding"));
    }
}
