//! What a run does: the faithful defaults of the classic exercise, and their checks.

use crate::events::schedule::{MAX_SECS, MAX_SPEED, MIN_SECS, MIN_SPEED};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::events::Command;
use crate::events::schedule::format_at;
use crate::lock::{Broken, LockConfig};
use crate::store::StoreUrl;
use crate::store::url::validate_namespace;
use crate::verify::RECORD;

/// Which clock drives the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// Wall time times `speed`; pausable, re-speedable.
    Real,
    /// Discrete-event time: as fast as the CPU allows, immune to scheduling hiccups.
    Virtual,
}

/// Whether this process runs the whole scenario or is one of many workers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// One process runs every job; it owns the output (truncated at start), repairs
    /// a lock a dead holder left, and verifies the output at the end.
    #[default]
    Standalone,
    /// One of several processes sharing a store and an output: jobs of one client,
    /// the output appended to (never truncated), no end-of-run repair or verdict
    /// (other workers may still be writing; run `joblock verify` when all are done).
    Worker {
        /// The client this worker's jobs belong to.
        client: String,
    },
}

/// A run's parameters. Durations are in scenario seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Jobs, each on its own thread.
    pub jobs: u32,
    /// Clients; each has its own lock key and output file.
    pub clients: u32,
    /// Probability that a job crashes once it holds the lock, before writing.
    pub crash_prob: f64,
    /// Scenario seconds per real second (real clock only).
    pub speed: f64,
    /// Seed for every random draw.
    pub seed: u64,
    /// Output path (per-client paths derive from it, see [`Scenario::output_for`]).
    pub output: PathBuf,
    /// Lease length.
    pub lease: f64,
    /// Pause between a waiter's attempts.
    pub retry: f64,
    /// A waiter gives up after this long.
    pub give_up: f64,
    /// `insert_one` latency maximum (uniform draw).
    pub db_latency: f64,
    /// Latency maximum on every other store operation.
    pub op_latency: f64,
    /// Bytes per write.
    pub chunk: usize,
    /// Pause after every chunk.
    pub chunk_pause: f64,
    /// The record each job writes.
    pub text: String,
    /// Which clock.
    pub clock: ClockKind,
    /// Commands to apply at given scenario times (seconds).
    pub schedule: Vec<(f64, Command)>,
    /// Where the documents live.
    pub store: StoreUrl,
    /// Table name or key prefix that keeps runs and tenants apart in a shared store.
    pub namespace: String,
    /// Standalone run or one worker of many.
    pub mode: Mode,
    /// A deliberately broken lock (tests of the checkers and the torture campaign).
    pub broken: Option<Broken>,
    /// How the jobs of this process wait for a lock.
    pub wait: WaitMode,
    /// Most job threads at once (0: derived from the machine's limits).
    pub threads: u32,
}

/// How the jobs of one process wait for their lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitMode {
    /// Every waiter reads the store and races for a free lock (the classic exercise).
    #[default]
    Race,
    /// The jobs of this process queue in arrival order and a release hands the lock
    /// to the first of them ([`crate::lock::LocalQueue`]; real clock only).
    Queue,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            jobs: 25,
            clients: 1,
            crash_prob: 0.2,
            speed: 1.0,
            seed: 0,
            output: PathBuf::from("output.txt"),
            lease: 3.0,
            retry: 0.1,
            give_up: 2000.0,
            db_latency: 1.0,
            op_latency: 0.0,
            chunk: 5,
            chunk_pause: 2.0,
            text: RECORD.to_string(),
            clock: ClockKind::Real,
            schedule: Vec::new(),
            store: StoreUrl::Memory,
            namespace: "joblock".into(),
            mode: Mode::Standalone,
            broken: None,
            wait: WaitMode::Race,
            threads: 0,
        }
    }
}

/// A scenario parameter that cannot work, naming the value.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

