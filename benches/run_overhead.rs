//! `cargo bench --bench run_overhead`: what `joblock run` costs a real command.
//!
//! * Overhead: wall time of `joblock run --store URL --key K -- true` (open the
//!   store, acquire, start the guardian and the command, release), run after run,
//!   beside `flock -x FILE true` on the same machine in the same run.
//! * Handoff: one `run` holds the key while a second waits; the first's command
//!   prints the time just before it exits, the second's command prints the time as
//!   it starts. The difference is the handoff as a user sees it: the first
//!   wrapper's release, the waiter noticing, its guardian and command starting.
//!
//! Stores: SQLite (a file in a temporary directory) and every server this
//! machine can start (Redis, PostgreSQL: throwaway servers from tests/support). `JOBLOCK_BENCH_RUNS` sets the runs per cell (default 200),
//! `JOBLOCK_BENCH_HANDOFFS` the handoffs (default 30).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/namespace.rs"]
mod namespace;
#[path = "../tests/support/spawn.rs"]
mod spawn;
// The bench uses only `try_start` and `url` of the tests' starters.
#[allow(dead_code)]
#[path = "../tests/support/pg_server.rs"]
mod pg_server;
#[allow(dead_code)]
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

// Where the starters look for it (`super::unique_namespace`).
#[allow(unused_imports)]
pub use namespace::unique_namespace;

const BIN: &str = env!("CARGO_BIN_EXE_joblock");

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// p50, p90 and mean of `samples`, in milliseconds.
fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = samples.len();
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / n as f64;
    format!(
        "p50 {:7.2} ms  p90 {:7.2} ms  mean {:7.2} ms  (n={n})",
        ms(samples[n / 2]),
        ms(samples[n * 9 / 10]),
        mean
    )
}

/// Times `runs` runs of a command line.
fn time_runs(runs: usize, argv: &[&str]) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new(argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
            assert!(status.success(), "{argv:?}: {status}");
            start.elapsed()
        })
        .collect()
}

fn now_ns(out: &[u8]) -> u128 {
    String::from_utf8_lossy(out)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a time: {:?}", String::from_utf8_lossy(out)))
}

/// One handoff between two wrappers on `url`, in wall time.
fn handoff(url: &str, key: &str) -> Duration {
    let holder = Command::new(BIN)
        .args(["run", "--store", url, "--key", key, "--"])
        .args(["sh", "-c", "sleep 0.3; exec date +%s%N"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the holder");
    // The waiter starts while the holder sleeps; it finds the lock held and waits.
    std::thread::sleep(Duration::from_millis(100));
    let waiter = Command::new(BIN)
        .args(["run", "--store", url, "--key", key, "--", "date", "+%s%N"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the waiter");
    let ended = now_ns(&holder.wait_with_output().expect("holder").stdout);
    let started = now_ns(&waiter.wait_with_output().expect("waiter").stdout);
    Duration::from_nanos(started.saturating_sub(ended) as u64)
}

fn main() {
    let runs = count("JOBLOCK_BENCH_RUNS", 200);
    let handoffs = count("JOBLOCK_BENCH_HANDOFFS", 30);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let lockfile = dir.path().join("flock.lock");
    let lockfile = lockfile.to_string_lossy().into_owned();
    println!("joblock run overhead, {runs} runs per cell; handoff, {handoffs} handoffs");
    println!(
        "{:<28} {}",
        "flock -x FILE true",
        stats(time_runs(runs, &["flock", "-x", &lockfile, "true"]))
    );
    println!(
        "{:<28} {}",
        "true (no lock)",
        stats(time_runs(runs, &["true"]))
    );
    let mut stores: Vec<(String, String, Box<dyn std::any::Any>)> = Vec::new();
    let sqlite = format!("sqlite://{}", dir.path().join("locks.db").display());
    stores.push(("sqlite".into(), sqlite, Box::new(())));
    match redis_server::RedisServer::try_start() {
        Ok(s) => stores.push(("redis".into(), s.url.clone(), Box::new(s))),
        Err(e) => println!("redis: skipped ({e})"),
    }
    match pg_server::PgServer::try_start() {
        Ok(s) => stores.push(("postgres".into(), s.url.clone(), Box::new(s))),
        Err(e) => println!("postgres: skipped ({e})"),
    }
    for (name, url, _server) in &stores {
        let argv = [
            BIN,
            "run",
            "--store",
            url,
            "--key",
            "bench:overhead",
            "--",
            "true",
        ];
        println!(
            "{:<28} {}",
            format!("joblock run ({name}) true"),
            stats(time_runs(runs, &argv))
        );
        let samples = (0..handoffs)
            .map(|i| handoff(url, &format!("bench:handoff:{i}")))
            .collect();
        println!("{:<28} {}", format!("handoff ({name})"), stats(samples));
    }
}
