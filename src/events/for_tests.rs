//! Events built for tests in more than one module.

use super::Event;

/// A `run_started` of two jobs on one client with the default lease (3 s) and
/// latency (1 s), at `speed` on a `clock` (`real`/`virtual`), for tests.
pub(crate) fn started(speed: f64, clock: &str) -> Event {
    Event::RunStarted {
        jobs: 2,
        clients: 1,
        store: "memory".into(),
        speed,
        seed: 1,
        clock: clock.into(),
        lease: 3.0,
        wait: "race".into(),
        latency: 1.0,
        floor: 0.2,
        client_names: vec!["c".into()],
        outputs: vec!["o".into()],
    }
}
