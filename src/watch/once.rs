//! `joblock watch --once`: looks until every held key is told, then answers.
//!
//! One look cannot tell a live holder from a dead one: both show a heartbeat. So
//! `--once` keeps looking, every third of each holder's lease or every
//! `--interval` if that is shorter (and exactly when a lease would run out), until
//! each held key's heartbeat has moved (it is `held`) or has stood still for the
//! holder's whole lease (it is `expired`), as the live view would say. Live
//! holders answer at their next renewal (a third of a lease at most); only silent
//! ones take a whole lease, and never more than [`ONCE_LIMIT`] in all.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use super::{LockView, Options, Watcher, open};
use crate::store::{StoreError, StoreUrl};

/// The longest `--once` keeps looking: a key still undecided then is shown as it
/// stands (`held` or `silent`, with how long it has been still).
pub const ONCE_LIMIT: Duration = Duration::from_secs(120);

/// The shortest pause between two looks, so that a tiny lease cannot make the
/// looks spin.
const MIN_PAUSE: Duration = Duration::from_millis(20);

/// Looks until every held key's state is known (or [`ONCE_LIMIT`]); returns the
/// last look.
pub fn once(url: &StoreUrl, options: &Options) -> Result<Vec<LockView>, StoreError> {
    let mut watcher = Watcher::new(open(url, options)?, options.lease);
    let started = Instant::now();
    let mut first = HashMap::new();
    loop {
        let views = watcher.look()?;
        let left = ONCE_LIMIT.saturating_sub(started.elapsed());
        match next_look(&views, &mut first, options.interval) {
            Some(pause) if !left.is_zero() => thread::sleep(pause.min(left)),
            _ => return Ok(views),
        }
    }
}

/// How long to wait before the next look, or `None` once every key is told.
///
/// `first` keeps the (fence, heartbeat) each key had when first seen: a key whose
/// pair moved since is live (or has a new holder), and a free, expired or revoked
/// key says what it is at once. Any other key is looked at again after a third of
/// its lease or `interval`, whichever is shorter (a renewal is seen soon after
/// it), or sooner if its lease runs out sooner, so that `expired` is seen when due.
pub(super) fn next_look(
    views: &[LockView],
    first: &mut HashMap<String, (u64, u64)>,
    interval: Duration,
) -> Option<Duration> {
    views
        .iter()
        .filter(|v| {
            let pair = (v.fence, v.heartbeat);
            let moved = *first.entry(v.key.clone()).or_insert(pair) != pair;
            !moved && matches!(v.state.as_str(), "held" | "silent")
        })
        .map(|v| {
            let lease = Duration::from_millis(v.lease_real_ms.unwrap_or(0));
            let still = Duration::try_from_secs_f64(v.unchanged_for).unwrap_or(Duration::ZERO);
            (lease / 3)
                .min(interval)
                .min(lease.saturating_sub(still))
                .max(MIN_PAUSE)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `--interval` longer than any lease here.
    const LONG: Duration = Duration::from_secs(60);

    fn view(key: &str, state: &str, heartbeat: u64, still_ms: u64) -> LockView {
        LockView {
            key: key.into(),
            owner: (state != "free").then(|| "w-1".to_string()),
            lease_real_ms: (state != "free").then_some(3000),
            fence: 2,
            heartbeat,
            unchanged_for: still_ms as f64 / 1000.0,
            state: state.into(),
            ..LockView::default()
        }
    }

    #[test]
    fn live_holders_are_told_at_their_first_move_dead_ones_at_their_lease() {
        let mut first = HashMap::new();
        let ms = Duration::from_millis;
        // First look: nothing is known of a held key yet; a free one is told.
        let look = [
            view("a", "held", 1, 0),
            view("b", "held", 5, 0),
            view("c", "free", 0, 0),
        ];
        assert_eq!(next_look(&look, &mut first, LONG), Some(ms(1000)));
        // a renewed (told: held); b stood still 1 s: its lease runs out in 2 s.
        let look = [view("a", "held", 2, 0), view("b", "held", 5, 1000)];
        assert_eq!(next_look(&look, &mut first, LONG), Some(ms(1000)));
        let look = [view("a", "silent", 2, 2000), view("b", "silent", 5, 2500)];
        assert_eq!(next_look(&look, &mut first, LONG), Some(ms(500)));
        let look = [view("a", "held", 2, 2000), view("b", "expired", 5, 3000)];
        assert_eq!(next_look(&look, &mut first, LONG), None);
    }

    #[test]
    fn a_revoked_key_or_a_new_holder_is_told_at_once() {
        let mut first = HashMap::new();
        let mut moved = view("a", "held", 1, 0);
        assert!(
            next_look(
                &[view("r", "revoked", 1, 0), moved.clone()],
                &mut first,
                LONG
            )
            .is_some()
        );
        moved.fence = 3;
        assert_eq!(next_look(&[moved], &mut first, LONG), None);
        // A tiny lease does not make the looks spin.
        let tiny = LockView {
            lease_real_ms: Some(1),
            ..view("t", "held", 1, 0)
        };
        assert_eq!(next_look(&[tiny], &mut first, LONG), Some(MIN_PAUSE));
        // A short --interval looks sooner than a third of the lease.
        let fresh = view("f", "held", 1, 0);
        let short = Duration::from_millis(500);
        assert_eq!(next_look(&[fresh], &mut first, short), Some(short));
    }
}
