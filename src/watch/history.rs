//! Each key's recent acquisitions: the history documents `joblock run` stores
//! (`lock::history`), and what this watcher saw change itself (an engine's jobs
//! store no history: a store write per acquisition would cost their hot path).
//!
//! A change the watcher saw is told from the two looks around it: a fence one
//! higher whose heartbeat is one more than the quiet pair last seen is a
//! takeover (a waiter's compare-and-set on exactly that pair, after the holder had
//! stood still); any other next fence is a handoff (the holder let go, and the
//! next one took it); a fence that jumped is `unknown` (acquisitions in between
//! were missed). Only as good as the looks: it says what this watcher saw.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::lock::history::{Entry, HISTORY_SLOTS};
use crate::lock::revoke::is_revoked;
use crate::lock::{Holder, LockDoc};

/// One acquisition of a key. The JSON field names are an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryLine {
    /// The acquisition's fence.
    pub fence: u64,
    /// The owner id that acquired.
    pub owner: String,
    /// Who it was (host, pid, command or job), if it said.
    pub holder: Option<Holder>,
    /// How it was obtained: `first` (the key's first acquisition), `handoff` (its
    /// holder let go), `takeover` (its holder had stood still for a lease) or
    /// `unknown` (this watcher saw the fence jump).
    pub how: String,
    /// On a takeover (or a jump): the fence before.
    pub from_fence: Option<u64>,
    /// When, in ms since the Unix epoch: the acquirer's clock for a stored line,
    /// this watcher's own for a line it saw.
    pub at_ms: u64,
    /// How it ended, when known: `released`, `lost`, `revoked`, ...
    pub ended: Option<String>,
    /// `stored` (the key's history document) or `seen` (by this watcher).
    pub source: String,
}

/// What the watcher remembers of a key between two looks.
struct Last {
    fence: u64,
    heartbeat: u64,
    owner: Option<String>,
    /// Whether the holder had stood still for half its lease or more.
    quiet: bool,
}

/// The fence changes this watcher saw, per key, at most [`HISTORY_SLOTS`] each.
#[derive(Default)]
pub(super) struct Seen {
    last: HashMap<String, Last>,
    lines: HashMap<String, VecDeque<HistoryLine>>,
    /// Whether a look came before: a key that appears later was created meanwhile.
    looked: bool,
}

impl Seen {
    /// Notes the document of one look at `at_ms` (wall clock); `quiet`: whether
    /// its holder has stood still for half its lease or more.
    pub fn note(&mut self, doc: &LockDoc, quiet: bool, at_ms: u64) {
        let now = Last {
            fence: doc.fence,
            heartbeat: doc.heartbeat,
            owner: doc.owner.clone(),
            quiet,
        };
        let line = |how: &str, from_fence: Option<u64>| HistoryLine {
            fence: doc.fence,
            owner: doc.owner.clone().unwrap_or_default(),
            holder: doc.holder.clone(),
            how: how.to_string(),
            from_fence,
            at_ms,
            ended: None,
            source: "seen".to_string(),
        };
        let lines = self.lines.entry(doc.key.clone()).or_default();
        match self.last.insert(doc.key.clone(), now) {
            None if self.looked && doc.fence == 1 && doc.owner.is_some() => {
                push(lines, line("first", None));
            }
            None => {}
            Some(before) if doc.fence == before.fence => {
                let ended = match doc.owner.as_deref() {
                    None if before.owner.is_some() => Some("released"),
                    Some(o)
                        if is_revoked(o) && !before.owner.as_deref().is_some_and(is_revoked) =>
                    {
                        Some("revoked")
                    }
                    _ => None,
                };
                if let Some(how) = ended {
                    end(lines, before.fence, how);
                }
            }
            Some(before) if doc.fence == before.fence + 1 => {
                let took_over =
                    before.owner.is_some() && before.quiet && doc.heartbeat == before.heartbeat + 1;
                if took_over {
                    end(lines, before.fence, "lost");
                    push(lines, line("takeover", Some(before.fence)));
                } else if doc.fence == 1 {
                    push(lines, line("first", None));
                } else {
                    end(lines, before.fence, "released");
                    push(lines, line("handoff", None));
                }
            }
            // A jump, or a fence that went down (a store that forgot its documents).
            Some(before) => push(lines, line("unknown", Some(before.fence))),
        }
    }

    /// Marks the end of this round of looks: keys that appear from now on are new.
    pub fn looked(&mut self) {
        self.looked = true;
    }

