//! Flags for `joblock worker` processes in tests.

/// Scenario flags for worker processes: a 100 s lease at speed 100 is 1 s of real
/// time, long enough that a busy machine (a whole test suite on two cores) does not
/// expire it by accident: a job fenced with no fault injected makes its worker exit
/// 3, which the tests rightly count as a failure.
pub const FAST: [&str; 8] = [
    "--speed",
    "100",
    "--lease",
    "100",
    "--db-latency",
    "0.1",
    "--retry",
    "0.1",
];
