//! `cargo bench --bench scale`: what a job costs as runs grow.
//!
//! Runs the release binary headless on a virtual clock with every sleep off
//! (`--db-latency 0 --chunk-pause 0`), ten jobs per client, at 1,000 and 10,000
//! jobs (`JOBLOCK_BENCH_SCALE=100000` goes on to 100,000 jobs over 10,000
//! clients), and prints for each: wall time, jobs per second, wall time per job
//! and the process's peak resident memory. Flat cost per job is the goal: a run ten
//! times as large should take ten times as long, not more.
//!
//! The events are printed to a file, as a user redirecting `--headless` would; a
//! run that does not pass its own checks (exit code not 0) is reported as failed,
//! since a fast wrong run measures nothing.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_joblock");

/// One measured run.
struct Measured {
    wall: Duration,
    peak_kib: i64,
    exit: i32,
}

/// Runs the binary on `jobs` jobs over `clients` clients in `dir`.
fn measure(dir: &Path, jobs: u32, clients: u32) -> std::io::Result<Measured> {
    let log = File::create(dir.join("events.txt"))?;
    let started = Instant::now();
    let child = Command::new(BIN)
        .args(["--headless", "--clock", "virtual", "--db-latency", "0"])
        .args(["--chunk-pause", "0", "--seed", "1"])
        .args([
            "--jobs",
            &jobs.to_string(),
            "--clients",
            &clients.to_string(),
        ])
        .arg("--output")
        .arg(dir.join("out.txt"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (`child` is never waited on
    // through std), and both pointers are to live locals of the right types.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if reaped != pid {
        return Err(std::io::Error::last_os_error());
    }
    let exit = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok(Measured {
        wall,
        // Linux reports ru_maxrss in KiB.
        peak_kib: usage.ru_maxrss,
        exit,
    })
}

fn main() {
    let largest = std::env::var("JOBLOCK_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|n| *n >= 1000)
        .unwrap_or(10_000);
    println!("scale: jobs over jobs/10 clients, virtual clock, sleeps off, headless to a file");
    println!(
        "{:>8} {:>7} {:>9} {:>10} {:>10} {:>9}  check",
        "jobs", "clients", "wall s", "jobs/s", "us/job", "peak MB"
    );
    let mut jobs = 1000u32;
    while jobs <= largest {
        let clients = (jobs / 10).max(1);
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("cannot make a temporary directory: {e}");
                std::process::exit(1);
            }
        };
        match measure(dir.path(), jobs, clients) {
            Ok(m) => {
                let secs = m.wall.as_secs_f64();
                println!(
                    "{jobs:>8} {clients:>7} {secs:>9.2} {:>10.0} {:>10.1} {:>9.1}  {}",
                    f64::from(jobs) / secs,
                    secs * 1e6 / f64::from(jobs),
                    m.peak_kib as f64 / 1024.0,
                    if m.exit == 0 {
                        "passed".to_string()
                    } else {
                        format!("FAILED (exit {})", m.exit)
                    }
                );
            }
            Err(e) => println!("{jobs:>8} {clients:>7} cannot run {BIN}: {e}"),
        }
        jobs = match jobs.checked_mul(10) {
            Some(n) => n,
            None => break,
        };
    }
}
