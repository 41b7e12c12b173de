//! Flags for `joblock worker` processes in tests.

/// Scenario flags for worker processes: a 30 s lease at speed 100 is 0.3 s of real
/// time, long enough that a busy machine does not expire it by accident (and if it
/// did, a test's assertions must still hold: only the counts of fenced jobs move).
pub const FAST: [&str; 8] = [
    "--speed",
    "100",
    "--lease",
    "30",
    "--db-latency",
    "0.1",
    "--retry",
    "0.1",
];
