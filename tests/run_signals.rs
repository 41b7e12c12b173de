//! `joblock run` under signals and operators, with real processes on every store:
//! `kill -9` of the wrapper, the wrapper frozen by SIGSTOP past its lease, a
//! forwarded SIGTERM the command ignores, and revocation of the lease. The safety
//! claim checked throughout: the next holder's command starts only after the old
//! command's last log line (both log wall-clock timestamps to one file).
//!
//! Leases are short (1.5-3 s) so that the tests are quick, and every wait polls a
//! condition with a generous deadline.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use joblock::lock::revoke::{RevokeError, revoke};
use joblock::lock::state::lock_id;
use rustix::process::Signal;
use serde_json::Value;
use support::run::{Done, Line, Run, Workdir, each_store, gone, now_ns, poll};

const KEY: &str = "worker:acme";

/// Nanoseconds in `secs` seconds.
fn ns(secs: f64) -> u128 {
    (secs * 1e9) as u128
}

/// The last line of `lines`.
fn last(lines: &[Line]) -> &Line {
    lines.last().expect("the command logged something")
}

/// The signals the wrapper sent its command, with why.
fn signalled(done: &Done) -> Vec<(String, String)> {
    done.events
        .iter()
        .filter(|e| e["type"] == "command_signalled")
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("signal"), s("why"))
        })
        .collect()
}

/// Asserts that the command with `new` fence started after the last line the
/// command with `old` fence wrote.
fn no_overlap(work: &Workdir, log: &str, old: u64, new: u64) {
    let (old_lines, new_lines) = (work.log_of(log, old), work.log_of(log, new));
    let (old_last, new_first) = (last(&old_lines), &new_lines[0]);
    assert!(
        new_first.kind == "start" && old_last.ns < new_first.ns,
        "fence {new} started at {} before fence {old} stopped at {}",
        new_first.ns,
        old_last.ns
    );
}

