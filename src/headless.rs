//! The headless front end: the same event stream the dashboard folds, printed as
//! one line per event (or JSON lines), then a summary and the checker's verdict.
//!
//! Waiters retry every 0.1 s, so the raw stream holds tens of thousands of lock
//! attempts; the text view prints a waiter's attempt only when what it sees changes
//! (its first attempt, a new holder or fence, a lost race, a store error), unless
//! `verbose`. JSON lines and the `--events` file always carry every event.

use crate::sanitize::printable;
use std::io::{self, Write};

use crate::describe::{AttemptFilter, describe};
use crate::engine::floor::Crossings;
use crate::engine::{EngineError, RunHandle};
use crate::events::{Command, Event, Stamped, Summary};

/// How to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// JSON lines instead of text.
    pub json: bool,
    /// Print every lock attempt in text mode.
    pub verbose: bool,
}

/// Prints one event as text with its scenario time.
pub fn text_line(s: &Stamped) -> String {
    format!("[{:>10.3}s] {}", s.t, describe(&s.event))
}

/// Drives a run to its end, printing to `out` and recording to `record`.
///
/// A failing `out` (a closed pipe) stops the printing, not the run; a failing
/// `record` is reported as an error after the run.
pub fn run(
    handle: RunHandle,
    opts: Options,
    out: &mut dyn Write,
    mut record: Option<&mut dyn Write>,
) -> Result<Summary, HeadlessError> {
    let mut filter = AttemptFilter::default();
    let mut printing = true;
    let mut record_error = None;
    let mut summary = None;
    let mut floor = Crossings::default();
    for s in handle.events().iter() {
        if let Some(w) = record.as_deref_mut()
            && record_error.is_none()
            && let Err(e) = s.write_json_line(w)
        {
            record_error = Some(e);
        }
        // Before the event's own line, so a run too fast for this machine says so
        // first; JSON lines stay JSON (the event carries the figures), so the
        // warning goes to stderr there.
        if let Some(line) = floor.line(&s.event) {
            if opts.json {
                eprintln!("{line}");
            } else if printing && writeln!(out, "{line}").is_err() {
                printing = false;
                if record.is_none() {
                    let _ = handle.commands().send(Command::Stop);
                }
            }
        }
        if printing && (opts.json || opts.verbose || filter.shows(&s.event)) {
            printing = if opts.json {
                s.write_json_line(out).is_ok()
            } else {
                writeln!(out, "{}", text_line(&s)).is_ok()
            };
            if printing && handle.events().is_empty() {
                printing = out.flush().is_ok();
            }
            if !printing && record.is_none() {
                // Nobody reads us any more (e.g. `| head`): stop the run cleanly
                // rather than running on for minutes with nowhere to report.
                let _ = handle.commands().send(Command::Stop);
            }
        }
        if let Event::RunFinished { summary: sum } = &s.event {
            summary = Some((**sum).clone());
            break;
        }
    }
    let joined = handle.join()?;
    let summary = summary.unwrap_or(joined);
    if printing && !opts.json {
        let _ = write_summary(&summary, out);
    }
    let _ = out.flush();
    if let Some(w) = record
        && let Err(e) = w.flush()
    {
        record_error.get_or_insert(e);
    }
    match record_error {
        Some(e) => Err(HeadlessError::Record(e)),
        None => Ok(summary),
    }
}

/// Why the headless front end failed.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The events file could not be written.
    #[error("cannot write the events file: {0}")]
    Record(io::Error),
}

/// Prints the end-of-run summary block.
pub fn write_summary(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "-- summary --")?;
    writeln!(
        out,
        "jobs      {}: {} finished, {} crashed, {} killed, {} fenced, {} gave up",
        s.jobs, s.finished, s.crashed, s.killed, s.fenced, s.gave_up
    )?;
    writeln!(
        out,
        "lock      {} handoffs, {} takeovers, {} repairs ({} bytes), {} writes rejected by fence",
        s.handoffs, s.takeovers, s.repairs, s.repaired_bytes, s.writes_rejected
    )?;
    writeln!(out, "store ops {}{}", s.store_ops, s.per_acquisition_text())?;
    if !s.faults.is_empty() {
        let list: Vec<String> = s.faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(out, "faults    {}", list.join(", "))?;
    }
    writeln!(
        out,
        "wait      mean {:.3}s, max {:.3}s",
        s.mean_wait, s.max_wait
    )?;
    let ratio = if s.serial_time > 0.0 {
        format!(" ({:.3}x)", s.total_time / s.serial_time)
    } else {
        String::new()
    };
    writeln!(
        out,
        "time      {:.3}s total against {:.3}s serial sum of job time{ratio}",
        s.total_time, s.serial_time
    )?;
    if s.violations.is_empty() {
        writeln!(out, "invariants all hold")?;
    } else {
        for v in &s.violations {
            writeln!(out, "invariant BROKEN: {}", printable(v))?;
        }
    }
    for t in &s.trouble {
        writeln!(out, "trouble   {}", printable(t))?;
    }
    for o in &s.outputs {
        writeln!(out, "verdict   {}", printable(&o.verdict))?;
    }
    if s.outputs.is_empty() {
        writeln!(
            out,
            "verdict   not checked here: the output is shared with other workers; once all are done run `joblock verify PATH --expect <finished in all workers>`"
        )?;
    }
    Ok(())
}
