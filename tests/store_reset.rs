//! A real store that forgets mid-run (issue #10): Redis restarted without
//! persistence while three worker processes share one output. No committed record
//! may be lost; the workers that meet the forgotten lock halt with one line; after
//! `joblock reseed` the next worker goes on, and the output holds exactly one whole
//! record per job any worker reported finished.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use joblock::verify::{self, RECORD};
use support::redis_server::RedisServer;
use support::workers::FAST;

fn worker(url: &str, ns: &str, out: &Path, jobs: &str, extra: &[&str]) -> Command {
    worker_of("acme", url, ns, out, jobs, extra)
}

/// `joblock worker` for `client` on a store, with the fast flags and `extra`.
fn worker_of(client: &str, url: &str, ns: &str, out: &Path, jobs: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_joblock"));
    c.arg("worker")
        .args([
            "--store",
            url,
            "--namespace",
            ns,
            "--client",
            client,
            "--jobs",
            jobs,
        ])
        .arg("--output")
        .arg(out)
        .args(FAST)
        .args(extra)
        .stdin(Stdio::null());
    c
}

fn finished(o: &Output) -> usize {
    String::from_utf8_lossy(&o.stdout)
        .matches(" FINISHED")
        .count()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_redis_restart_without_persistence_mid_run_loses_no_record_and_reseed_resumes() {
    let mut server = RedisServer::start();
    let url = server.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let ns = "reset";
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let mut c = worker(&url, ns, &out, "6", &["--crash-prob", "0.1"]);
            thread::spawn(move || c.output().expect("run a worker"))
        })
        .collect();
    // Once a record is committed (the output's own record says so), the store forgets.
    let deadline = Instant::now() + Duration::from_secs(120);
    let committed_before = loop {
        let record =
            std::fs::read_to_string(format!("{}.fence", out.display())).unwrap_or_default();
        let watermark = serde_json::from_str::<serde_json::Value>(&record)
            .ok()
            .and_then(|v| v["watermark"].as_u64())
            .unwrap_or(0);
        if watermark >= RECORD.len() as u64 {
            break watermark;
        }
        assert!(Instant::now() < deadline, "no record was committed in time");
        thread::sleep(Duration::from_millis(5));
    };
    server.restart();
    let outputs: Vec<Output> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut reported = 0;
    let mut halted = 0;
    for o in &outputs {
        let code = o.status.code();
        assert!(code == Some(0) || code == Some(3), "{}", show(o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{}", show(o));
        if err.contains("error: halted:") && err.contains("joblock reseed") {
            halted += 1;
        }
        reported += finished(o);
    }
    assert!(
        halted >= 1,
        "no worker halted on the forgotten lock:\n{}",
        outputs.iter().map(show).collect::<Vec<_>>().join("\n")
    );
    // Nothing committed was cut: the committed part holds whole records only, at
    // least as many as before the restart.
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.len() as u64 >= committed_before);

    let reseed = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args([
            "reseed",
            "--store",
            &url,
            "--namespace",
            ns,
            "--client",
            "acme",
            "--output",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(reseed.status.code(), Some(0), "{}", show(&reseed));
    let last = worker(&url, ns, &out, "1", &["--crash-prob", "0"])
        .output()
        .unwrap();
    assert_eq!(last.status.code(), Some(0), "{}", show(&last));
    reported += finished(&last);
    let v = verify::check(&std::fs::read(&out).unwrap(), Some(reported));
    assert!(v.passed(), "{v:?}: {reported} jobs reported finished");
    assert!(v.records as u64 * RECORD.len() as u64 >= committed_before);
}

#[test]
fn a_second_fleet_or_a_plain_run_in_a_fleets_namespace_is_refused_and_touches_nothing() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.txt"),
        dir.path().join("b.txt"),
        dir.path().join("c.txt"),
    );
    let first = worker(&server.url, "shared", &a, "2", &["--crash-prob", "0"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    let before = std::fs::read(&a).unwrap();
    assert_eq!(before.len(), 2 * RECORD.len());
    // Another fleet, same namespace and client, another output.
    let second = worker(&server.url, "shared", &b, "2", &[])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(3), "{}", show(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("a.txt") && err.contains("halted"),
        "{}",
        show(&second)
    );
    assert_eq!(finished(&second), 0, "{}", show(&second));
    // A plain run whose client-1 is the fleet's key: refused before truncating.
    let fleet = worker_of(
        "client-1",
        &server.url,
        "plain",
        &c,
        "1",
        &["--crash-prob", "0"],
    )
    .output()
    .unwrap();
    assert_eq!(fleet.status.code(), Some(0), "{}", show(&fleet));
    let kept = std::fs::read(&c).unwrap();
    let plain = Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args([
            "--headless",
            "--store",
            &server.url,
            "--namespace",
            "plain",
            "--jobs",
            "1",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(3), "{}", show(&plain));
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("c.txt"),
        "{}",
        show(&plain)
    );
    assert!(
        !dir.path().join("output.txt").exists(),
        "the plain run created its output"
    );
    assert_eq!(std::fs::read(&c).unwrap(), kept, "a fleet's output changed");
    assert_eq!(
        std::fs::read(&a).unwrap(),
        before,
        "the first fleet's output changed"
    );
}
