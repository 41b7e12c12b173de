//! How long a networked store (PostgreSQL, Redis) may take: to open, and per call.
//!
//! A server can accept connections and then never answer (a hung process, a
//! SIGSTOP, a proxy that went silent): TCP keeps such a connection alive, so only
//! a deadline of our own ends the wait. Both backends enforce these limits on
//! their own sockets, on every connect, handshake and request, so that every
//! caller is bounded, the engine's job threads included.
//!
//! A holder's call must end in time for it to fence itself: its heartbeat renews
//! every third of the lease, so no call may outlive a third of the lease in real
//! time ([`Limits::holding`]). The limit is worked out on every call, so a clock
//! sped up mid-run (the dashboard's `+`) shortens it at once.

use std::time::{Duration, Instant};

use crate::clock::Clock;

/// The longest opening a store may take (connect, handshake, the first
/// statements): long enough for a slow server, short enough that a silent one is
/// reported within seconds.
pub const OPEN_LIMIT: Duration = Duration::from_secs(3);

/// The longest one call may take when nothing shorter is asked: an onlooker's
/// (`watch`, `locks`, `reseed`), and a holder's whose lease is long.
pub const CALL_LIMIT: Duration = Duration::from_secs(5);

/// No call gets less than this, however short the lease: below it no round trip
/// to a server could succeed, and a zero deadline would fail every call unseen.
const FLOOR: Duration = Duration::from_millis(1);

/// How long opening a store and each of its calls may take.
#[derive(Clone)]
pub struct Limits {
    open: Duration,
    cap: Duration,
    /// The holder's clock and lease (scenario time on that clock), when the calls
    /// are a holder's.
    lease: Option<(Clock, Duration)>,
}

impl Default for Limits {
    /// An onlooker's limits: [`OPEN_LIMIT`] and [`CALL_LIMIT`].
    fn default() -> Limits {
        Limits::new(OPEN_LIMIT, CALL_LIMIT)
    }
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("open", &self.open)
            .field("call", &self.call())
            .finish()
    }
}

impl Limits {
    /// Opening within `open`, each call within `call` (both at least a millisecond).
    pub fn new(open: Duration, call: Duration) -> Limits {
        Limits {
            open: open.max(FLOOR),
            cap: call.max(FLOOR),
            lease: None,
        }
    }

    /// The same, for a holder of `lease` (scenario time on `clock`): each call also
    /// within a third of the lease in real time, at the clock's speed when the call
    /// starts. A virtual clock's time has no tie to real time, so it keeps the cap.
    pub fn holding(mut self, clock: &Clock, lease: Duration) -> Limits {
        self.lease = Some((clock.clone(), lease));
        self
    }

    /// How long opening may take.
    pub fn open(&self) -> Duration {
        self.open
    }

    /// How long one call may take, starting now.
    pub fn call(&self) -> Duration {
        match &self.lease {
            Some((clock, lease)) if !clock.is_virtual() => {
                let real = lease.div_f64(clock.speed().max(f64::MIN_POSITIVE));
                (real / 3).clamp(FLOOR, self.cap)
            }
            _ => self.cap,
        }
    }

    /// The deadline of a call starting now.
    pub fn call_deadline(&self) -> Deadline {
        Deadline::after(self.call())
    }

    /// The deadline of an open starting now.
    pub fn open_deadline(&self) -> Deadline {
        Deadline::after(self.open)
    }
}

/// When a call (or an open) must be done by, and the limit it was given (for the
/// message that says it was not).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// `None`: too far away for an `Instant` (never, in practice).
    at: Option<Instant>,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(limit),
            limit,
        }
    }

    /// The time left, or `None` once it has passed.
    pub fn left(&self) -> Option<Duration> {
        match self.at {
            Some(at) => Some(at.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero()),
            None => Some(self.limit),
        }
    }

    /// The whole limit this deadline was set with.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The earlier of this deadline and `limit` from now.
    pub fn within(self, limit: Duration) -> Deadline {
        let other = Deadline::after(limit);
        match (self.at, other.at) {
            (Some(a), Some(b)) if b < a => other,
            (None, Some(_)) => other,
            _ => self,
        }
    }

    /// "did not answer within 0.333 s": what a passed deadline means.
    pub fn missed(&self) -> String {
        format!("did not answer within {}", super::bounded::secs(self.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holders_call_gets_a_third_of_its_lease_in_real_time_capped() {
        let clock = Clock::real(1.0);
        let limits = Limits::new(OPEN_LIMIT, CALL_LIMIT).holding(&clock, Duration::from_secs(3));
        assert_eq!(limits.call(), Duration::from_secs(1));
        // At speed 10 a 3 s lease is 0.3 s of real time.
        clock.set_speed(10.0);
        assert_eq!(limits.call(), Duration::from_millis(100));
        let long = Limits::default().holding(&Clock::real(1.0), Duration::from_secs(300));
        assert_eq!(long.call(), CALL_LIMIT);
        let tiny = Limits::default().holding(&Clock::real(1e6), Duration::from_millis(1));
        assert_eq!(tiny.call(), FLOOR);
        let virtual_time =
            Limits::default().holding(&Clock::virtual_time(), Duration::from_secs(3));
        assert_eq!(virtual_time.call(), CALL_LIMIT);
    }

    #[test]
    fn a_deadline_counts_down_and_names_its_limit() {
        let d = Deadline::after(Duration::from_secs(60));
        assert!(d.left().is_some_and(|l| l <= Duration::from_secs(60)));
        assert_eq!(d.missed(), "did not answer within 60 s");
        assert!(d.within(Duration::from_secs(1)).left() <= Some(Duration::from_secs(1)));
        assert_eq!(
            d.within(Duration::from_secs(1)).limit(),
            Duration::from_secs(1)
        );
        assert_eq!(Deadline::after(Duration::ZERO).left(), None);
    }
}
