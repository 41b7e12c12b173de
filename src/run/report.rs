//! Where a wrapper's events and messages go: the `--events` file (JSON lines in
//! the engine's event vocabulary), and stderr as text lines or, with
//! `--log-format json`, as JSON lines for log collectors.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::events::{Event, Stamped};
use crate::sanitize::printable;
use crate::worker::Sink;

/// How the wrapper writes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Plain lines, only when something needs saying.
    Text,
    /// Every event and message as one JSON object per line.
    Json,
}

/// How much a message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Something went wrong but the wrapper copes.
    Warn,
    /// The wrapper stops because of it.
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// The wrapper's reporter: a [`Sink`] for the job body's heartbeat, and the
/// wrapper's own messages.
pub struct Reporter {
    format: LogFormat,
    events: Option<Mutex<BufWriter<File>>>,
    seq: AtomicU64,
    key: String,
    /// Print info messages in text mode too (`--verbose`).
    verbose: bool,
}

impl Reporter {
    /// A reporter writing to stderr in `format` and, if given, events to `events`.
    pub fn new(format: LogFormat, events: Option<File>, key: &str, verbose: bool) -> Reporter {
        Reporter {
            format,
            events: events.map(|f| Mutex::new(BufWriter::new(f))),
            seq: AtomicU64::new(0),
            key: key.to_string(),
            verbose,
        }
    }

    /// Says `msg` on stderr (text: `joblock: msg`, info only when verbose).
    pub fn say(&self, level: Level, msg: &str) {
        match self.format {
            LogFormat::Json => {
                let line =
                    json!({ "type": "log", "level": level.name(), "key": self.key, "msg": msg });
                eprintln!("{line}");
            }
            LogFormat::Text if level != Level::Info || self.verbose => {
                eprintln!("joblock: {}", printable(msg));
            }
            LogFormat::Text => {}
        }
    }

    /// Flushes the events file.
    pub fn flush(&self) {
        if let Some(f) = &self.events {
            let _ = f.lock().unwrap_or_else(|p| p.into_inner()).flush();
        }
    }
}

impl Sink for Reporter {
    fn report(&self, at: Duration, event: Event) {
        let stamped = Stamped {
            seq: self.seq.fetch_add(1, Ordering::SeqCst) + 1,
            t: at.as_secs_f64(),
            event,
        };
        if let Some(f) = &self.events {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            // A full disk must not stop the command: the events are a record, not
            // the work. Each line is flushed at once: a wrapper's events are few
            // (a heartbeat every lease/6), someone may follow the file while the
            // command runs, and a wrapper killed with SIGKILL keeps what it wrote.
            let _ = stamped.write_json_line(&mut *f);
            let _ = f.flush();
        }
        match (&stamped.event, self.format) {
            (_, LogFormat::Json) => {
                let mut err = std::io::stderr().lock();
                let _ = stamped.write_json_line(&mut err);
            }
            (Event::HeartbeatFailed { error, .. }, LogFormat::Text) => {
                self.say(Level::Warn, &format!("renewing the lease failed: {error}"));
            }
            _ => {}
        }
    }
}
