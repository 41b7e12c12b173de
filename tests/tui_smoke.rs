//! The whole program in a real terminal: the `joblock` binary runs in a detached
//! tmux session (a pseudo-terminal, so it opens the dashboard), keys go in with
//! `send-keys`, and the screen comes back with `capture-pane`.
//!
//! tmux is a separate process with no channel to wait on, so this test polls the
//! pane: a bounded number of captures a short sleep apart, failing with the last
//! screen. Each run uses its own tmux server, killed on every exit path, whose
//! socket lives in the test's temporary directory (`-S`): it cannot collide with
//! another run or the user's tmux, and nothing is left in `/tmp/tmux-UID` (tmux
//! does not remove its socket when the server is killed).
//!
//! Without tmux the test fails, naming the fix: `scripts/test` (the README's test
//! command, which `.ci/run` calls) installs tmux.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

use joblock::verify;

/// Pause between two captures of the pane.
const POLL: Duration = Duration::from_millis(100);
/// Captures before a wait gives up (30 s: the dashboard reacts within a frame).
const POLLS: usize = 300;

/// A private tmux server running one session; killed when dropped.
struct Tmux {
    socket: PathBuf,
    session: String,
    dir: PathBuf,
}

impl Tmux {
    /// Starts `command` in a detached 120x40 session of a new server.
    fn start(dir: &Path, command: &str) -> Tmux {
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
    fn send(&self, key: &str) {
        self.run(&["send-keys", "-t", &self.session, key]);
    }

    /// The visible pane, as text.
    fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the pane until `done` holds; fails with the last screen after [`POLLS`].
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.wait_or_retry(what, done, || {})
    }

    /// Like [`wait_for`](Self::wait_for), calling `retry` every second while waiting.
    fn wait_or_retry(&self, what: &str, done: impl Fn(&str) -> bool, retry: impl Fn()) -> String {
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
fn require_tmux() {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "tmux is not installed: the dashboard smoke test needs it; run the tests with \
         scripts/test (it installs it), or apt-get install -y tmux"
    );
}

/// A string as one single-quoted shell word.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn the_dashboard_runs_in_a_real_terminal_and_every_key_works() {
    require_tmux();
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let output = dir.path().join("out.txt");
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} --speed 20 --seed 3 --output {}; echo EXIT=$? > {}; sleep 5",
        quoted(env!("CARGO_BIN_EXE_joblock")),
        quoted(&output.display().to_string()),
        quoted(&exit_file.display().to_string()),
    );
    // Declared after `dir`, so the server is killed before the directory goes.
    let tmux = Tmux::start(dir.path(), &command);

    tmux.wait_for("the dashboard's header", |s| s.contains("joblock"));

    // "help" alone is in the footer; this line is only in the overlay.
    tmux.send("?");
    tmux.wait_for("the help overlay", |s| s.contains("closes this help"));
    tmux.send("Escape");
    tmux.wait_for("the help overlay to close", |s| {
        !s.contains("closes this help")
    });

    tmux.send("Space");
    tmux.wait_for("PAUSED in the header", |s| s.contains("PAUSED"));
    tmux.send("Space");
    tmux.wait_for("PAUSED to go", |s| !s.contains("PAUSED"));

    // The legend always says "T takeover"; these only appear once a job was killed.
    // A kill sent between two holders finds no holder and is ignored, so resend.
    tmux.send("9");
    tmux.wait_or_retry(
        "a killed job or a takeover",
        |s| s.contains("killed") || s.contains("KILLED") || s.contains("takeovers 1"),
        || tmux.send("9"),
    );

    tmux.send("q");
    let mut exit = String::new();
    for _ in 0..POLLS {
        exit = fs::read_to_string(&exit_file).unwrap_or_default();
        if exit.ends_with('\n') {
            break;
        }
        thread::sleep(POLL);
    }
    let screen = tmux.capture();
    assert_eq!(
        exit.trim(),
        "EXIT=0",
        "the dashboard did not exit 0 after q; last screen:\n{screen}"
    );
    // Back on the normal screen, the binary printed the checker's verdict.
    assert!(
        screen.contains("whole records"),
        "no verdict after the dashboard closed; last screen:\n{screen}"
    );

    let v = verify::check_file(&output, None).expect("read the output");
    assert!(v.handout_ok, "{}", v.line(&output));
    assert!(v.passed(), "{}", v.line(&output));
}
