//! Hand-built engine events for tests of front ends that fold them.

use joblock::events::{Event, JobId};

/// The lease the hand-built runs use, in seconds.
pub const LEASE: f64 = 3.0;

/// `run_started` for `jobs` jobs over `clients` clients, named and with outputs as
/// the engine names them.
pub fn run_started(jobs: u32, clients: u32) -> Event {
    let client_names: Vec<String> = (1..=clients).map(|i| format!("client-{i}")).collect();
    let outputs = if clients == 1 {
        vec!["output.txt".to_string()]
    } else {
        client_names
            .iter()
            .map(|c| format!("output.{c}.txt"))
            .collect()
    };
    Event::RunStarted {
        jobs,
        clients,
        store: "memory".into(),
        speed: 1.0,
        seed: 42,
        clock: "virtual".into(),
        lease: LEASE,
        wait: "race".into(),
        latency: 1.0,
        floor: 0.2,
        client_names,
        outputs,
    }
}

/// A stable, UUID-shaped worker hash for a job.
pub fn hash(job: JobId) -> String {
    format!(
        "{:08x}-0000-4000-8000-{job:012x}",
        job.wrapping_mul(0x9e37_79b9)
    )
}
