//! `cargo bench --bench lock_pairs`: acquire+release pairs per second through
//! joblock's lock on the memory store with zero latency, for 1, 8 and 64 contending
//! threads, beside a `std::sync::Mutex` doing the same critical section; then the
//! wall time of the default 25-job scenario at `--speed 1000`.
//!
//! A plain harness (no criterion) keeps heavy dev-only crates out of the test path.
//! Set `JOBLOCK_BENCH_SECS` to change how long each measurement runs (default 1).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use joblock::clock::Clock;
use joblock::engine::{self, Scenario};
use joblock::lock::{AcquireOutcome, Lock, LockConfig, Quiet};
use joblock::store::{MemoryConfig, MemoryStore, Store};

fn measure_secs() -> f64 {
    std::env::var("JOBLOCK_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0)
}

/// Runs `threads` workers doing `pair` until the time is up; returns pairs per second.
fn run_for(threads: usize, secs: f64, pair: impl Fn(usize) + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Barrier::new(threads + 1);
    let elapsed = thread::scope(|s| {
        for t in 0..threads {
            let (stop, done, start, pair) = (&stop, &done, &start, &pair);
            s.spawn(move || {
                start.wait();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    pair(t);
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        start.wait();
        let t0 = Instant::now();
        thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
        t0.elapsed()
    });
    done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

fn joblock_pairs(threads: usize, secs: f64) -> f64 {
    let clock = Clock::real(1.0);
    let store = MemoryStore::new(clock.clone(), MemoryConfig::default(), 1);
    // A long lease (no expiry during the bench) and no pause between attempts: the
    // waiter polls as fast as it can, which is the worst case for the store.
    let config = LockConfig {
        lease: Duration::from_secs(3600),
        retry: Duration::ZERO,
        give_up: Duration::from_secs(3600),
    };
    let locks: Vec<Lock> = (0..threads)
        .map(|t| {
            Lock::new(
                store.for_caller(t as u64),
                clock.clone(),
                "lock:bench:client".into(),
                config,
            )
        })
        .collect();
    let counter = AtomicU64::new(0);
    let owners: Vec<String> = (0..threads).map(|t| format!("bench-{t}")).collect();
    run_for(threads, secs, |t| {
        if let Ok(AcquireOutcome::Acquired(lease, acq)) =
            locks[t].acquire(&owners[t], &mut Quiet, &|| false)
        {
            counter.fetch_add(1, Ordering::Relaxed);
            let _ = lease.release(acq.committed);
        }
    })
}

fn mutex_pairs(threads: usize, secs: f64) -> f64 {
    let m = Arc::new(Mutex::new(0u64));
    run_for(threads, secs, |_| {
        if let Ok(mut g) = m.lock() {
            *g += 1;
        }
    })
}

fn scenario_wall_time() -> Duration {
    let dir = std::env::temp_dir().join(format!("joblock-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let s = Scenario {
        speed: 1000.0,
        seed: 1,
        output: dir.join("output.txt"),
        ..Scenario::default()
    };
    let t0 = Instant::now();
    let elapsed = match engine::start(s) {
        Ok(h) => {
            for _ in h.events().iter() {}
            let _ = h.join();
            t0.elapsed()
        }
        Err(e) => {
            eprintln!("scenario failed to start: {e}");
            Duration::ZERO
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    elapsed
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let secs = measure_secs();
    println!("acquire+release pairs per second ({secs} s per cell, memory store, zero latency)");
    println!(
        "{:>8} {:>16} {:>16} {:>8}",
        "threads", "joblock", "std Mutex", "ratio"
    );
    for threads in [1, 8, 64] {
        let j = joblock_pairs(threads, secs);
        let m = mutex_pairs(threads, secs);
        println!(
            "{threads:>8} {j:>16.0} {m:>16.0} {:>8.4}",
            if m > 0.0 { j / m } else { 0.0 }
        );
    }
    let wall = scenario_wall_time();
    println!(
        "default 25-job scenario at --speed 1000: {:.3} s wall",
        wall.as_secs_f64()
    );
}
