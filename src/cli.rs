//! Command-line arguments. Flag names are an interface: scripts depend on them.
//!
//! Number flags take values that start with `-` (`allow_hyphen_values`), so
//! `--lease -inf` is refused as a bad `--lease` rather than as an unknown flag
//! `-i`; flags that take words or paths do not, so `--output --headless` cannot
//! swallow the next flag as a file name.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use joblock::engine::{ClockKind, Mode, Scenario, WaitMode};
use joblock::events::schedule::{non_negative, probability, seconds, seconds_or_zero, speed};
use joblock::events::{Command, parse_at};
use joblock::store::StoreUrl;
use joblock::store::url::validate_namespace;
use joblock::verify::RECORD;

use crate::cli_counts::{at_least_one, at_least_one_usize, job_count, thread_count};

/// See, test and trust a per-client job lock built on a tiny document-store API.
#[derive(Debug, Parser)]
#[command(name = "joblock", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A subcommand; without one, run the scenario.
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// The scenario to run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Check an output file: handout rule and strict rule. Exit 0 pass, 1 fail.
    Verify(VerifyArgs),
    /// Run N jobs of one client in this process against a shared store and output;
    /// start several (on one machine or many) and they serialize as threads do.
    Worker(WorkerArgs),
    /// Show the locks in a store, whoever runs their workers.
    Watch(WatchArgs),
    /// Attack the lock: N randomized scenarios with random fault schedules, each checked.
    Torture(TortureArgs),
    /// Run any command under the lock KEY: wait for it, run the command with the
    /// fence in its environment, stop it if the lease is lost, release when it ends.
    Run(crate::run_cmd::CmdArgs),
    /// After a store forgot its documents: write a lock back from its output's own
    /// record (fence, committed watermark), so that halted workers can go on.
    Reseed(ReseedArgs),
    /// List, show and release lock keys: who holds them, who waits, what happened.
    Locks(LocksArgs),
    /// Open the dashboard on a recorded run (--headless prints it).
    Replay(crate::replay_cmd::ReplayArgs),
    /// Draw a recording as a timeline picture (SVG, or HTML with hover details).
    Timeline(crate::timeline_cmd::TimelineArgs),
}

/// `joblock locks list|show|release`
#[derive(Debug, Args)]
pub struct LocksArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LocksSub,
}

/// The `locks` subcommands. Exit 0 ok, 1 refused or not found, 2 usage, 69 store
/// unreachable.
#[derive(Debug, Subcommand)]
pub enum LocksSub {
    /// Every lock key: state, fence, owner, holder, lease left and waiters.
    List(LocksListArgs),
    /// One key in detail, with its recent history.
    Show(LocksShowArgs),
    /// Revoke the holder at fence N (needs --force): it stops, then the next waiter
    /// acquires. A newer holder is never touched.
    Release(LocksReleaseArgs),
}

impl LocksSub {
    /// The store, namespace and format every subcommand takes.
    pub fn target(&self) -> &LocksTarget {
        match self {
            LocksSub::List(a) => &a.target,
            LocksSub::Show(a) => &a.target,
            LocksSub::Release(a) => &a.target,
        }
    }
}

/// Where the locks are and how to print them.
#[derive(Debug, Args)]
pub struct LocksTarget {
    /// The store (default: $JOBLOCK_STORE).
    #[arg(long, value_name = "URL", value_parser = store_url)]
    pub store: Option<StoreUrl>,
    /// The namespace the lock holders use.
    #[arg(long, value_name = "NAME", default_value = "joblock", value_parser = namespace)]
    pub namespace: String,
    /// JSON instead of text (stable field names, for scripts).
    #[arg(long)]
    pub json: bool,
}

impl LocksTarget {
    /// `--store`, or the default store.
    pub fn store(&self) -> Result<StoreUrl, String> {
        self.store.clone().map_or_else(default_store, Ok)
    }
}

/// `joblock locks list [--sample SECS]`
#[derive(Debug, Args)]
pub struct LocksListArgs {
    /// Look twice, SECS apart, to bound each lease left by whether its heartbeat
    /// moved (0: one look, which says only "at most the holder's lease").
    #[arg(long, value_name = "SECS", default_value = "0", allow_hyphen_values = true, value_parser = sample)]
    pub sample: Duration,
    /// Store, namespace, format.
    #[command(flatten)]
    pub target: LocksTarget,
}

