//! What an onlooker can truthfully say about a holder's lease left: how long
//! before a waiter may take the lock over if the holder stopped renewing now.
//!
//! The store holds no time a reader may trust (the protocol never compares
//! clocks), only the holder's lease and a heartbeat counter. A waiter may take
//! over once it has seen the same (fence, heartbeat) for that lease on its own
//! clock, and no waiter can have seen the pair before it was written. So:
//!
//! * one look: at most the whole lease is left (the pair may be much older);
//! * two looks, the pair unchanged: it was written before the first look ended,
//!   so at most the lease less the time since then is left, and nothing is known
//!   about a floor;
//! * two looks, the pair changed: it was written between the first look's start
//!   and the second's end, so at least the lease less that span is left.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The bounds a look (or two) puts on a holder's lease left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LeaseLeft {
    /// At most this many milliseconds are left (never more than the lease).
    pub at_most_ms: u64,
    /// At least this many are left; known only when the heartbeat moved
    /// between two looks.
    pub at_least_ms: Option<u64>,
    /// Milliseconds between the end of the first look and the start of the
    /// second (`null` after one look).
    pub sampled_ms: Option<u64>,
    /// Whether the fence or heartbeat changed between the looks (`null` after one).
    pub heartbeat_moved: Option<bool>,
}

/// When a read of the store began and ended, on this process's own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Just before the request was sent.
    pub started: Instant,
    /// Just after its reply arrived.
    pub ended: Instant,
}

/// The earlier of two looks at a key, as [`LeaseLeft::judge`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Earlier {
    /// When that look was taken.
    pub span: Span,
    /// Whether the key's (fence, heartbeat) differs in the later look (a key the
    /// earlier look did not see counts as changed).
    pub moved: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl LeaseLeft {
    /// The bounds for a holder keeping `lease`, seen in the look `last` and, if
    /// one was taken, an earlier look.
    pub fn judge(lease: Duration, last: Span, earlier: Option<Earlier>) -> LeaseLeft {
        let Some(e) = earlier else {
            return LeaseLeft {
                at_most_ms: ms(lease),
                at_least_ms: None,
                sampled_ms: None,
                heartbeat_moved: None,
            };
        };
        let sampled = Some(ms(last.started.saturating_duration_since(e.span.ended)));
        if e.moved {
            let span = last.ended.saturating_duration_since(e.span.started);
            LeaseLeft {
                at_most_ms: ms(lease),
                at_least_ms: Some(ms(lease.saturating_sub(span))),
                sampled_ms: sampled,
                heartbeat_moved: Some(true),
            }
        } else {
            let since = last.ended.saturating_duration_since(e.span.ended);
            LeaseLeft {
                at_most_ms: ms(lease.saturating_sub(since)),
                at_least_ms: None,
                sampled_ms: sampled,
                heartbeat_moved: Some(false),
            }
        }
    }

    /// The bounds as a short cell: `<=30.0s`, `renewed 29.1s-30.0s`,
    /// `still 2.0s, <=28.0s`, `still 31.0s, may be taken over`.
    pub fn text(&self) -> String {
        let still = self
            .sampled_ms
            .filter(|_| self.heartbeat_moved == Some(false));
        match (self.at_least_ms, still) {
            (Some(least), _) => format!("renewed {}-{}", secs(least), secs(self.at_most_ms)),
            (None, Some(s)) if self.at_most_ms == 0 => {
                format!("still {}, may be taken over", secs(s))
            }
            (None, Some(s)) => format!("still {}, <={}", secs(s), secs(self.at_most_ms)),
            (None, None) => format!("<={}", secs(self.at_most_ms)),
        }
    }
}

/// Milliseconds as seconds with one decimal: `30.0s`.
pub fn secs(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, ms % 1000 / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    fn at(t0: Instant, from_ms: u64, to_ms: u64) -> Span {
        Span {
            started: t0 + Duration::from_millis(from_ms),
            ended: t0 + Duration::from_millis(to_ms),
        }
    }

    #[test]
    fn one_look_says_at_most_the_lease() {
        let t0 = Instant::now();
        let left = LeaseLeft::judge(LEASE, at(t0, 0, 5), None);
        assert_eq!((left.at_most_ms, left.at_least_ms), (30_000, None));
        assert_eq!(left.text(), "<=30.0s");
    }

    #[test]
    fn an_unchanged_pair_caps_what_is_left_by_the_time_it_was_seen_still() {
        let t0 = Instant::now();
        let earlier = Earlier {
            span: at(t0, 0, 10),
            moved: false,
        };
        let left = LeaseLeft::judge(LEASE, at(t0, 2010, 2030), Some(earlier));
        // Written before the first look ended (10 ms): at most 30 s - 2020 ms left.
        assert_eq!(left.at_most_ms, 27_980);
        assert_eq!((left.at_least_ms, left.sampled_ms), (None, Some(2000)));
        assert_eq!(left.text(), "still 2.0s, <=27.9s");
    }

    #[test]
    fn a_moved_pair_has_at_least_the_lease_less_the_whole_span_left() {
        let t0 = Instant::now();
        let earlier = Earlier {
            span: at(t0, 0, 10),
            moved: true,
        };
        let left = LeaseLeft::judge(LEASE, at(t0, 2010, 2030), Some(earlier));
        assert_eq!(left.at_most_ms, 30_000);
        assert_eq!(left.at_least_ms, Some(27_970));
        assert_eq!(left.text(), "renewed 27.9s-30.0s");
    }

    #[test]
    fn a_pair_still_for_longer_than_the_lease_may_be_taken_over() {
        let t0 = Instant::now();
        let earlier = Earlier {
            span: at(t0, 0, 10),
            moved: false,
        };
        let left = LeaseLeft::judge(Duration::from_secs(1), at(t0, 1500, 1510), Some(earlier));
        assert_eq!(left.at_most_ms, 0);
        assert_eq!(left.text(), "still 1.4s, may be taken over");
    }
}