#[test]
fn kill_9_of_the_wrapper_kills_its_command_and_grandchild_and_the_lease_frees_the_lock() {
    each_store(|store| {
        let work = Workdir::new();
        let (sh_pid, sleep_pid) = (work.file("sh.pid"), work.file("sleep.pid"));
        let script = format!(
            "echo $$ > {}.tmp && mv {0}.tmp {0}; sleep 100 & echo $! > {}.tmp && mv {1}.tmp {1}; wait",
            sh_pid.display(),
            sleep_pid.display()
        );
        let holder = Run::new(store, &work, KEY)
            .args(&["--lease", "1.5"])
            .command(vec!["sh".into(), "-c".into(), script.into()])
            .spawn();
        let pid = |path: &std::path::Path| {
            poll(&format!("{}", path.display()), || {
                std::fs::read_to_string(path)
                    .ok()?
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
        };
        let (sh, sleep) = (pid(&sh_pid), pid(&sleep_pid));
        let started = holder.await_event("command_started");
        assert_eq!(started["pid"], sh);

        holder.signal(Signal::KILL);
        let killed_at = Instant::now();
        let holder = holder.wait();
        assert_eq!(holder.status.signal(), Some(9), "{holder:?}");
        // The command (parent-death signal, guardian) and its child (guardian).
        poll("the command and its child to be gone", || {
            (gone(sh) && gone(sleep)).then_some(())
        });
        let took = killed_at.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "the command outlived its wrapper by {took:?}"
        );

        // Nobody released: the next run takes over once the lease has run out.
        let next = Run::new(store, &work, KEY)
            .args(&["--lease", "1.5"])
            .command(work.child("log", "span", &["0"]))
            .spawn()
            .wait();
        next.expect_code(0);
        let acquired = next.event("acquired");
        assert_eq!(
            (
                &acquired["fence"],
                &acquired["how"],
                &acquired["from_fence"]
            ),
            (&Value::from(2), &Value::from("takeover"), &Value::from(1)),
            "{next:?}"
        );
        let waited = acquired["waited"].as_f64().unwrap();
        assert!(
            waited >= 1.4,
            "took over after {waited} s, within the lease"
        );
    });
}

#[test]
fn a_wrapper_frozen_past_its_lease_has_its_command_killed_before_the_next_holder_starts() {
    each_store(|store| {
        let work = Workdir::new();
        let holder = Run::new(store, &work, KEY)
            .args(&["--lease", "2"])
            .command(work.child("log", "tick", &[]))
            .spawn();
        work.await_lines("log", 1, 2);
        let next = Run::new(store, &work, KEY)
            .args(&["--lease", "2", "--verbose"])
            .command(work.child("log", "span", &["0.2"]))
            .spawn();
        next.await_stderr("waiting");

        holder.signal(Signal::STOP);
        let next = next.wait();
        next.expect_code(0);
        assert_eq!(next.fence(), 2, "{next:?}");
        no_overlap(&work, "log", 1, 2);

        holder.signal(Signal::CONT);
        let holder = holder.wait();
        holder.expect_code(76);
        assert!(holder.types().contains(&"fenced"), "{holder:?}");
        assert_eq!(
            holder.event("command_exited")["exit"],
            "signal 9 (SIGKILL)",
            "{holder:?}"
        );
    });
}

#[test]
fn a_forwarded_sigterm_the_command_ignores_keeps_the_lease_renewed_until_it_ends() {
    each_store(|store| {
        let work = Workdir::new();
        let lease = 1.5;
        let run = Run::new(store, &work, KEY)
            .args(&["--lease", &lease.to_string()])
            .command(work.child("log", "tick", &["3", "ignore-term"]))
            .spawn();
        work.await_lines("log", 1, 2);
        // The user signals reach it too.
        for (sig, kind) in [(Signal::USR1, "usr1"), (Signal::USR2, "usr2")] {
            run.signal(sig);
            poll(&format!("the command to log {kind}"), || {
                work.log("log").iter().any(|l| l.kind == kind).then_some(())
            });
        }
        let signalled_at = now_ns();
        run.signal(Signal::TERM);
        let done = run.wait();
        done.expect_code(0);
        let lines = work.log("log");
        assert_eq!(last(&lines).kind, "end", "{lines:?}");
        assert!(
            last(&lines).ns > signalled_at + ns(lease),
            "the command ran less than a lease after the signal"
        );
        let forwarded = |name: &str| (name.to_string(), "forwarded".to_string());
        assert_eq!(
            signalled(&done),
            [
                forwarded("SIGUSR1"),
                forwarded("SIGUSR2"),
                forwarded("SIGTERM")
            ]
        );
        assert!(!done.types().contains(&"fenced"), "{done:?}");
        assert_eq!(done.types().last(), Some(&"finished"));

        // One it does not ignore ends it, with the shell's code.
        let run = Run::new(store, &work, KEY)
            .command(vec!["sleep".into(), "30".into()])
            .spawn();
        run.await_event("command_started");
        run.signal(Signal::INT);
        run.wait().expect_code(130);
    });
}

#[test]
fn revoking_a_stale_fence_is_refused_and_the_current_one_stops_the_command_after_the_grace() {
    each_store(|store| {
        let work = Workdir::new();
        let (lease, grace) = (3.0, 0.5);
        let holder = Run::new(store, &work, KEY)
            .args(&["--lease", &lease.to_string(), "--grace", &grace.to_string()])
            .command(work.child("log", "tick", &["ignore-term"]))
            .spawn();
        let fence = work.await_lines("log", 1, 1)[0].fence;
        let next = Run::new(store, &work, KEY)
            .args(&["--lease", "3", "--verbose"])
            .command(work.child("log", "span", &["0"]))
            .spawn();
        next.await_stderr("waiting");
        let lib = store.open();
        let key = lock_id(KEY);

        for stale in [fence - 1, fence + 1] {
            match revoke(lib.as_ref(), &key, stale) {
                Err(RevokeError::StaleFence { current, .. }) => assert_eq!(current, fence),
                other => panic!("revoking fence {stale} (current {fence}): {other:?}"),
            }
        }
        // Unaffected: the command runs on past a couple of renewals.
        let refused_at = now_ns();
        poll("the command to go on after the refused revocations", || {
            let lines = work.log_of("log", fence);
            (last(&lines).ns > refused_at + ns(lease / 2.0)).then_some(())
        });
        let mut holder = holder;
        assert!(holder.running(), "the holder ended after a refused revoke");

        let revoked_at = now_ns();
        let owner = revoke(lib.as_ref(), &key, fence).expect("revoke the current fence");
        assert!(owner.starts_with("run:"), "{owner}");
        let holder = holder.wait();
        holder.expect_code(76);
        let sent = signalled(&holder);
        assert_eq!(sent.len(), 2, "{holder:?}");
        assert_eq!(sent[0].0, "SIGTERM");
        assert!(sent[0].1.contains("revoked"), "{sent:?}");
        assert_eq!(sent[1], ("SIGKILL".into(), "the grace ran out".into()));
        // It ignored SIGTERM: it ran on through the grace, and was killed well
        // before its lease could have run out.
        let stopped = last(&work.log_of("log", fence)).ns;
        assert!(
            stopped > revoked_at + ns(grace * 0.9),
            "killed before the grace"
        );
        assert!(stopped < revoked_at + ns(lease), "ran on past its lease");

        // The waiter gets the lock as soon as the command is dead.
        let next = next.wait();
        next.expect_code(0);
        assert_eq!(next.fence(), fence + 1);
        assert_eq!(next.event("acquired")["how"], "handoff", "{next:?}");
        no_overlap(&work, "log", fence, fence + 1);
    });
}

#[test]
fn locks_release_force_refuses_a_stale_fence_and_with_the_current_one_hands_the_lock_on() {
    each_store(|store| {
        let work = Workdir::new();
        let holder = Run::new(store, &work, KEY)
            .args(&["--lease", "3", "--grace", "0.5"])
            .command(work.child("log", "tick", &[]))
            .spawn();
        let fence = work.await_lines("log", 1, 1)[0].fence;
        let next = Run::new(store, &work, KEY)
            .args(&["--lease", "3", "--verbose"])
            .command(work.child("log", "span", &["0"]))
            .spawn();
        next.await_stderr("waiting");
        let release = |fence: u64| {
            support::bin::joblock(
                work.path(),
                &[
                    "locks",
                    "release",
                    KEY,
                    "--fence",
                    &fence.to_string(),
                    "--force",
                    "--store",
                    &store.url,
                    "--namespace",
                    &store.namespace,
                ],
            )
        };
        let stale = release(fence - 1);
        assert_eq!(stale.status.code(), Some(1), "{stale:?}");
        let mut holder = holder;
        assert!(holder.running(), "a refused release stopped the holder");

        let done = release(fence);
        assert_eq!(done.status.code(), Some(0), "{done:?}");
        let holder = holder.wait();
        holder.expect_code(76);
        let next = next.wait();
        next.expect_code(0);
        assert_eq!(next.fence(), fence + 1);
        no_overlap(&work, "log", fence, fence + 1);
    });
}