/// `joblock locks show KEY`
#[derive(Debug, Args)]
pub struct LocksShowArgs {
    /// The key, as `joblock run --key` names it (e.g. worker:acme).
    #[arg(value_name = "KEY", value_parser = lock_key_arg)]
    pub key: String,
    /// Store, namespace, format.
    #[command(flatten)]
    pub target: LocksTarget,
}

/// `joblock locks release KEY --fence N --force`
#[derive(Debug, Args)]
pub struct LocksReleaseArgs {
    /// The key, as `joblock run --key` names it (e.g. worker:acme).
    #[arg(value_name = "KEY", value_parser = lock_key_arg)]
    pub key: String,
    /// The fence of the holder to revoke, as `locks list` shows it: if the lock has
    /// moved on to a newer holder, nothing is changed.
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = fence)]
    pub fence: u64,
    /// Required: revoking stops somebody's work.
    #[arg(long)]
    pub force: bool,
    /// Store, namespace, format.
    #[command(flatten)]
    pub target: LocksTarget,
}

/// The store `joblock run` and `joblock locks` use without `--store`:
/// `$JOBLOCK_STORE`, else the per-user SQLite file (`store::default_state_path`),
/// so that `locks` finds `run`'s keys with no flag at all.
pub fn default_store() -> Result<StoreUrl, String> {
    match std::env::var("JOBLOCK_STORE") {
        Ok(s) if !s.trim().is_empty() => {
            StoreUrl::parse(&s).map_err(|e| format!("JOBLOCK_STORE: {e}"))
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => joblock::store::default_state_path()
            .map(StoreUrl::Sqlite)
            .map_err(|e| format!("no --store given, JOBLOCK_STORE is not set, and {e}")),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(format!("JOBLOCK_STORE {v:?} is not valid UTF-8"))
        }
    }
}

/// The longest `--sample`: an hour (longer is surely a typo, and would not fit
/// every lease anyway).
const MAX_SAMPLE_SECS: f64 = 3600.0;

fn sample(s: &str) -> Result<Duration, String> {
    let v = non_negative(s)?;
    if v > MAX_SAMPLE_SECS {
        return Err(format!(
            "must be at most {MAX_SAMPLE_SECS} seconds, got {s}"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn fence(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| {
        format!("{s:?} is not a fence: use the whole number `joblock locks list` shows")
    })
}

fn lock_key_arg(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("an empty KEY names no lock".to_string());
    }
    Ok(s.to_string())
}

/// `joblock reseed --store URL [--namespace NAME] [--client C] [--output PATH] [--force]`
#[derive(Debug, Args)]
pub struct ReseedArgs {
    /// The store whose lock document is to be written back.
    #[arg(long, value_name = "URL", value_parser = store_url)]
    pub store: StoreUrl,
    /// The namespace the workers use.
    #[arg(long, value_name = "NAME", default_value = "joblock", value_parser = namespace)]
    pub namespace: String,
    /// The client whose lock it is (the workers' --client).
    #[arg(long, value_name = "C", default_value = "client-1")]
    pub client: String,
    /// The output that lock commits to (its PATH.fence holds the record).
    #[arg(long, value_name = "PATH", default_value = "output.txt")]
    pub output: PathBuf,
    /// Reseed even if somebody holds the lock (only once it is surely dead).
    #[arg(long)]
    pub force: bool,
    /// Also keep a record whose release was announced but never confirmed (one
    /// record more than the jobs reported, rather than one fewer than the store saw).
    #[arg(long)]
    pub keep_unconfirmed: bool,
}

/// A deliberately broken lock, to show that the campaign catches one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrokenArg {
    /// Take a free lock with a blind write instead of a compare-and-set.
    BlindAcquire,
    /// Release without checking owner and fence.
    UncheckedRelease,
}

/// `joblock torture --runs N [--seed S]`
#[derive(Debug, Args)]
pub struct TortureArgs {
    /// Scenarios to run.
    #[arg(long, value_name = "N", default_value_t = 100, allow_hyphen_values = true, value_parser = at_least_one)]
    pub runs: u32,
    /// Seed of the first run (run i uses S + i); random and printed when omitted.
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Test only: break the lock on purpose (the campaign must report it).
    #[arg(long, value_enum, hide = true)]
    pub break_lock: Option<BrokenArg>,
}

/// `joblock worker --store URL --client C --jobs N [--output PATH]`
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The client whose lock the jobs share.
    #[arg(long, value_name = "C", default_value = "client-1")]
    pub client: String,
    /// Every scenario flag applies (but --clients and --clock virtual).
    #[command(flatten)]
    pub run: RunArgs,
}

