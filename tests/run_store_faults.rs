//! `joblock run` against a store that stops answering, on every networked store:
//! before acquiring (a listener that accepts and never answers) the wrapper exits
//! 69 in bounded time and the command never runs; while holding (a proxy to the
//! real server that stops forwarding) the wrapper stops the command before the
//! lease could run out, so that the next holder, which reaches the server
//! directly, never overlaps it.

mod support;

use std::time::{Duration, Instant};

use support::net::{Proxy, Silent};
use support::run::{Run, Workdir, each_networked_store, now_ns};

const KEY: &str = "worker:acme";

#[test]
fn a_store_that_never_answers_makes_run_exit_69_without_running_the_command() {
    each_networked_store(|store, tcp| {
        let work = Workdir::new();
        let silent = Silent::start();
        let url = (tcp.url_for)(silent.addr);
        for timeout in ["0.5", "1"] {
            let began = Instant::now();
            let done = Run::new(store, &work, KEY)
                .via(&url)
                .args(&["--store-timeout", timeout])
                .command(work.child("never", "span", &["0"]))
                .spawn()
                .wait();
            let took = began.elapsed();
            done.expect_code(69);
            assert_eq!(done.stderr.lines().count(), 1, "{done:?}");
            assert!(done.stderr.contains("did not answer"), "{done:?}");
            // The open is bounded by the store timeout: well under the default 5 s.
            assert!(took < Duration::from_secs(4), "exit 69 took {took:?}");
            assert!(!done.types().contains(&"command_started"), "{done:?}");
        }
        assert!(silent.connections() >= 1, "the wrapper never connected");
        assert!(!work.file("never").exists(), "the command ran");
    });
}

#[test]
fn a_store_that_goes_silent_while_held_gets_the_command_stopped_before_the_lease_ends() {
    each_networked_store(|store, tcp| {
        let work = Workdir::new();
        let proxy = Proxy::start(tcp.addr);
        let lease = 3.0;
        let holder = Run::new(store, &work, KEY)
            .via(&(tcp.url_for)(proxy.addr))
            .args(&["--lease", "3", "--store-timeout", "1"])
            .command(work.child("log", "tick", &["ignore-term"]))
            .spawn();
        holder.await_event("heartbeat");
        let frozen_at = now_ns();
        proxy.freeze();
        let next = Run::new(store, &work, KEY)
            .args(&["--lease", "3"])
            .command(work.child("log", "span", &["0"]))
            .spawn();

        let held = holder.wait();
        held.expect_code(76);
        // Not renewed in time: SIGTERM, which it ignores, then SIGKILL after the
        // grace, all before the last renewal that got through could run out.
        let sent: Vec<(&str, &str)> = held
            .events
            .iter()
            .filter(|e| e["type"] == "command_signalled")
            .map(|e| (e["signal"].as_str().unwrap(), e["why"].as_str().unwrap()))
            .collect();
        assert_eq!(sent.len(), 2, "{held:?}");
        assert!(
            sent[0].0 == "SIGTERM" && sent[0].1.contains("could not be renewed"),
            "{held:?}"
        );
        assert_eq!(sent[1], ("SIGKILL", "the grace ran out"), "{held:?}");
        let old = work.log_of("log", 1);
        let stopped = old.last().unwrap().ns;
        assert!(
            stopped < frozen_at + (lease * 1e9) as u128,
            "the command ran past the lease: {} ms after the store went silent",
            (stopped - frozen_at) / 1_000_000
        );

        let next = next.wait();
        next.expect_code(0);
        assert_eq!(next.fence(), 2, "{next:?}");
        let new = work.log_of("log", 2);
        assert!(
            stopped < new[0].ns,
            "the next holder started before the old stopped"
        );
    });
}

#[test]
fn a_store_that_goes_silent_while_waiting_makes_run_exit_69_without_running_the_command() {
    each_networked_store(|store, tcp| {
        let work = Workdir::new();
        let holder = Run::new(store, &work, KEY)
            .command(work.child("held", "tick", &[]))
            .spawn();
        work.await_lines("held", 1, 1);
        let proxy = Proxy::start(tcp.addr);
        let waiter = Run::new(store, &work, KEY)
            .via(&(tcp.url_for)(proxy.addr))
            // A waiter on a store that notifies sleeps until the lock changes or
            // a third of its lease passes before it looks again: a short lease
            // keeps that short.
            .args(&["--lease", "3", "--store-timeout", "0.5", "--verbose"])
            .command(work.child("never", "span", &["0"]))
            .spawn();
        waiter.await_stderr("waiting");
        proxy.freeze();
        let frozen_at = Instant::now();
        let done = waiter.wait();
        let took = frozen_at.elapsed();
        done.expect_code(69);
        // A third of the lease, then a few store timeouts.
        assert!(took < Duration::from_secs(8), "exit 69 took {took:?}");
        assert!(done.stderr.contains("unreachable"), "{done:?}");
        assert!(!work.file("never").exists(), "the command ran");
        holder.signal(rustix::process::Signal::TERM);
        holder.wait().expect_code(143);
    });
}
