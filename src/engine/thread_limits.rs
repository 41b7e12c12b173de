//! How many runner threads this machine affords, from its limits.
//!
//! A runner and the heartbeat of the job it holds are two threads. Each reserves a
//! stack, a guard page and a signal stack (its own memory maps and address space).
//! Past a limit the kernel refuses the thread, which the engine reports; but a
//! thread that did start and then cannot map its signal stack aborts the process
//! inside Rust's runtime (SIGABRT), which nothing can catch. So `--threads` past
//! what the limits allow is refused before the run starts, naming the limit.

use crate::clock::THREAD_STACK;

use super::admission::DEFAULT_CAP;

/// Threads per runner: itself and its holder's heartbeat.
const THREADS_PER_RUNNER: u64 = 2;
/// Memory maps per thread: stack, guard page, signal stack and its guard.
const MAPS_PER_THREAD: u64 = 4;
/// Address space per thread beyond its stack: guard pages and the signal stack
/// (generously: glibc's SIGSTKSZ is at most 64 KiB with AVX-512 state).
const EXTRA_PER_THREAD: u64 = 128 * 1024;

/// The limit that caps the runners, and how many it allows at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceiling {
    /// The most runners the limit allows.
    pub runners: u64,
    /// The limit, as a user would look it up (`ulimit -v 1500000 KiB`).
    pub limit: String,
}

/// The machine's limits that bound threads, read once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `/proc/sys/kernel/threads-max`.
    pub threads_max: Option<u64>,
    /// `/proc/sys/vm/max_map_count`.
    pub max_map_count: Option<u64>,
    /// `ulimit -u` (threads count as processes).
    pub nproc: Option<u64>,
    /// `ulimit -v`, bytes of address space.
    pub address_space: Option<u64>,
    /// Address space this process already uses, bytes.
    pub used: u64,
}

impl Limits {
    /// This machine's limits now.
    pub fn of_this_machine() -> Limits {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        use rustix::process::{Resource, getrlimit};
        Limits {
            threads_max: read("/proc/sys/kernel/threads-max"),
            max_map_count: read("/proc/sys/vm/max_map_count"),
            nproc: getrlimit(Resource::Nproc).current,
            address_space: getrlimit(Resource::As).current,
            used: address_space_in_use().unwrap_or(0),
        }
    }

    /// The tightest limit on runners, if any limit is known.
    pub fn ceiling(&self) -> Option<Ceiling> {
        let per_runner_bytes = THREADS_PER_RUNNER * (THREAD_STACK as u64 + EXTRA_PER_THREAD);
        let candidates = [
            self.threads_max
                .map(|n| (n / THREADS_PER_RUNNER, format!("kernel.threads-max {n}"))),
            self.max_map_count.map(|n| {
                (
                    n / (THREADS_PER_RUNNER * MAPS_PER_THREAD),
                    format!("vm.max_map_count {n}"),
                )
            }),
            self.nproc
                .map(|n| (n / THREADS_PER_RUNNER, format!("ulimit -u {n}"))),
            self.address_space.map(|n| {
                (
                    n.saturating_sub(self.used) / per_runner_bytes,
                    format!("ulimit -v {} KiB", n / 1024),
                )
            }),
        ];
        candidates
            .into_iter()
            .flatten()
            .min_by_key(|(runners, _)| *runners)
            .map(|(runners, limit)| Ceiling { runners, limit })
    }

    /// The runners a run starts unless told: half the ceiling (room for the
    /// store's and the front end's threads and for the rest of the machine), at
    /// most [`DEFAULT_CAP`], at least 25 (the exercise), or the ceiling if lower.
    pub fn default_threads(&self) -> usize {
        let mut bound = DEFAULT_CAP as u64;
        let mut floor = 25;
        if let Some(c) = self.ceiling() {
            bound = bound.min(c.runners / 2);
            floor = floor.min(c.runners.max(1));
        }
        usize::try_from(bound.max(floor)).unwrap_or(DEFAULT_CAP)
    }

    /// Refuses `--threads asked` past the ceiling with a line naming the limit.
    pub fn check(&self, asked: u32) -> Result<(), String> {
        match self.ceiling() {
            Some(c) if u64::from(asked) > c.runners => Err(format!(
                "--threads {asked} is more than this machine allows: {} limits a run to {} runner threads (each with its job's heartbeat); use --threads {} or fewer, or leave it out",
                c.limit,
                c.runners,
                c.runners.max(1)
            )),
            _ => Ok(()),
        }
    }
}

/// The process's mapped address space (`VmSize` in `/proc/self/status`), bytes.
fn address_space_in_use() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_limit_names_the_ceiling() {
        let l = Limits {
            threads_max: Some(200_000),
            max_map_count: Some(65_530),
            nproc: None,
            address_space: None,
            used: 0,
        };
        let c = l.ceiling().expect("a ceiling");
        assert_eq!(c.runners, 65_530 / 8);
        assert!(c.limit.contains("vm.max_map_count 65530"), "{c:?}");
    }

    #[test]
    fn address_space_left_bounds_runners() {
        let l = Limits {
            address_space: Some(1_500_000 * 1024),
            used: 500_000 * 1024,
            ..Limits::default()
        };
        let c = l.ceiling().expect("a ceiling");
        let per = 2 * (THREAD_STACK as u64 + EXTRA_PER_THREAD);
        assert_eq!(c.runners, 1_000_000 * 1024 / per);
        assert!(l.check(50_000).is_err());
        let e = l.check(50_000).unwrap_err();
        assert!(
            e.contains("--threads 50000") && e.contains("ulimit -v"),
            "{e}"
        );
        assert!(l.check(c.runners as u32).is_ok());
    }

    #[test]
    fn the_default_is_half_the_ceiling_capped_and_at_least_the_exercise() {
        let roomy = Limits {
            threads_max: Some(10_000_000),
            ..Limits::default()
        };
        assert_eq!(roomy.default_threads(), DEFAULT_CAP);
        let tight = Limits {
            nproc: Some(400),
            ..Limits::default()
        };
        assert_eq!(tight.default_threads(), 100);
        let tiny = Limits {
            nproc: Some(20),
            ..Limits::default()
        };
        assert_eq!(tiny.default_threads(), 10, "never past the ceiling itself");
        assert_eq!(Limits::default().default_threads(), DEFAULT_CAP);
    }

    #[test]
    fn no_limit_known_refuses_nothing() {
        assert!(Limits::default().check(100_000).is_ok());
    }
}