fn check_secs(name: &str, v: f64, allow_zero: bool) -> Result<(), ScenarioError> {
    // The flags' own ranges (events::schedule), so a scenario built in code cannot
    // overflow the clocks either.
    let low = if allow_zero { 0.0 } else { MIN_SECS };
    if !(low..=MAX_SECS).contains(&v) {
        return Err(ScenarioError(format!(
            "{name} must be between {low} and {MAX_SECS} seconds, got {v}"
        )));
    }
    Ok(())
}

impl Scenario {
    /// Checks every parameter; the message names the bad value.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.jobs == 0 {
            return Err(ScenarioError("--jobs must be at least 1, got 0".into()));
        }
        if self.clients == 0 {
            return Err(ScenarioError("--clients must be at least 1, got 0".into()));
        }
        if !(0.0..=1.0).contains(&self.crash_prob) {
            return Err(ScenarioError(format!(
                "--crash-prob must be between 0 and 1, got {}",
                self.crash_prob
            )));
        }
        if !(MIN_SPEED..=MAX_SPEED).contains(&self.speed) {
            return Err(ScenarioError(format!(
                "--speed must be between {MIN_SPEED} and {MAX_SPEED}, got {}",
                self.speed
            )));
        }
        if self.threads > 0 {
            super::thread_limits::Limits::of_this_machine()
                .check(self.threads)
                .map_err(ScenarioError)?;
        }
        check_secs("--lease", self.lease, false)?;
        check_secs("--retry", self.retry, false)?;
        check_secs("--give-up", self.give_up, true)?;
        check_secs("--db-latency", self.db_latency, true)?;
        check_secs("--op-latency", self.op_latency, true)?;
        check_secs("--chunk-pause", self.chunk_pause, true)?;
        if self.chunk == 0 {
            return Err(ScenarioError(
                "--chunk must be at least 1 byte, got 0".into(),
            ));
        }
        for (t, _) in &self.schedule {
            check_secs("a scheduled command's time", *t, true)?;
        }
        validate_namespace(&self.namespace)
            .map_err(|e| ScenarioError(format!("--namespace: {e}")))?;
        if let Mode::Worker { client } = &self.mode {
            if self.clients != 1 {
                return Err(ScenarioError(format!(
                    "a worker runs jobs of one client (--client), got --clients {}",
                    self.clients
                )));
            }
            if client.is_empty() || client.chars().any(|c| c.is_whitespace() || c == ':') {
                return Err(ScenarioError(format!(
                    "--client must be a name without spaces or ':', got {client:?}"
                )));
            }
            if self.clock == ClockKind::Virtual {
                return Err(ScenarioError(
                    "a worker shares its store with other processes, so it needs --clock real"
                        .into(),
                ));
            }
        }
        if self.store != StoreUrl::Memory && self.clock == ClockKind::Virtual {
            return Err(ScenarioError(
                "--clock virtual works only with the memory store: a server's time does not wait"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Every parameter a recording's header names, as the flags do (underscored):
    /// what it takes to run this scenario again. The store URL has no password.
    pub fn params(&self) -> Map<String, Value> {
        let clock = match self.clock {
            ClockKind::Real => "real",
            ClockKind::Virtual => "virtual",
        };
        let wait = match self.wait {
            WaitMode::Race => "race",
            WaitMode::Queue => "queue",
        };
        let at: Vec<String> = self
            .schedule
            .iter()
            .map(|(t, c)| format_at(*t, c))
            .collect();
        let Value::Object(mut params) = json!({
            "jobs": self.jobs,
            "clients": self.clients,
            "crash_prob": self.crash_prob,
            "speed": self.speed,
            "seed": self.seed,
            "lease": self.lease,
            "retry": self.retry,
            "give_up": self.give_up,
            "db_latency": self.db_latency,
            "op_latency": self.op_latency,
            "chunk": self.chunk,
            "chunk_pause": self.chunk_pause,
            "clock": clock,
            "wait": wait,
            "store": self.store.redacted(),
            "namespace": self.namespace,
            "output": self.output.to_string_lossy(),
            "at": at,
        }) else {
            return Map::new();
        };
        if let Mode::Worker { client } = &self.mode {
            params.insert("client".into(), client.clone().into());
        }
        params
    }

    /// Client names: `client-1` .. `client-N` (a worker's own client name).
    pub fn client_names(&self) -> Vec<String> {
        match &self.mode {
            Mode::Worker { client } => vec![client.clone()],
            Mode::Standalone => (1..=self.clients).map(|i| format!("client-{i}")).collect(),
        }
    }

    /// Whether this process is one worker of many.
    pub fn is_worker(&self) -> bool {
        matches!(self.mode, Mode::Worker { .. })
    }

    /// The client (index) a job number belongs to: jobs are dealt round-robin.
    pub fn client_of(&self, job: u32) -> usize {
        ((job.max(1) - 1) % self.clients.max(1)) as usize
    }

    /// The output file of client `index`.
    ///
    /// With one client it is `--output` itself; with several, the client name goes
    /// before the extension: `output.txt` becomes `output.client-1.txt`, ...
    pub fn output_for(&self, index: usize) -> PathBuf {
        if self.clients <= 1 {
            return self.output.clone();
        }
        per_client_path(&self.output, &format!("client-{}", index + 1))
    }

    /// Every output path, in client order.
    pub fn outputs(&self) -> Vec<PathBuf> {
        (0..self.clients as usize)
            .map(|i| self.output_for(i))
            .collect()
    }

    /// The lock protocol's timing.
    pub fn lock_config(&self) -> LockConfig {
        LockConfig {
            lease: secs(self.lease),
            retry: secs(self.retry),
            give_up: secs(self.give_up),
        }
    }

    /// Chunks per record.
    pub fn chunks(&self) -> u32 {
        self.text.len().div_ceil(self.chunk) as u32
    }
}

/// `dir/stem.CLIENT.ext` for `dir/stem.ext`.
fn per_client_path(base: &Path, client: &str) -> PathBuf {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let name = match base.extension() {
        Some(ext) => format!("{stem}.{client}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{client}"),
    };
    base.with_file_name(name)
}

/// Seconds (already validated) as a `Duration`.
pub fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_classic_exercise() {
        let s = Scenario::default();
        assert_eq!((s.jobs, s.clients, s.chunk, s.chunks()), (25, 1, 5, 6));
        assert_eq!(s.text.len(), 27);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn per_client_outputs_put_the_client_before_the_extension() {
        let s = Scenario {
            clients: 2,
            output: PathBuf::from("/tmp/x/output.txt"),
            ..Scenario::default()
        };
        assert_eq!(
            s.outputs(),
            vec![
                PathBuf::from("/tmp/x/output.client-1.txt"),
                PathBuf::from("/tmp/x/output.client-2.txt")
            ]
        );
    }

    #[test]
    fn params_name_every_flag_and_no_password() {
        let s = Scenario {
            store: StoreUrl::Postgres("postgres://u:secret@h/db".into()),
            schedule: vec![(40.5, Command::Kill(crate::events::Target::Holder(None)))],
            mode: Mode::Worker {
                client: "acme".into(),
            },
            ..Scenario::default()
        };
        let p = s.params();
        for key in [
            "jobs",
            "clients",
            "crash_prob",
            "speed",
            "seed",
            "lease",
            "retry",
            "give_up",
            "db_latency",
            "op_latency",
            "chunk",
            "chunk_pause",
            "clock",
            "wait",
            "store",
            "namespace",
            "output",
            "at",
            "client",
        ] {
            assert!(p.contains_key(key), "no {key} in {p:?}");
        }
        assert_eq!(p["store"], "postgres://u@h/db");
        assert_eq!(p["at"], json!(["40.5:kill"]));
        assert_eq!((&p["jobs"], &p["clock"]), (&json!(25), &json!("real")));
    }

    #[test]
    fn bad_values_are_named() {
        let s = Scenario {
            crash_prob: 1.5,
            ..Scenario::default()
        };
        assert!(s.validate().unwrap_err().0.contains("1.5"));
        let s = Scenario {
            lease: -1.0,
            ..Scenario::default()
        };
        assert!(s.validate().unwrap_err().0.contains("--lease"));
    }
}
