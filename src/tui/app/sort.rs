//! The jobs table's sort columns and how rows compare under each.

use std::cmp::Ordering;

use crate::tui::state::JobRow;

/// The jobs table's sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Job number.
    Number,
    /// State.
    State,
    /// Client.
    Client,
    /// Lock attempts.
    Attempts,
    /// Wait time.
    Wait,
    /// Run time.
    Run,
    /// Chunks written.
    Chunks,
}

impl SortKey {
    const ORDER: [SortKey; 7] = [
        SortKey::Number,
        SortKey::State,
        SortKey::Client,
        SortKey::Attempts,
        SortKey::Wait,
        SortKey::Run,
        SortKey::Chunks,
    ];

    /// The column's header.
    pub fn title(self) -> &'static str {
        match self {
            SortKey::Number => "#",
            SortKey::State => "state",
            SortKey::Client => "client",
            SortKey::Attempts => "tries",
            SortKey::Wait => "wait",
            SortKey::Run => "run",
            SortKey::Chunks => "chunks",
        }
    }

    pub(super) fn next(self) -> SortKey {
        let i = Self::ORDER.iter().position(|k| *k == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }
}

/// How two rows compare under `key`; ties go by job number, so the order is total.
pub(super) fn compare(a: &JobRow, b: &JobRow, key: SortKey, now: f64) -> Ordering {
    let by = match key {
        SortKey::Number => Ordering::Equal,
        SortKey::State => a.state.cmp(&b.state),
        SortKey::Client => a.client.cmp(&b.client),
        SortKey::Attempts => a.attempts.cmp(&b.attempts),
        SortKey::Wait => a.wait_time(now).total_cmp(&b.wait_time(now)),
        SortKey::Run => a.run_time(now).total_cmp(&b.run_time(now)),
        SortKey::Chunks => a.chunks.cmp(&b.chunks),
    };
    by.then(a.id.cmp(&b.id))
}
