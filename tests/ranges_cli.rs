//! Extreme numbers are usage errors, never panics or hangs: every duration and
//! speed flag of the scenario, `worker`, `watch` and `--at` has a range
//! (events::schedule: 0.001 to 1,000,000 seconds, speeds 0.001 to 1,000,000),
//! and a value outside it is exit 2 with one line naming the flag and the value,
//! before anything starts.

#[path = "support/bin.rs"]
mod bin;

use bin::{joblock, show, text};

#[test]
fn values_outside_their_range_are_one_line_naming_them_and_exit_2() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = format!("sqlite://{}/w.db", dir.path().display());
    let run = ["--headless", "--clock", "virtual", "--jobs", "1"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--lease", "1e300"], "--lease"),
        (vec!["--threads", "0"], "--threads"),
        (vec!["--threads", "100001"], "--threads"),
        (vec!["--threads", "1e300"], "--threads"),
        (vec!["--lease", "1e-300"], "--lease"),
        (vec!["--retry", "1e-300"], "--retry"),
        (vec!["--speed", "1e300"], "--speed"),
        (vec!["--speed", "1e-300"], "--speed"),
        (vec!["--chunk-pause", "1e300"], "--chunk-pause"),
        (vec!["--give-up", "1e300"], "--give-up"),
        (vec!["--db-latency", "1e300"], "--db-latency"),
        (vec!["--op-latency", "-1"], "--op-latency"),
        (vec!["--at", "1e300:crash"], "1e300:crash"),
        (vec!["--at", "1:speed=1e300"], "1:speed=1e300"),
        (vec!["--at", "1:speed=1e-300"], "1:speed=1e-300"),
        (vec!["--at", "1:stall=1e300"], "1:stall=1e300"),
        (vec!["--at", "5:outage=-5"], "5:outage=-5"),
        (vec!["--at", "1:spike=1e300,1"], "1:spike=1e300,1"),
        (vec!["--at", "0:kill=3"], "0:kill=3"),
    ];
    for (extra, names) in cases {
        let args: Vec<&str> = run.iter().copied().chain(extra.iter().copied()).collect();
        let out = joblock(dir.path(), &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", show(&out));
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}\n{}",
            show(&out)
        );
        assert!(
            err.contains(names) && !err.contains("panicked"),
            "{args:?}\n{err}"
        );
        assert!(
            !dir.path().join("output.txt").exists(),
            "{args:?}: nothing starts before the flags are checked"
        );
    }
    for extra in [
        ["--interval", "1e300"],
        ["--lease", "1e300"],
        ["--interval", "1e-300"],
    ] {
        let mut args = vec!["watch", "--store", &store, "--once"];
        args.extend(extra);
        let out = joblock(dir.path(), &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", show(&out));
        assert!(err.contains(extra[0]) && !err.contains("panicked"), "{err}");
    }
    let out = joblock(
        dir.path(),
        &[
            "worker", "--client", "a", "--store", &store, "--lease", "1e300",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn the_ends_of_each_range_are_accepted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = joblock(
        dir.path(),
        &[
            "--headless",
            "--clock",
            "virtual",
            "--jobs",
            "2",
            "--crash-prob",
            "0",
            "--lease",
            "1000000",
            "--speed",
            "1000000",
            "--give-up",
            "1000000",
            "--chunk-pause",
            "0",
            "--db-latency",
            "0",
            "--retry",
            "0.001",
            "--at",
            "1000000:stop",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

// A thread that started but cannot map its signal stack aborts inside Rust's
// runtime (SIGABRT, seen at --threads 50000 under `ulimit -v 1500000`): so more
// runners than the address space holds are refused before the run, naming the
// limit, and the run left to its default fits in it and completes.
#[test]
fn threads_past_the_address_space_limit_are_refused_naming_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let under_limit = |args: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v 1500000 && exec \"$0\" {args}",))
            .arg(env!("CARGO_BIN_EXE_joblock"))
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run joblock under ulimit -v")
    };
    let out = under_limit("--headless --clock virtual --jobs 50 --threads 50000");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(err.trim_end().lines().count(), 1, "{}", show(&out));
    assert!(
        err.contains("--threads 50000") && err.contains("ulimit -v 1500000"),
        "{err}"
    );
    assert!(!dir.path().join("output.txt").exists());

    let out = under_limit(
        "--headless --clock virtual --jobs 3000 --clients 300 --db-latency 0 --chunk-pause 0 --seed 5",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}
