//! `joblock run`: the flags turned into a [`RunConfig`], checked before anything
//! is touched; the run itself lives in the library (`joblock::run`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::EventsFile;
use crate::cli::{CmdArgs, ConflictArg, LogFormatArg};
use joblock::run::report::LogFormat;
use joblock::run::{OnConflict, RunConfig};
use joblock::store::StoreUrl;

/// The longest duration any flag means: a century (longer values are clamped, so
/// no arithmetic on them overflows).
const CENTURY: f64 = 100.0 * 365.0 * 24.0 * 3600.0;

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
    joblock::lock::state::check_key(&args.key).map_err(anyhow::Error::msg)?;
    let events = match &args.events {
        Some(path) => Some(EventsFile::probe(path)?.begin()?.into_inner()?),
        None => None,
    };
    let config = RunConfig {
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
        events,
        log: match args.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        verbose: args.verbose,
    };
    config.check().map_err(anyhow::Error::msg)?;
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
