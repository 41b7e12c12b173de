//! `joblock replay EVENTS.jsonl`: a recorded run, printed as the headless run
//! printed it (`--headless`, or stdout not a terminal), as its JSON lines
//! (`--json`), or played in the dashboard.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use joblock::describe::AttemptFilter;
use joblock::events::recording::{self, Recording};
use joblock::events::schedule::{non_negative, positive};
use joblock::headless::{text_line, write_summary};
use joblock::replay::{MAX_SPEED, MIN_SPEED};
use joblock::sanitize::printable;

/// `joblock replay EVENTS.jsonl [--headless] [--json] [--speed X] [--at SECS]`
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording: a file written by `--events` (joblock, worker or run).
    #[arg(value_name = "EVENTS.jsonl")]
    pub path: PathBuf,
    /// Print the run as text lines (and its summary) instead of opening the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// Print the events back as JSON lines, as `--json` printed them (implies --headless).
    #[arg(long)]
    pub json: bool,
    /// Print every lock attempt in text mode, not only those where what the waiter sees changes.
    #[arg(long)]
    pub verbose: bool,
    /// Dashboard: scenario seconds played per real second, from 1/64 to 1024.
    #[arg(long, value_name = "X", default_value_t = 1.0, allow_hyphen_values = true, value_parser = speed)]
    pub speed: f64,
    /// Dashboard: the scenario time to start at (past the end: at the end).
    #[arg(long, value_name = "SECS", default_value_t = 0.0, allow_hyphen_values = true, value_parser = non_negative)]
    pub at: f64,
}

/// A playback speed the player keeps as given.
fn speed(s: &str) -> Result<f64, String> {
    let v = positive(s)?;
    if !(MIN_SPEED..=MAX_SPEED).contains(&v) {
        return Err(format!("must be between 1/64 and {MAX_SPEED}, got {s}"));
    }
    Ok(v)
}

/// `joblock replay`: exit 2 (one line naming the file) when it cannot be replayed.
pub fn run_replay(args: &ReplayArgs) -> Result<ExitCode> {
    let recording = match recording::load(&args.path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", printable(&e.to_string()));
            return Ok(ExitCode::from(crate::USAGE));
        }
    };
    if recording.truncated_tail {
        let line = format!(
            "warning: the last line of {} is cut short (the recorder stopped mid-write): replaying the {} events before it",
            args.path.display(),
            recording.events.len()
        );
        eprintln!("{}", printable(&line));
    }
    if !(args.headless || args.json || !io::stdout().is_terminal()) {
        if !crate::dumb_terminal() {
            return Ok(interactive(recording, args.speed, args.at));
        }
        eprintln!("TERM=dumb: printing the recording instead of the dashboard (--headless)");
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match print(&recording, args, &mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A reader that left (`| head`) has what it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("cannot write the replay to stdout"),
    }
}

/// The dashboard on a recording, until `q`.
fn interactive(recording: Recording, speed: f64, at: f64) -> ExitCode {
    match joblock::tui::replay::run(recording, speed, at) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", printable(&e.to_string()));
            ExitCode::from(crate::RUNTIME)
        }
    }
}

/// The recording as the headless run printed it: a line about the recording, the
/// event lines, then the summary (or a line saying there is none).
fn print(r: &Recording, args: &ReplayArgs, out: &mut dyn Write) -> io::Result<()> {
    if args.json {
        for s in &r.events {
            s.write_json_line(out)?;
        }
        return Ok(());
    }
    let about = match &r.header {
        Some(h) => h.describe(),
        None => "recording: no header (a recording by an older joblock, format 0)".to_string(),
    };
    writeln!(out, "{}", printable(&about))?;
    let mut filter = AttemptFilter::default();
    for s in &r.events {
        if args.verbose || filter.shows(&s.event) {
            writeln!(out, "{}", text_line(s))?;
        }
    }
    match r.summary() {
        Some(summary) => write_summary(summary, out),
        None => writeln!(
            out,
            "recording ends at t={:.3}s without run_finished: the run was cut short, so there is no summary",
            r.end_time()
        ),
    }
}
