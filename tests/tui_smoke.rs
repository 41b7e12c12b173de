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

#[test]
fn a_replay_plays_seeks_and_refuses_faults_in_a_real_terminal() {
    require_tmux();
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay.jsonl");
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} replay {}; echo EXIT=$? > {}; sleep 5",
        quoted(env!("CARGO_BIN_EXE_joblock")),
        quoted(fixture),
        quoted(&exit_file.display().to_string()),
    );
    let tmux = Tmux::start(dir.path(), &command);
    tmux.wait_for("the replay's badge", |s| s.contains("REPLAY"));
    // End: the whole run folded, its summary shown.
    tmux.send("End");
    tmux.wait_for("the end of the recording", |s| {
        s.contains("DONE") && s.contains("summary")
    });
    tmux.send("Escape");
    // Home sent hard on the heels of Escape can reach the program as Alt+Home.
    tmux.wait_for("the summary closed", |s| !s.contains("summary"));
    tmux.send("Home");
    tmux.wait_for("back at the start", |s| s.contains("event 0/"));
    // The next fault: the kill command at 9 s, then the kill itself.
    tmux.send("n");
    tmux.wait_for("the kill command", |s| s.contains("kill the holder"));
    tmux.send("n");
    tmux.wait_for("the kill", |s| s.contains("KILLED"));
    tmux.send("9");
    tmux.wait_for("the refusal", |s| s.contains("faults cannot be injected"));
    tmux.send("q");
    let exit = await_line(&exit_file);
    assert_eq!(exit.trim(), "EXIT=0", "last screen:\n{}", tmux.capture());
}

#[test]
fn sigterm_stops_the_dashboard_cleanly_and_restores_the_terminal() {
    require_tmux();
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let output = dir.path().join("out.txt");
    let exit_file = dir.path().join("exit");
    let pid_file = dir.path().join("pid");
    // The shell execs into joblock after writing its pid, so the pid is joblock's.
    let command = format!(
        "sh -c 'echo $$ > {}; exec {} --speed 20 --seed 5 --output {}'; echo EXIT=$? > {}; sleep 5",
        pid_file.display(),
        env!("CARGO_BIN_EXE_joblock"),
        output.display(),
        quoted(&exit_file.display().to_string()),
    );
    let tmux = Tmux::start(dir.path(), &command);
    tmux.wait_for("a holder writing", |s| s.contains("wrote chunk"));
    let pid = await_line(&pid_file);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill -TERM {pid}");
    let exit = await_line(&exit_file);
    let screen = tmux.capture();
    assert_eq!(exit.trim(), "EXIT=0", "last screen:\n{screen}");
    // The normal screen is back, with the verdict printed after the dashboard.
    assert!(screen.contains("whole records"), "last screen:\n{screen}");
    assert!(
        !screen.contains("┌ lock"),
        "still on the dashboard:\n{screen}"
    );
    let v = verify::check_file(&output, None).expect("read the output");
    assert!(v.passed(), "{}", v.line(&output));
}
