//! joblock's command line: parse the arguments, pick a mode, map the outcome to an
//! exit code (0 verified, 1 verification or invariant failed, 2 usage, 3 runtime or
//! trouble: a halted run, such as a store that forgot or an output out of step with
//! its lock; `locks`: 1 refused or not found, 69 store unreachable).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod cli_counts;
mod events_file;
mod locks_cmd;
mod replay_cmd;
mod run_cmd;
mod timeline_cmd;
mod usage;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use cli::{BrokenArg, ReseedArgs, RunArgs, Sub, TortureArgs, VerifyArgs, WatchArgs, WorkerArgs};
use joblock::engine::{self, seeds};
use joblock::events::recording::{RecordingHeader, Source};
use joblock::sanitize::printable;
use joblock::{headless, paths, torture, verify, watch};

const FAILED: u8 = 1;
pub(crate) const USAGE: u8 = 2;
const RUNTIME: u8 = 3;

fn main() -> ExitCode {
    // The guardian of `joblock run` is this executable again; it starts before
    // any argument parsing, so it is up in a millisecond.
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(joblock::run::guard::GUARD_SUBCOMMAND))
    {
        return ExitCode::from(joblock::run::guard::guard_main());
    }
    let cli = match usage::parse() {
        Ok(cli) => cli,
        Err(e) => return usage::usage_error(&e),
    };
    let outcome = match cli.command {
        Some(Sub::Verify(args)) => run_verify(&args),
        Some(Sub::Worker(args)) => run_worker(&args),
        Some(Sub::Watch(args)) => run_watch(&args),
        Some(Sub::Torture(args)) => run_torture(&args),
        Some(Sub::Reseed(args)) => run_reseed(&args),
        Some(Sub::Run(args)) => return run_cmd::run_command(&args),
        Some(Sub::Locks(args)) => locks_cmd::run_locks(&args),
        Some(Sub::Replay(args)) => replay_cmd::run_replay(&args),
        Some(Sub::Timeline(args)) => return timeline_cmd::run_timeline(&args),
        None => run_scenario(&cli.run),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", printable(&format!("{e:#}")));
            ExitCode::from(RUNTIME)
        }
    }
}

/// `joblock verify`: 2 for a path that is no regular file, 3 for one that cannot
/// be read (or is over `verify::MAX_FILE`).
fn run_verify(args: &VerifyArgs) -> Result<ExitCode> {
    let verdict = match verify::check_path(&args.path, args.expect) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {}", printable(&e.to_string()));
            let code = if e.is_not_regular() { USAGE } else { RUNTIME };
            return Ok(ExitCode::from(code));
        }
    };
    println!("{}", printable(&verdict.line(&args.path)));
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILED)
    })
}

fn run_reseed(args: &ReseedArgs) -> Result<ExitCode> {
    use joblock::reseed::{Reseeded, reseed};
    joblock::store::url::validate_namespace(&args.namespace).map_err(anyhow::Error::msg)?;
    let fence = joblock::output::FencedOutput::fence_path_of(&args.output);
    for path in [&args.output, &fence] {
        if let Err(e) = paths::check_output(path) {
            eprintln!("error: --output: {}", printable(&e.to_string()));
            return Ok(ExitCode::from(USAGE));
        }
    }
    let (url, ns) = (args.store.clone(), args.namespace.clone());
    // Bounded: a server that never answers is reported, not waited on.
    let store = joblock::store::open_within(
        args.store.kind(),
        joblock::store::bounded::DEFAULT_LIMIT,
        move || {
            joblock::store::open_store(
                &url,
                &ns,
                &joblock::clock::Clock::real(1.0),
                joblock::store::MemoryConfig::default(),
                seeds::fresh_seed(),
            )
        },
    )
    .with_context(|| format!("cannot open the store {}", args.store.kind()))?;
    let key = joblock::lock::lock_key("worker", &args.client);
    let done = reseed(
        &store,
        &key,
        &args.output,
        args.force,
        args.keep_unconfirmed,
    )?;
    let left = joblock::reseed::unconfirmed(&args.output)?;
    if left > 0 && !args.keep_unconfirmed {
        println!(
            "note: a release of {left} more bytes was announced but never confirmed (no job reported it); the next holder cuts them (--keep-unconfirmed keeps them)"
        );
    }
    let ns = &args.namespace;
    let line = match done {
        Reseeded::Restored { fence, committed } => format!(
            "restored {key} in namespace {ns:?} from {}: fence {fence}, {committed} bytes committed",
            args.output.display()
        ),
        Reseeded::Raised { fence, committed } => format!(
            "raised {key} in namespace {ns:?} to the record of {}: fence {fence}, {committed} bytes committed",
            args.output.display()
        ),
        Reseeded::InStep => format!(
            "{key} in namespace {ns:?} already agrees with {}: nothing written",
            args.output.display()
        ),
    };
    println!("{}", printable(&line));
    Ok(ExitCode::SUCCESS)
}

