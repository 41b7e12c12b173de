//! Running the real `joblock` binary with a deadline: a child that overruns it is
//! killed and reported, never waited on (an open of a FIFO blocks for ever).
#![allow(dead_code)] // each test binary uses what it needs of these

use std::ffi::OsStr;
use std::io::{Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one bounded run of the binary ended.
#[derive(Debug)]
pub struct Ended {
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// How long it ran.
    pub took: Duration,
}

impl Ended {
    /// Code, signal, time and both streams, for an assertion message.
    pub fn show(&self) -> String {
        format!(
            "exit {:?}, signal {:?}, {:.2?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.signal, self.took, self.stdout, self.stderr
        )
    }
}

/// Runs `joblock ARGS` in `dir` (stdin closed, `env` added), killing it after
/// `limit`: `Err` says it overran. The streams go to anonymous files, not pipes,
/// so a chatty child never blocks on a full pipe while it is polled.
pub fn joblock_within<S: AsRef<OsStr>>(
    dir: &Path,
    args: &[S],
    env: &[(&str, &OsStr)],
    limit: Duration,
) -> Result<Ended, String> {
    let mut out = tempfile::tempfile().map_err(|e| format!("a stdout file: {e}"))?;
    let mut err = tempfile::tempfile().map_err(|e| format!("a stderr file: {e}"))?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_joblock"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(err.try_clone().map_err(|e| e.to_string())?);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("start joblock: {e}"))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {limit:?}: killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait for joblock: {e}")),
        }
    };
    let took = start.elapsed();
    let read = |f: &mut std::fs::File| -> String {
        let mut bytes = Vec::new();
        let _ = f.rewind().and_then(|()| f.read_to_end(&mut bytes));
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok(Ended {
        code: status.code(),
        signal: status.signal(),
        stdout: read(&mut out),
        stderr: read(&mut err),
        took,
    })
}
