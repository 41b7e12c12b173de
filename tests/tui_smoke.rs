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

mod support;

use joblock::verify;
use support::tmux::{Tmux, await_line, quoted, require_tmux};

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
    let exit = await_line(&exit_file);
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
