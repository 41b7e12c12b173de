//! Where joblock needs a regular file, anything else is refused through the real
//! binary: a FIFO (opening one blocks until its other end comes), a character
//! device (`/dev/zero` never ends), a directory. Each refusal is exit 2, one
//! stderr line naming the path and what it is, within seconds (every child runs
//! under a deadline and is killed past it), and nothing is created or truncated.
//! `/dev/null` as `--events` records nothing; `verify` refuses a file over
//! `verify::MAX_FILE` without reading it.

#[path = "support/bounded.rs"]
mod bounded;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bounded::{Ended, joblock_within};

/// Far longer than any refusal takes; a child still running then is hung.
const LIMIT: Duration = Duration::from_secs(20);

/// A cheap scenario: one job on the virtual clock, millisecond pauses.
const FAST: [&str; 9] = [
    "--headless",
    "--clock",
    "virtual",
    "--jobs",
    "1",
    "--chunk-pause",
    "0.001",
    "--db-latency",
    "0.001",
];

/// What a refused command must leave untouched.
const KEPT: &str = "keep me";

/// A directory holding a FIFO, a directory, a file to keep and a recording, and
/// the picture names that are a FIFO, a directory and a link to `/dev/zero`.
struct Place {
    dir: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let state = tempfile::tempdir().expect("a state directory");
        let d = dir.path();
        for fifo in ["fifo", "fifo.svg", "side.txt.fence"] {
            mkfifo(&d.join(fifo));
        }
        for sub in ["dir", "dir.svg"] {
            fs::create_dir(d.join(sub)).expect("mkdir");
        }
        std::os::unix::fs::symlink("/dev/zero", d.join("zero.svg")).expect("symlink");
        fs::write(d.join("keep.txt"), KEPT).expect("write keep.txt");
        let event = r#"{"seq":1,"t":0.0,"type":"queued","job":1,"client":"c","hash":"h","will_crash":false}"#;
        fs::write(d.join("rec.jsonl"), format!("{event}\n")).expect("write rec.jsonl");
        Place { dir, state }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `joblock ARGS` here, bounded; the default store and state stay in
    /// directories of the test's own.
    fn run(&self, args: &[&str]) -> Ended {
        let state = self.state.path().as_os_str();
        let env: [(&str, &OsStr); 2] = [("XDG_STATE_HOME", state), ("HOME", state)];
        match joblock_within(self.path(), args, &env, LIMIT) {
            Ok(ended) => ended,
            Err(e) => panic!("joblock {}: {e}", args.join(" ")),
        }
    }

    /// Names in the directory with each regular file's length, to see that nothing
    /// was created, removed or truncated.
    fn listing(&self) -> Vec<(String, Option<u64>)> {
        let mut names: Vec<_> = fs::read_dir(self.path())
            .expect("list")
            .map(|e| {
                let e = e.expect("entry");
                let len = fs::symlink_metadata(e.path())
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                (e.file_name().to_string_lossy().into_owned(), len)
            })
            .collect();
        names.sort();
        names
    }

