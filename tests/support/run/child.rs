//! The command the tests run under the lock, and what it leaves: a python script
//! that appends timestamped lines to a log in the test's working directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::poll;

/// The command the tests run under the lock: `python3 child.py LOG MODE ...`.
/// Every line it appends to LOG is `FENCE KIND NANOS PID` (FENCE from
/// `JOBLOCK_FENCE`, NANOS wall-clock nanoseconds), written with one `write` on an
/// `O_APPEND` file, so several commands can share one log.
///
/// * `span SECS`: `start`, sleep SECS, `end`.
/// * `tick [SECS] [ignore-term]`: `start`, then a `tick` every 10 ms, for SECS
///   (for ever without), then `end`; with `ignore-term` SIGTERM is ignored;
///   SIGUSR1 and SIGUSR2 are logged as `usr1` and `usr2`.
/// * `env`: `JOBLOCK_KEY=...`, `JOBLOCK_FENCE=...`, `JOBLOCK_OWNER=...` lines instead.
const CHILD: &str = r#"
import os, signal, sys, time
log, mode, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
fence = os.environ.get("JOBLOCK_FENCE", "-")
def put(kind):
    line = "%s %s %d %d\n" % (fence, kind, time.time_ns(), os.getpid())
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, line.encode())
    os.close(fd)
if mode == "span":
    put("start")
    time.sleep(float(rest[0]))
    put("end")
elif mode == "tick":
    if "ignore-term" in rest:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda *_: put("usr1"))
    signal.signal(signal.SIGUSR2, lambda *_: put("usr2"))
    secs = [float(a) for a in rest if a != "ignore-term"]
    end = time.monotonic() + (secs[0] if secs else 1e9)
    put("start")
    while time.monotonic() < end:
        put("tick")
        time.sleep(0.01)
    put("end")
elif mode == "env":
    with open(log, "w") as f:
        for k in ("JOBLOCK_KEY", "JOBLOCK_FENCE", "JOBLOCK_OWNER"):
            f.write("%s=%s\n" % (k, os.environ.get(k, "")))
else:
    sys.exit("unknown mode " + mode)
"#;

/// One line of a command's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `JOBLOCK_FENCE` of the command that wrote it.
    pub fence: u64,
    /// `start`, `tick` or `end`.
    pub kind: String,
    /// Wall-clock nanoseconds.
    pub ns: u128,
    /// The writer's pid.
    pub pid: u32,
}

/// A test's working directory: the child script, logs, events and stderr files.
pub struct Workdir {
    dir: tempfile::TempDir,
    script: PathBuf,
}

impl Workdir {
    /// A fresh directory with the child script in it.
    pub fn new() -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("joblock-run-")
            .tempdir()
            .expect("create a temporary directory");
        let script = dir.path().join("child.py");
        std::fs::write(&script, CHILD).expect("write the child script");
        Workdir { dir, script }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `dir/name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The command line `python3 child.py dir/LOG MODE ARGS...`.
    pub fn child(&self, log: &str, mode: &str, args: &[&str]) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![
            "python3".into(),
            self.script.clone().into(),
            self.file(log).into(),
            mode.into(),
        ];
        argv.extend(args.iter().map(OsString::from));
        argv
    }

    /// The lines of log `name` so far (none if it does not exist yet); a line
    /// being written is left out.
    pub fn log(&self, name: &str) -> Vec<Line> {
        let text = std::fs::read_to_string(self.file(name)).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(w.len(), 4, "bad log line {l:?} in {name}");
                fn field<T: std::str::FromStr>(w: &[&str], i: usize) -> T {
                    w[i].parse()
                        .unwrap_or_else(|_| panic!("bad field {i} in log line {w:?}"))
                }
                Line {
                    fence: field(&w, 0),
                    kind: w[1].to_string(),
                    ns: field(&w, 2),
                    pid: field(&w, 3),
                }
            })
            .collect()
    }

    /// The lines of log `name` written by the command with `fence`.
    pub fn log_of(&self, name: &str, fence: u64) -> Vec<Line> {
        self.log(name)
            .into_iter()
            .filter(|l| l.fence == fence)
            .collect()
    }

    /// Waits until the command with `fence` has written `n` lines to log `name`.
    pub fn await_lines(&self, name: &str, fence: u64, n: usize) -> Vec<Line> {
        poll(&format!("{n} lines of fence {fence} in {name}"), || {
            let lines = self.log_of(name, fence);
            (lines.len() >= n).then_some(lines)
        })
    }
}