    /// The history of `key`, oldest first, at most [`HISTORY_SLOTS`] lines: the
    /// `stored` entries, and the `seen` lines of fences that have none.
    pub fn lines(&self, key: &str, stored: &[&Entry]) -> Vec<HistoryLine> {
        let mut by_fence: BTreeMap<u64, HistoryLine> = BTreeMap::new();
        for l in self.lines.get(key).into_iter().flatten() {
            by_fence.insert(l.fence, l.clone());
        }
        for e in stored {
            let seen_end = by_fence.get(&e.fence).and_then(|l| l.ended.clone());
            by_fence.insert(e.fence, from_entry(e, seen_end));
        }
        let skip = by_fence.len().saturating_sub(HISTORY_SLOTS as usize);
        by_fence.into_values().skip(skip).collect()
    }
}

/// A stored entry as a line; an end this watcher saw fills in one never stored.
fn from_entry(e: &Entry, seen_end: Option<String>) -> HistoryLine {
    let how = match e.via.as_str() {
        "created" => "first",
        "free" => "handoff",
        other => other,
    };
    HistoryLine {
        fence: e.fence,
        owner: e.owner.clone(),
        holder: e.holder.clone(),
        how: how.to_string(),
        from_fence: e.from_fence,
        at_ms: e.acquired_at_ms,
        ended: e.ended.clone().or(seen_end),
        source: "stored".to_string(),
    }
}

fn push(lines: &mut VecDeque<HistoryLine>, line: HistoryLine) {
    if lines.len() >= HISTORY_SLOTS as usize {
        lines.pop_front();
    }
    lines.push_back(line);
}

/// Records how the seen acquisition at `fence` ended, unless that is known already.
fn end(lines: &mut VecDeque<HistoryLine>, fence: u64, how: &str) {
    if let Some(l) = lines.iter_mut().rev().find(|l| l.fence == fence)
        && l.ended.is_none()
    {
        l.ended = Some(how.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(owner: Option<&str>, fence: u64, heartbeat: u64) -> LockDoc {
        LockDoc {
            owner: owner.map(str::to_string),
            fence,
            heartbeat,
            ..LockDoc::free("lock:w:a")
        }
    }

    fn hows(seen: &Seen) -> Vec<(u64, String, Option<String>)> {
        seen.lines("lock:w:a", &[])
            .into_iter()
            .map(|l| (l.fence, l.how, l.ended))
            .collect()
    }

    #[test]
    fn handoffs_takeovers_and_jumps_are_told_apart() {
        let mut seen = Seen::default();
        seen.note(&doc(None, 0, 0), false, 0);
        seen.looked();
        seen.note(&doc(Some("a"), 1, 1), false, 10);
        seen.note(&doc(None, 1, 2), false, 20);
        seen.note(&doc(Some("b"), 2, 3), false, 30);
        // b dies: its pair stands still, then a waiter's CAS on exactly it.
        seen.note(&doc(Some("b"), 2, 3), true, 40);
        seen.note(&doc(Some("c"), 3, 4), false, 50);
        // c renews and hands straight on (a queue handoff): not a takeover.
        seen.note(&doc(Some("d"), 4, 6), false, 60);
        seen.note(&doc(Some("f"), 7, 9), false, 70);
        assert_eq!(
            hows(&seen),
            vec![
                (1, "first".into(), Some("released".into())),
                (2, "handoff".into(), Some("lost".into())),
                (3, "takeover".into(), Some("released".into())),
                (4, "handoff".into(), None),
                (7, "unknown".into(), None),
            ]
        );
        let line = &seen.lines("lock:w:a", &[])[2];
        assert_eq!(
            (line.from_fence, line.at_ms, line.source.as_str()),
            (Some(2), 50, "seen")
        );
    }

    #[test]
    fn what_was_there_at_the_first_look_is_no_acquisition() {
        let mut seen = Seen::default();
        seen.note(&doc(Some("a"), 1, 1), false, 0);
        seen.looked();
        seen.note(&doc(Some("a"), 1, 2), false, 10);
        assert!(hows(&seen).is_empty());
    }

    #[test]
    fn stored_entries_win_and_the_history_stays_bounded() {
        let mut seen = Seen::default();
        seen.note(&doc(Some("a"), 1, 1), false, 0);
        seen.looked();
        for f in 2..=40 {
            seen.note(&doc(Some("a"), f, f), false, f * 10);
        }
        let stored = Entry {
            key: "lock:w:a".into(),
            fence: 40,
            owner: "run-40".into(),
            holder: None,
            via: "takeover".into(),
            from_fence: Some(39),
            acquired_at_ms: 7,
            ended: None,
            ended_at_ms: None,
            exit: None,
        };
        let lines = seen.lines("lock:w:a", &[&stored]);
        assert_eq!(lines.len(), HISTORY_SLOTS as usize);
        assert_eq!(lines[0].fence, 40 - HISTORY_SLOTS + 1);
        let last = lines
            .last()
            .map(|l| (l.how.as_str(), l.source.as_str(), l.at_ms));
        assert_eq!(last, Some(("takeover", "stored", 7)));
    }
}