/// `joblock watch --store URL [--once] [--json]`
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The store to watch.
    #[arg(long, value_name = "URL", value_parser = store_url)]
    pub store: StoreUrl,
    /// The namespace the workers use.
    #[arg(long, value_name = "NAME", default_value = "joblock", value_parser = namespace)]
    pub namespace: String,
    /// Print the locks once and exit (for scripts; see --help for how long it looks).
    ///
    /// One look cannot tell a live holder from a dead one, so it keeps looking
    /// (every --interval, or every third of a holder's lease if that is shorter)
    /// until each held key's heartbeat has moved (`held`) or has stood still for
    /// the holder's whole lease (`expired`): live holders answer at their next
    /// renewal, a silent one after its whole lease, and never more than 120 s.
    #[arg(long)]
    pub once: bool,
    /// With --once: JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Seconds between two looks at the store (with --once: at most this).
    #[arg(long, value_name = "SECS", default_value_t = 0.5, allow_hyphen_values = true, value_parser = seconds)]
    pub interval: f64,
    /// Lease in seconds to judge a holder whose lock document records none (older
    /// versions); every other holder is judged by its own lease, in real time.
    #[arg(long, value_name = "SECS", default_value_t = 3.0, allow_hyphen_values = true, value_parser = seconds)]
    pub lease: f64,
}

/// `joblock verify [PATH] [--expect N]`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The file to check.
    #[arg(default_value = "output.txt")]
    pub path: PathBuf,
    /// Exactly this many records must be present (strict rule).
    #[arg(long, allow_hyphen_values = true, value_name = "N")]
    pub expect: Option<usize>,
}

/// How the jobs of one process wait for their lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WaitArg {
    /// Every waiter reads the store and races for a free lock (the classic exercise).
    Race,
    /// Waiters queue in arrival order; a release hands the lock to the first (real clock).
    Queue,
}

/// Which clock drives the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    /// Wall time times --speed.
    Real,
    /// Discrete-event time: as fast as the CPU allows, deterministic timing.
    Virtual,
}

