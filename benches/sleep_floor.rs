//! `cargo bench --bench sleep_floor`: how late a thread that sleeps 1 ms wakes,
//! with N busy threads competing for the cores.
//!
//! A holder's heartbeat is a thread that sleeps a third of the lease and renews; at
//! `--speed 1000` the default lease is 3 ms of real time, so what decides whether a
//! renewal lands in time is how late the scheduler wakes a sleeper, not the lock.
//! This measures that lateness (wake time minus the requested 1 ms) at p50, p99,
//! p99.9 and max, idle and under load, and prints the floor the engine's warning
//! uses (`engine::floor::FLOOR`) beside the worst lateness seen.
//!
//! `JOBLOCK_BENCH_SLEEPS` sets the sleeps per cell (default 2000);
//! `JOBLOCK_BENCH_BUSY` the busy-thread counts, comma separated (default
//! `0,N,4N` with N the cores this process may use).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use joblock::engine::floor::FLOOR;

const SLEEP: Duration = Duration::from_millis(1);

fn sleeps() -> usize {
    std::env::var("JOBLOCK_BENCH_SLEEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(2000)
}

fn busy_counts() -> Vec<usize> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    match std::env::var("JOBLOCK_BENCH_BUSY") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => vec![0, cores, cores * 4],
    }
}

/// Threads that spin until `stop`, so the sleeper competes for a core.
fn spin(n: usize, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut x: u64 = 1;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect()
}

/// Lateness of `n` 1 ms sleeps, sorted.
fn lateness(n: usize) -> Vec<Duration> {
    let mut late: Vec<Duration> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            thread::sleep(SLEEP);
            t0.elapsed().saturating_sub(SLEEP)
        })
        .collect();
    late.sort();
    late
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The sample at quantile `q` of sorted `v` (nearest rank).
fn at(v: &[Duration], q: f64) -> Duration {
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len());
    v[i - 1]
}

fn main() {
    let n = sleeps();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "sleep_floor: {n} sleeps of 1 ms per cell, {} cores, load average {}",
        thread::available_parallelism().map_or(1, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut worst = Duration::ZERO;
    for busy in busy_counts() {
        let stop = Arc::new(AtomicBool::new(false));
        let spinners = spin(busy, &stop);
        let late = lateness(n);
        stop.store(true, Ordering::Relaxed);
        for h in spinners {
            let _ = h.join();
        }
        let max = late.last().copied().unwrap_or_default();
        worst = worst.max(max);
        println!(
            "busy {busy:>3}: late p50 {:8.3} ms  p99 {:8.3} ms  p99.9 {:8.3} ms  max {:8.3} ms",
            ms(at(&late, 0.5)),
            ms(at(&late, 0.99)),
            ms(at(&late, 0.999)),
            ms(max),
        );
    }
    println!(
        "worst wake-up here {:.1} ms; the engine's floor is {:.0} ms (engine::floor::FLOOR): {}",
        ms(worst),
        ms(FLOOR),
        if worst < FLOOR {
            "it covers this machine"
        } else {
            "this machine was later than the floor: raise it or lower --speed"
        }
    );
}
