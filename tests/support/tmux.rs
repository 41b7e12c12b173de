//! A private tmux server running one program in a pseudo-terminal, for the tests
//! of the terminal front ends (`tests/tui_smoke.rs`, `tests/watch_live.rs`): keys
//! go in with `send-keys`, the screen comes back with `capture-pane`.
//!
//! tmux is a separate process with no channel to wait on, so a test polls the
//! pane: a bounded number of captures a short sleep apart, failing with the last
//! screen. Each server's socket lives in the test's temporary directory (`-S`): it
//! cannot collide with another run or the user's tmux.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

/// Pause between two captures of the pane.
pub const POLL: Duration = Duration::from_millis(100);
/// Captures before a wait gives up (30 s: the dashboard reacts within a frame).
pub const POLLS: usize = 300;

/// A private tmux server running one session; killed when dropped.
pub struct Tmux {
    socket: PathBuf,
    session: String,
    dir: PathBuf,
}

impl Tmux {
    /// Starts `command` in a detached 120x40 session of a new server.
    pub fn start(dir: &Path, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
            session: "smoke".into(),
            dir: dir.to_path_buf(),
        };
        let dir_arg = dir.display().to_string();
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            &tmux.session,
            "-c",
            &dir_arg,
            command,
        ]);
        tmux
    }

    /// Runs a tmux command on this server; fails the test if tmux does.
    fn run(&self, args: &[&str]) -> Output {
        let out = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux {args:?}: {e}"));
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("tmux");
        // No user configuration: the session must look the same everywhere.
        cmd.arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .current_dir(&self.dir);
        cmd
    }

    /// Sends keys (tmux key names: `Escape`, `Space`, or plain characters).
    pub fn send(&self, key: &str) {
        self.run(&["send-keys", "-t", &self.session, key]);
    }

    /// The visible pane, as text.
    pub fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the pane until `done` holds; fails with the last screen after [`POLLS`].
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.wait_or_retry(what, done, || {})
    }

    /// Like [`wait_for`](Self::wait_for), calling `retry` every second while waiting.
    pub fn wait_or_retry(
        &self,
        what: &str,
        done: impl Fn(&str) -> bool,
        retry: impl Fn(),
    ) -> String {
        let mut screen = String::new();
        for i in 0..POLLS {
            screen = self.capture();
            if done(&screen) {
                return screen;
            }
            if i % 10 == 9 {
                retry();
            }
            thread::sleep(POLL);
        }
        panic!(
            "gave up waiting for {what} after {POLLS} captures {POLL:?} apart; last screen:\n{screen}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command(&["kill-server"]).output();
    }
}

/// Fails the test, naming the fix, when tmux cannot be run (a test that skipped
/// itself would pass on the machine where it checked nothing).
pub fn require_tmux() {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "tmux is not installed: the terminal tests (dashboard, watch) need it; run the tests with \
         scripts/test (it installs it), or apt-get install -y tmux"
    );
}

/// A string as one single-quoted shell word.
pub fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The first line a command writes to `path` (e.g. `echo EXIT=$? > path` after
/// the program ends), polled for as long as [`Tmux::wait_for`] waits; empty if none came.
pub fn await_line(path: &Path) -> String {
    let mut text = String::new();
    for _ in 0..POLLS {
        text = fs::read_to_string(path).unwrap_or_default();
        if text.ends_with('\n') {
            break;
        }
        thread::sleep(POLL);
    }
    text
}
