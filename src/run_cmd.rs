//! `joblock run`: the flags turned into a [`RunConfig`], checked before anything
//! is touched; the run itself lives in the library (`joblock::run`).

use std::process::ExitCode;
use std::time::Duration;

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use crate::cli::{namespace, store_url};
use crate::events_file::EventsFile;
use joblock::events::recording::{RecordingHeader, Source};
use joblock::events::schedule::{non_negative, positive};
use joblock::run::report::LogFormat;
use joblock::run::{OnConflict, RunConfig};
use joblock::store::StoreUrl;

/// The longest duration any flag means: a century (longer values are clamped, so
/// no arithmetic on them overflows).
const CENTURY: f64 = 100.0 * 365.0 * 24.0 * 3600.0;

/// What `joblock run` does when the lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConflictArg {
    /// Wait until it is free (or --wait-timeout passes: exit 75).
    Wait,
    /// Exit 0 at once, naming the holder on stderr.
    Skip,
    /// Exit 75 (or --conflict-exit-code) at once.
    Fail,
}

/// How `joblock run` writes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Plain lines, only when something needs saying.
    Text,
    /// One JSON object per line: every event and message.
    Json,
}

/// `joblock run [--store URL] --key KEY [options] -- COMMAND [ARGS...]`
#[derive(Debug, Args)]
pub struct CmdArgs {
    /// The lock to hold, e.g. worker:acme.
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// Where the lock lives (default: $JOBLOCK_STORE, else an SQLite file in the user's state directory).
    #[arg(long, value_name = "URL", value_parser = store_url)]
    pub store: Option<StoreUrl>,
    /// The namespace in the store.
    #[arg(long, value_name = "NAME", default_value = "joblock", value_parser = namespace)]
    pub namespace: String,
    /// When the lock is held: wait, skip (exit 0) or fail (exit 75).
    #[arg(long, value_enum, default_value_t = ConflictArg::Wait)]
    pub on_conflict: ConflictArg,
    /// Stop waiting after this many seconds and exit 75.
    #[arg(long, value_name = "SECS", allow_hyphen_values = true, value_parser = non_negative)]
    pub wait_timeout: Option<f64>,
    /// The exit code for a held lock (skip excepted) and a wait timeout.
    #[arg(long, value_name = "N", default_value_t = 75, allow_hyphen_values = true, value_parser = exit_code)]
    pub conflict_exit_code: u8,
    /// Lease length in seconds: how long a silent wrapper keeps the lock.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, allow_hyphen_values = true, value_parser = positive)]
    pub lease: f64,
    /// Seconds between SIGTERM and SIGKILL when the command must stop, at most half
    /// the lease [default: 10, or half the lease if that is shorter].
    #[arg(long, value_name = "SECS", allow_hyphen_values = true, value_parser = non_negative)]
    pub grace: Option<f64>,
    /// Seconds between attempts while waiting on a store that does not notify.
    #[arg(long, value_name = "SECS", default_value_t = 0.1, allow_hyphen_values = true, value_parser = positive)]
    pub retry: f64,
    /// Seconds any one store call may take before it counts as failed.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, allow_hyphen_values = true, value_parser = positive)]
    pub store_timeout: f64,
    /// Record the lifecycle as JSON lines (the run's event vocabulary) to this file.
    #[arg(long, value_name = "PATH")]
    pub events: Option<PathBuf>,
    /// How joblock's own lines on stderr look.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    /// Also say what happens when all goes well.
    #[arg(long)]
    pub verbose: bool,
    /// The command and its arguments (after --; everything from the first word that
    /// is not one of run's options on belongs to the command).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<std::ffi::OsString>,
}

fn exit_code(s: &str) -> Result<u8, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an exit code: use a whole number from 0 to 255"))
}

/// The grace when `--grace` is not given (and the lease is at least twice as long).
const DEFAULT_GRACE: f64 = 10.0;

/// A number as a person would write it: `1e-300`, not three hundred zeros.
fn shown(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e9) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Seconds as a duration, clamped to [0, a century].
fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.clamp(0.0, CENTURY))
}

/// The store `run` uses: `--store`, else the default (`cli::default_store`).
fn resolve_store(flag: Option<&StoreUrl>) -> Result<StoreUrl> {
    match flag {
        Some(url) => Ok(url.clone()),
        None => crate::cli::default_store().map_err(anyhow::Error::msg),
    }
}

/// The run's configuration, or a one-line usage error.
fn config(args: &CmdArgs) -> Result<RunConfig> {
    let store = resolve_store(args.store.as_ref())?;
    if store == StoreUrl::Memory {
        bail!(
            "--store memory lives inside one process, so a lock there keeps nobody out: use sqlite://PATH (one machine), postgres:// or redis://"
        );
    }
    // Checked on the values as given, so the message names what the user typed,
    // and before the events file is touched.
    if args.store_timeout < 0.01 {
        bail!(
            "--store-timeout {} is too short: use at least 0.01",
            shown(args.store_timeout)
        );
    }
    if args.lease < 0.3 {
        bail!(
            "--lease {} is too short: use at least 0.3",
            shown(args.lease)
        );
    }
    if let Some(g) = args.grace
        && g > args.lease / 2.0
    {
        bail!(
            "--grace {} must be at most half of --lease {}: the command must be dead before the lease can be taken over",
            shown(g),
            shown(args.lease)
        );
    }
    joblock::lock::state::check_key(&args.key).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let mut config = RunConfig {
        store,
        namespace: args.namespace.clone(),
        key: args.key.clone(),
        argv: args.command.clone(),
        on_conflict: match args.on_conflict {
            ConflictArg::Wait => OnConflict::Wait,
            ConflictArg::Skip => OnConflict::Skip,
            ConflictArg::Fail => OnConflict::Fail,
        },
        wait_timeout: args.wait_timeout.map(secs),
        conflict_exit: args.conflict_exit_code,
        lease: secs(args.lease),
        grace: match args.grace {
            Some(g) => secs(g),
            None => secs(DEFAULT_GRACE.min(args.lease / 2.0)),
        },
        // Never poll harder than every millisecond, whatever was asked.
        retry: secs(args.retry).max(Duration::from_millis(1)),
        store_timeout: secs(args.store_timeout),
        events: None,
        log: match args.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        verbose: args.verbose,
    };
    config.check().map_err(anyhow::Error::msg)?;
    if let Some(path) = &args.events {
        let header = RecordingHeader::new(Source::Run, config.params());
        if let Some(ev) = EventsFile::probe(path)? {
            config.events = Some(ev.begin(&header)?.into_inner()?);
        }
    }
    Ok(config)
}

/// `joblock run`: exit code 2 for bad flags, else whatever the run ends with.
pub fn run_command(args: &CmdArgs) -> ExitCode {
    match config(args) {
        Ok(config) => ExitCode::from(joblock::run::run(config)),
        Err(e) => {
            eprintln!("error: {}", joblock::sanitize::printable(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