    /// Asserts `args` are refused: exit 2, one stderr line holding every one of
    /// `names`, no panic, nothing on stdout, the directory as it was.
    fn refused(&self, args: &[&str], names: &[&str]) {
        let before = self.listing();
        let out = self.run(args);
        let shown = format!("joblock {}\n{}", args.join(" "), out.show());
        assert_eq!(out.code, Some(2), "{shown}");
        assert_eq!(out.stderr.trim_end().lines().count(), 1, "{shown}");
        assert!(out.stderr.starts_with("error: "), "{shown}");
        assert!(!out.stderr.contains("panicked"), "{shown}");
        for name in names {
            assert!(out.stderr.contains(name), "{name:?} not named\n{shown}");
        }
        assert!(out.stdout.is_empty(), "{shown}");
        assert_eq!(self.listing(), before, "{shown}");
        assert_eq!(
            fs::read_to_string(self.path().join("keep.txt")).expect("keep.txt"),
            KEPT
        );
    }
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// The three kinds of path that are no regular file, and what each is called.
const UNFIT: [(&str, &str); 3] = [
    ("fifo", "a FIFO"),
    ("/dev/zero", "a character device"),
    ("dir", "a directory"),
];

/// `base` and then `extra`, as one argument list.
fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

#[test]
fn verify_refuses_a_fifo_a_device_and_a_directory() {
    let place = Place::new();
    for (path, what) in UNFIT {
        place.refused(&["verify", path], &[path, what]);
    }
}

#[test]
fn outputs_of_a_run_and_a_worker_are_refused_before_anything_is_created() {
    let place = Place::new();
    let worker = ["worker", "--store", "sqlite://w.db", "--jobs", "1"];
    for (path, what) in UNFIT {
        let names = ["--output", path, what];
        place.refused(&with(&FAST, &["--output", path]), &names);
        place.refused(&with(&worker, &["--output", path]), &names);
    }
    // The output's fence file counts as much as the output.
    let names = ["side.txt.fence", "a FIFO"];
    place.refused(&with(&FAST, &["--output", "side.txt"]), &names);
    place.refused(&with(&worker, &["--output", "side.txt"]), &names);
}

#[test]
fn an_events_file_is_refused_before_the_output_is_truncated() {
    let place = Place::new();
    let worker = ["worker", "--store", "sqlite://w.db", "--jobs", "1"];
    let run = ["run", "--store", "sqlite://r.db", "--key", "worker:k"];
    for (path, what) in UNFIT {
        let names = ["--events", path, what];
        let events = ["--output", "keep.txt", "--events", path];
        place.refused(&with(&FAST, &events), &names);
        place.refused(&with(&worker, &events), &names);
        place.refused(&with(&run, &["--events", path, "--", "true"]), &names);
    }
}

#[test]
fn replay_and_timeline_refuse_such_a_recording() {
    let place = Place::new();
    for (path, what) in UNFIT {
        place.refused(&["replay", path, "--headless"], &[path, what]);
        place.refused(&["timeline", path, "-o", "out.svg"], &[path, what]);
    }
}

#[test]
fn timeline_refuses_such_a_picture_path_even_through_a_link() {
    let place = Place::new();
    for (path, what) in [
        ("fifo.svg", "a FIFO"),
        ("zero.svg", "a character device"),
        ("dir.svg", "a directory"),
    ] {
        place.refused(&["timeline", "rec.jsonl", "-o", path], &[path, what]);
    }
}

#[test]
fn reseed_refuses_such_an_output() {
    let place = Place::new();
    for (path, what) in UNFIT {
        let args = ["reseed", "--store", "memory", "--output", path];
        place.refused(&args, &["--output", path, what]);
    }
}

#[test]
fn dev_null_as_the_events_file_records_nothing_and_as_the_output_is_refused() {
    let place = Place::new();
    let before = place.listing();
    let out = place.run(&with(
        &FAST,
        &["--output", "o.txt", "--events", "/dev/null"],
    ));
    assert_eq!(out.code, Some(0), "{}", out.show());
    let made: Vec<String> = place
        .listing()
        .into_iter()
        .filter(|e| !before.contains(e))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(made, ["o.txt", "o.txt.fence"], "{}", out.show());
    let run = ["run", "--store", "sqlite://r.db", "--key", "worker:k"];
    let out = place.run(&with(&run, &["--events", "/dev/null", "--", "true"]));
    assert_eq!(out.code, Some(0), "{}", out.show());
    place.refused(
        &with(&FAST, &["--output", "/dev/null"]),
        &["--output", "/dev/null", "a character device"],
    );
}

#[test]
fn verify_refuses_a_file_over_its_limit_without_reading_it() {
    let place = Place::new();
    let big: PathBuf = place.path().join("big.txt");
    // Sparse: as long as the limit and a byte, and no disk space.
    let file = fs::File::create(&big).expect("create big.txt");
    file.set_len(joblock::verify::MAX_FILE + 1)
        .expect("lengthen big.txt");
    let out = place.run(&["verify", "big.txt"]);
    let shown = out.show();
    assert_eq!(out.code, Some(3), "{shown}");
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{shown}");
    assert!(
        out.stderr.contains("big.txt") && out.stderr.contains("more than the 1073741824 bytes"),
        "{shown}"
    );
    assert!(
        out.took < Duration::from_secs(5),
        "it read the file: {shown}"
    );
}