/// The scenario flags (docs/PROTOCOL.md §1).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Jobs, each on its own thread once admitted (see --threads).
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 25, value_parser = job_count)]
    pub jobs: u32,
    /// Most job threads at once; jobs past it wait `queued`, costing no thread
    /// [default: from this machine's thread and memory-map limits, at most 1024]
    #[arg(long, allow_hyphen_values = true, value_name = "N", value_parser = thread_count)]
    pub threads: Option<u32>,
    /// Clients; each has its own lock key and output file.
    #[arg(long, allow_hyphen_values = true, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub clients: u32,
    /// Probability that a job crashes before writing.
    #[arg(long, allow_hyphen_values = true, value_name = "P", default_value_t = 0.2, value_parser = probability)]
    pub crash_prob: f64,
    /// Scenario seconds per real second; every duration is divided by it.
    #[arg(long, allow_hyphen_values = true, value_name = "X", default_value_t = 1.0, value_parser = speed)]
    pub speed: f64,
    /// Seed for every random draw (random and printed when omitted).
    #[arg(long, allow_hyphen_values = true, value_name = "S")]
    pub seed: Option<u64>,
    /// Output file (with several clients: one file per client, see README).
    #[arg(long, value_name = "PATH", default_value = "output.txt")]
    pub output: PathBuf,
    /// Lease length in seconds; the heartbeat renews every lease / 3.
    #[arg(long, allow_hyphen_values = true, value_name = "SECS", default_value_t = 3.0, value_parser = seconds)]
    pub lease: f64,
    /// Seconds between a waiter's attempts.
    #[arg(long, allow_hyphen_values = true, value_name = "SECS", default_value_t = 0.1, value_parser = seconds)]
    pub retry: f64,
    /// Seconds a waiter tries before it gives up.
    #[arg(long, allow_hyphen_values = true, value_name = "SECS", default_value_t = 2000.0, value_parser = seconds_or_zero)]
    pub give_up: f64,
    /// Maximum of the uniform latency of insert_one, seconds.
    #[arg(long, allow_hyphen_values = true, value_name = "SECS", default_value_t = 1.0, value_parser = seconds_or_zero)]
    pub db_latency: f64,
    /// Maximum of the uniform latency of every other store operation, seconds.
    #[arg(long, allow_hyphen_values = true, value_name = "SECS", default_value_t = 0.0, value_parser = seconds_or_zero)]
    pub op_latency: f64,
    /// Seconds of pause after every chunk.
    #[arg(long, allow_hyphen_values = true, value_name = "SECS", default_value_t = 2.0, value_parser = seconds_or_zero)]
    pub chunk_pause: f64,
    /// Bytes per write.
    #[arg(long, allow_hyphen_values = true, value_name = "BYTES", default_value_t = 5, value_parser = at_least_one_usize)]
    pub chunk: usize,
    /// Which clock: real (scaled by --speed) or virtual (as fast as possible).
    #[arg(long, value_enum, default_value_t = ClockArg::Real)]
    pub clock: ClockArg,
    /// How this process's jobs wait: race for the lock, or queue and be handed it.
    #[arg(long, value_enum, default_value_t = WaitArg::Race)]
    pub wait: WaitArg,
    /// Print events as lines instead of opening the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// Print events as JSON lines (implies --headless).
    #[arg(long)]
    pub json: bool,
    /// Also record every event as JSON lines to this file.
    #[arg(long, value_name = "PATH")]
    pub events: Option<PathBuf>,
    /// Print every lock attempt, not only those where what the waiter sees changes.
    #[arg(long)]
    pub verbose: bool,
    /// Where the lock documents live: memory, sqlite://PATH, postgres://user@host:port/db, redis://host:port.
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = store_url)]
    pub store: StoreUrl,
    /// Table name / key prefix that keeps runs and tenants apart in a shared store.
    #[arg(long, value_name = "NAME", default_value = "joblock", value_parser = namespace)]
    pub namespace: String,
    /// A fault at a scenario time, e.g. `40.5:kill`, `30:outage=5`, `10:lose=2`
    /// (repeatable; see the README for every action).
    #[arg(long = "at", value_name = "SECS:ACTION", allow_hyphen_values = true, value_parser = parse_at)]
    pub at: Vec<(f64, Command)>,
}

impl RunArgs {
    /// The scenario these flags describe, with the seed chosen.
    pub fn scenario(&self, seed: u64) -> Scenario {
        Scenario {
            jobs: self.jobs,
            clients: self.clients,
            crash_prob: self.crash_prob,
            speed: self.speed,
            seed,
            output: self.output.clone(),
            lease: self.lease,
            retry: self.retry,
            give_up: self.give_up,
            db_latency: self.db_latency,
            op_latency: self.op_latency,
            chunk: self.chunk,
            chunk_pause: self.chunk_pause,
            text: RECORD.to_string(),
            clock: match self.clock {
                ClockArg::Real => ClockKind::Real,
                ClockArg::Virtual => ClockKind::Virtual,
            },
            schedule: self.at.clone(),
            store: self.store.clone(),
            namespace: self.namespace.clone(),
            mode: Mode::Standalone,
            broken: None,
            wait: match self.wait {
                WaitArg::Race => WaitMode::Race,
                WaitArg::Queue => WaitMode::Queue,
            },
            threads: self.threads.unwrap_or(0),
        }
    }
}

pub(crate) fn store_url(s: &str) -> Result<StoreUrl, String> {
    StoreUrl::parse(s)
}

pub(crate) fn namespace(s: &str) -> Result<String, String> {
    validate_namespace(s).map(|_| s.to_string())
}
