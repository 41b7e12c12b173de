//! `joblock watch`'s live view in a real terminal (tmux), against a PostgreSQL
//! server of its own that the test stops and starts again: the holder column says
//! which job holds, the history panel follows the selection, a lost store shows a
//! banner over the last table, recovery clears it, and `q` quits while the store
//! is down.

mod support;

use std::sync::Arc;
use std::time::Duration;

use joblock::clock::Clock;
use joblock::lock::{Holder, Lock, LockConfig, Quiet};
use joblock::store::{PostgresStore, Store};
use support::locks::acquired;
use support::pg_server::PgServer;
use support::tmux::{Tmux, await_line, quoted, require_tmux};

/// Acquires `lock:<key>` for 30 s as the engine's job `job` would describe itself.
fn hold(store: &Arc<dyn Store>, key: &str, job: u64) {
    let holder = Holder {
        owner: String::new(),
        host: "box-1".into(),
        pid: 4242,
        command: vec![],
        job: Some(job),
        started_at_ms: 0,
    };
    let config = LockConfig {
        lease: Duration::from_secs(30),
        ..LockConfig::default()
    };
    let lock = Lock::new(
        store.clone(),
        Clock::real(1.0),
        format!("lock:{key}"),
        config,
    )
    .with_holder(Some(holder));
    // The lease is dropped unrenewed: the document stays as written.
    acquired(lock.acquire(&format!("w-{job}"), &mut Quiet, &|| false));
}

#[test]
fn the_live_view_keeps_its_table_while_the_store_is_down_and_quits_at_once() {
    require_tmux();
    let mut pg = PgServer::start();
    let store: Arc<dyn Store> = match PostgresStore::connect(&pg.url, "live") {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("cannot open the test server's store: {e}"),
    };
    hold(&store, "worker:acme", 7);
    hold(&store, "worker:beta", 9);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let exit_file = dir.path().join("exit");
    let command = format!(
        "{} watch --store {} --namespace live --interval 0.2; echo EXIT=$? > {}; sleep 5",
        quoted(env!("CARGO_BIN_EXE_joblock")),
        quoted(&pg.url),
        quoted(&exit_file.display().to_string()),
    );
    let tmux = Tmux::start(dir.path(), &command);
    tmux.wait_for("the holders' jobs, hosts and pids", |s| {
        s.contains("job 7 · host box-1 pid 4242") && s.contains("job 9 · host box-1 pid 4242")
    });
    tmux.wait_for("the first key's history panel", |s| {
        s.contains("history of lock:worker:acme")
    });
    tmux.send("j");
    tmux.wait_for("the selection to move to the second key", |s| {
        s.contains("history of lock:worker:beta")
    });

    pg.stop();
    tmux.wait_for("the banner over the kept table", |s| {
        s.contains("store unreachable since") && s.contains("job 9 · host box-1 pid 4242")
    });
    pg.start_again();
    tmux.wait_for("recovery to clear the banner", |s| {
        !s.contains("store unreachable") && s.contains("job 7 · host box-1 pid 4242")
    });

    pg.stop();
    tmux.wait_for("the banner again", |s| {
        s.contains("store unreachable since")
    });
    tmux.send("q");
    let exit = await_line(&exit_file);
    assert_eq!(
        exit.trim(),
        "EXIT=0",
        "watch did not exit 0 after q; last screen:\n{}",
        tmux.capture()
    );
}