fn run_scenario(args: &RunArgs) -> Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(seeds::fresh_seed);
    let scenario = args.scenario(seed);
    launch(args, scenario, true)
}

/// One worker of many: always headless, jobs of one client, shared store and output.
fn run_worker(args: &WorkerArgs) -> Result<ExitCode> {
    let seed = args.run.seed.unwrap_or_else(seeds::fresh_seed);
    let mut scenario = args.run.scenario(seed);
    scenario.mode = engine::Mode::Worker {
        client: args.client.clone(),
    };
    launch(&args.run, scenario, false)
}

fn run_watch(args: &WatchArgs) -> Result<ExitCode> {
    let options = watch::Options {
        namespace: args.namespace.clone(),
        interval: std::time::Duration::from_secs_f64(args.interval),
        lease: std::time::Duration::from_secs_f64(args.lease),
    };
    if args.once || !io::stdout().is_terminal() || dumb_terminal() {
        let out = watch::once(&args.store, &options)?;
        let stdout = io::stdout();
        let mut w = stdout.lock();
        if args.json {
            serde_json::to_writer_pretty(&mut w, &out)?;
            writeln!(w)?;
        } else {
            watch::write_text(&out, &options.namespace, &mut w)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    watch::live(&args.store, &options)?;
    Ok(ExitCode::SUCCESS)
}

fn run_torture(args: &TortureArgs) -> Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(seeds::fresh_seed);
    let campaign = torture::Campaign {
        runs: args.runs,
        seed,
        broken: args.break_lock.map(|b| match b {
            BrokenArg::BlindAcquire => joblock::lock::Broken::BlindAcquire,
            BrokenArg::UncheckedRelease => joblock::lock::Broken::UncheckedRelease,
        }),
    };
    let dir = std::env::temp_dir().join(format!("joblock-torture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bar = io::stderr().is_terminal();
    if !args.json {
        println!("torture: {} runs from seed {seed}", args.runs);
    }
    let report = torture::campaign(&campaign, &dir, |done, r| {
        if bar {
            let width = 30;
            let filled = (done as usize * width) / args.runs.max(1) as usize;
            eprint!(
                "\r[{}{}] {done}/{} runs, {} faults",
                "#".repeat(filled),
                " ".repeat(width - filled),
                args.runs,
                r.faults.values().sum::<u64>()
            );
        }
    });
    if bar {
        eprintln!();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let report = report?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        torture::write_report(&report, &mut out)?;
    }
    Ok(if report.failure.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILED)
    })
}

/// Starts a validated scenario in the dashboard (if allowed and on a terminal) or headless.
fn launch(args: &RunArgs, scenario: engine::Scenario, dashboard: bool) -> Result<ExitCode> {
    if let Err(e) = scenario.validate() {
        eprintln!("error: {}", printable(&e.to_string()));
        return Ok(ExitCode::from(USAGE));
    }
    if let Err(e) = check_paths(args, &scenario) {
        eprintln!("error: {}", printable(&e));
        return Ok(ExitCode::from(USAGE));
    }
    // The events file is checked before the run starts (so a bad path leaves no
    // truncated outputs behind) and emptied only once the run has started.
    let events = match &args.events {
        Some(path) => events_file::EventsFile::probe(path)?,
        None => None,
    };
    let mut dashboard = dashboard && !args.headless && !args.json && io::stdout().is_terminal();
    if dashboard && dumb_terminal() {
        eprintln!("TERM=dumb: printing events instead of the dashboard (--headless)");
        dashboard = false;
    }
    let source = match (scenario.is_worker(), dashboard) {
        (true, _) => Source::Worker,
        (false, true) => Source::Dashboard,
        (false, false) => Source::Headless,
    };
    let header = RecordingHeader::new(source, scenario.params());
    if dashboard {
        return run_dashboard(scenario, events, &header);
    }
    let handle = match engine::start(scenario) {
        Ok(h) => h,
        Err(e) => {
            if let Some(ev) = events {
                ev.abandon();
            }
            return Err(e.into());
        }
    };
    stop_on_ctrl_c(handle.commands());
    let mut record = match events {
        Some(ev) => Some(ev.begin(&header)?),
        None => None,
    };
    let opts = headless::Options {
        json: args.json,
        verbose: args.verbose,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let summary = headless::run(
        handle,
        opts,
        &mut out,
        record.as_mut().map(|w| w as &mut dyn Write),
    )?;
    drop(out);
    Ok(verdict_code(&summary))
}

/// Every file the run writes (each output, its `PATH.fence`, `--events`) is a
/// regular file or nothing yet: a usage error naming the flag and the path
/// otherwise, before anything is created or truncated.
fn check_paths(args: &RunArgs, scenario: &engine::Scenario) -> Result<(), String> {
    let flagged = |flag: &str, e: paths::NotRegular| format!("{flag}: {e}");
    for out in scenario.outputs() {
        paths::check_output(&out).map_err(|e| flagged("--output", e))?;
        let fence = joblock::output::FencedOutput::fence_path_of(&out);
        paths::check_output(&fence).map_err(|e| flagged("--output", e))?;
    }
    if let Some(ev) = args.events.as_deref().filter(|p| !paths::is_dev_null(p)) {
        paths::check_output(ev).map_err(|e| flagged("--events", e))?;
    }
    Ok(())
}

/// A terminal that says it cannot draw a full-screen view (`TERM=dumb`).
fn dumb_terminal() -> bool {
    std::env::var_os("TERM").is_some_and(|t| t == "dumb")
}

/// The exit code a finished run earns: 1 if an output or invariant failed, 3 if
/// something went wrong outside the lock (each said on stderr, one line each: a
/// halt, whether the store forgot or the output is out of step, is one), else 0.
fn verdict_code(summary: &joblock::events::Summary) -> ExitCode {
    for t in &summary.trouble {
        eprintln!("error: {}", printable(t));
    }
    if !summary.passed() {
        ExitCode::from(FAILED)
    } else if !summary.trouble.is_empty() {
        ExitCode::from(RUNTIME)
    } else {
        ExitCode::SUCCESS
    }
}

/// The dashboard; its exit code follows the last run's verdict like headless.
fn run_dashboard(
    scenario: engine::Scenario,
    events: Option<events_file::EventsFile>,
    header: &RecordingHeader,
) -> Result<ExitCode> {
    // Outputs are created (and checked) by the engine when the dashboard starts it,
    // so the events file is emptied first; a failed start removes it again.
    let recorder = match events {
        Some(ev) => {
            let path = ev.path.clone();
            let existed = ev.existed;
            let w = ev.begin(header)?;
            Some((Box::new(w) as Box<dyn Write>, path, existed))
        }
        None => None,
    };
    let (writer, cleanup) = match recorder {
        Some((w, path, existed)) => (Some(w), Some((path, existed))),
        None => (None, None),
    };
    // `r` restarts with a new seed: that run is recorded to a file of its own.
    let next = cleanup
        .as_ref()
        .map(|(path, _)| events_file::next_recordings(path.clone()));
    let summary = match joblock::tui::run(scenario, writer, next) {
        Ok(s) => s,
        Err(e) => {
            if let Some((path, false)) = cleanup
                && matches!(e, joblock::tui::TuiError::Engine(_))
            {
                let _ = std::fs::remove_file(path);
            }
            return Err(e.into());
        }
    };
    if let Some(s) = &summary {
        for o in &s.outputs {
            println!("{}", printable(&o.verdict));
        }
        for v in &s.violations {
            println!("invariant broken: {}", printable(v));
        }
    }
    Ok(match summary {
        Some(s) => verdict_code(&s),
        None => ExitCode::SUCCESS,
    })
}

/// First Ctrl-C: stop the run cleanly (partial writes repaired, summary printed);
/// a second one exits at once.
fn stop_on_ctrl_c(commands: crossbeam_channel::Sender<joblock::events::Command>) {
    let mut pressed = false;
    let installed = ctrlc::set_handler(move || {
        if pressed {
            std::process::exit(130);
        }
        pressed = true;
        eprintln!(
            "stopping: every job ends and partial writes are repaired (Ctrl-C again to abort)"
        );
        let _ = commands.send(joblock::events::Command::Stop);
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will not stop the run cleanly: {e}");
    }
}
