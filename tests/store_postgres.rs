//! Store contract tests on the PostgreSQL backend, against throwaway servers.
//!
//! The backend-independent contract runs here exactly as on the memory store; the
//! `postgres` module tests what only a networked engine has: connecting, namespaces
//! (tables), one connection per handle, number handling in jsonb, compare-and-set
//! races over many connections, recovery after the server restarts, and change
//! notification (LISTEN/NOTIFY) with the lock's waiters woken by it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use joblock::clock::Clock;
use joblock::lock::{AcquireObserver, AcquireOutcome, Lock, LockConfig, Quiet, Seen, Via};
use joblock::store::{PostgresStore, Store, StoreError};
use serde_json::{Value, json};

all_conformance_tests!(postgres_conformance, support::pg_server::fresh_store());

/// What only the PostgreSQL backend has.
mod postgres {
    use super::*;
    use support::pg_server::{PgServer, fresh_store, shared, unique_namespace};

    fn unavailable_message<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
        match r {
            Err(StoreError::Unavailable(msg)) => msg,
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    /// A port nothing listens on (free a moment ago).
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Runs `racers` threads, each with its own handle (connected before the start
    /// line, so the race is on the statement, not on connecting), and returns what
    /// each returned.
    fn race<T: Send + 'static>(
        store: &dyn Store,
        racers: usize,
        op: impl Fn(usize, &dyn Store) -> T + Send + Sync + 'static,
    ) -> Vec<T> {
        let op = Arc::new(op);
        let start = Arc::new(Barrier::new(racers));
        let threads: Vec<_> = (0..racers)
            .map(|i| {
                let handle = store.for_caller(i as u64);
                handle.count(&json!({})).unwrap();
                let (start, op) = (Arc::clone(&start), Arc::clone(&op));
                thread::spawn(move || {
                    start.wait();
                    op(i, &*handle)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    /// Connections the server has for `application_name`.
    fn connections(server_url: &str, app: &str) -> i64 {
        let mut client = ::postgres::Client::connect(server_url, ::postgres::NoTls).unwrap();
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .unwrap()
            .get(0)
    }

    #[test]
    fn is_named_postgres_and_opens_from_a_store_url() {
        support::engines::opens_from_a_store_url(&shared().url, "postgres");
    }

    #[test]
    fn connects_over_the_unix_socket_too() {
        let server = shared();
        let ns = unique_namespace("unix");
        let unix = PostgresStore::connect(&server.unix_url, &ns).unwrap();
        let tcp = PostgresStore::connect(&server.url, &ns).unwrap();
        support::engines::unix_and_tcp_see_one_store(&unix, &tcp);
    }

    #[test]
    fn an_unreachable_server_is_unavailable_quickly_naming_the_url_without_password() {
        let url = format!("postgres://joblock:secret@127.0.0.1:{}/db", closed_port());
        let started = Instant::now();
        let msg = unavailable_message(PostgresStore::connect(&url, "jobs"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let shown = url.replace(":secret", "");
        assert!(
            msg.starts_with(&format!("cannot connect to {shown}: ")),
            "{msg}"
        );
        assert!(!msg.contains("secret"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn a_malformed_url_is_unavailable_naming_it() {
        let msg = unavailable_message(PostgresStore::connect(
            "postgres://127.0.0.1:notaport/db",
            "jobs",
        ));
        assert!(
            msg.starts_with("cannot connect to postgres://127.0.0.1:notaport/db: "),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_namespace_is_invalid_before_connecting() {
        // The port is closed: an Invalid answer proves nothing was attempted.
        let url = format!("postgres://postgres@127.0.0.1:{}/db", closed_port());
        for bad in ["", "1jobs", "jobs; DROP TABLE x", "a\"b"] {
            assert!(
                matches!(
                    PostgresStore::connect(&url, bad),
                    Err(StoreError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn namespaces_isolate_and_the_same_namespace_shares() {
        let server = shared();
        let (ns_a, ns_b) = (unique_namespace("iso"), unique_namespace("iso"));
        let a = PostgresStore::connect(&server.url, &ns_a).unwrap();
        let b = PostgresStore::connect(&server.url, &ns_b).unwrap();
        a.insert_one(json!({"_id": "k", "in": "a"})).unwrap();
        b.insert_one(json!({"_id": "k", "in": "b"})).unwrap();
        assert_eq!(
            a.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "k", "in": "a"})]
        );
        assert_eq!(
            b.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "k", "in": "b"})]
        );
        assert_eq!(b.delete_many(&json!({})).unwrap(), 1);
        assert_eq!(a.count(&json!({})).unwrap(), 1);
        // Another store (another process, in real life) on the same namespace.
        let a2 = PostgresStore::connect(&server.url, &ns_a).unwrap();
        assert_eq!(a2.namespace(), ns_a);
        assert_eq!(
            a2.find_one(&json!({"_id": "k"})).unwrap(),
            Some(json!({"_id": "k", "in": "a"}))
        );
    }

    #[test]
    fn many_stores_creating_one_namespace_at_once_all_succeed() {
        let server = shared();
        let ns = unique_namespace("create");
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (url, ns, start) = (server.url.clone(), ns.clone(), Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    let store = PostgresStore::connect(&url, &ns)?;
                    store.insert_one(json!({"_id": i}))
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(fresh_store().count(&json!({})).unwrap(), 0);
        let store = PostgresStore::connect(&server.url, &ns).unwrap();
        assert_eq!(store.count(&json!({})).unwrap(), 8);
    }

    #[test]
    fn each_handle_has_its_own_connection_opened_on_first_use() {
        let server = shared();
        let app = unique_namespace("app");
        let url = format!("{}?application_name={app}", server.url);
        let store = PostgresStore::connect(&url, &unique_namespace("conn")).unwrap();
        assert_eq!(connections(&server.url, &app), 1);
        let a = store.for_caller(1);
        let b = store.for_caller(2);
        assert_eq!(connections(&server.url, &app), 1, "handles connect lazily");
        a.insert_one(json!({"_id": "x", "by": "a"})).unwrap();
        assert_eq!(
            b.find_one(&json!({"_id": "x"})).unwrap(),
            Some(json!({"_id": "x", "by": "a"}))
        );
        assert_eq!(connections(&server.url, &app), 3);
        drop(a);
        drop(b);
        // The server notices closed connections asynchronously.
        let deadline = Instant::now() + Duration::from_secs(5);
        while connections(&server.url, &app) != 1 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            connections(&server.url, &app),
            1,
            "dropping a handle closes it"
        );
    }

    #[test]
    fn compare_and_set_by_id_has_exactly_one_winner() {
        let store = fresh_store();
        store.insert_one(json!({"_id": "k", "v": 0})).unwrap();
        for round in 0..5 {
            let results = race(&store, 16, move |i, s| {
                let v = round * 100 + i as i64 + 1;
                s.update_one(&json!({"_id": "k", "v": round * 100}), &json!({"v": v}))
                    .unwrap()
            });
            let winners: Vec<&Value> = results.iter().flatten().collect();
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            assert_eq!(
                store.find_one(&json!({"_id": "k"})).unwrap().as_ref(),
                Some(winners[0])
            );
            // Next round starts from a known value.
            store
                .update_one(&json!({"_id": "k"}), &json!({"v": (round + 1) * 100}))
                .unwrap()
                .unwrap();
        }
    }

    #[test]
    fn update_one_without_id_hands_each_match_to_exactly_one_racer() {
        let store = fresh_store();
        for d in 0..4 {
            store
                .insert_one(json!({"_id": d, "state": "free"}))
                .unwrap();
        }
        let results = race(&store, 16, |i, s| {
            s.update_one(
                &json!({"state": "free"}),
                &json!({"state": "taken", "by": i}),
            )
            .unwrap()
        });
        let mut taken: Vec<Value> = results.iter().flatten().map(|d| d["_id"].clone()).collect();
        taken.sort_by_key(|id| id.as_i64());
        assert_eq!(
            taken,
            vec![json!(0), json!(1), json!(2), json!(3)],
            "{results:?}"
        );
        assert_eq!(store.count(&json!({"state": "taken"})).unwrap(), 4);
        for doc in results.iter().flatten() {
            assert_eq!(
                store
                    .find_one(&json!({"_id": doc["_id"]}))
                    .unwrap()
                    .as_ref(),
                Some(doc)
            );
        }
    }

    #[test]
    fn racing_delete_one_deletes_each_match_once() {
        let store = fresh_store();
        for d in 0..4 {
            store.insert_one(json!({"_id": d, "k": 1})).unwrap();
        }
        store.insert_one(json!({"_id": "other", "k": 2})).unwrap();
        let results = race(&store, 16, |_, s| s.delete_one(&json!({"k": 1})).unwrap());
        assert_eq!(results.iter().sum::<u64>(), 4, "{results:?}");
        assert_eq!(
            store.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "other", "k": 2})]
        );
    }

    #[test]
    fn values_round_trip_through_jsonb() {
        let store = fresh_store();
        let doc = json!({
            "_id": "v",
            "max": u64::MAX,
            "min": i64::MIN,
            "tenth": 0.1,
            "float_one": 1.0,
            "tiny": 5e-324,
            "text": "é 🚀 \" ' \\ \n\t",
            "nested": {"b": [1, {"c": null}], "a": true},
            "a'b\"; DROP TABLE x; --": 1
        });
        store.insert_one(doc.clone()).unwrap();
        assert_eq!(
            store.find_one(&json!({"_id": "v"})).unwrap(),
            Some(doc.clone())
        );
        assert_eq!(
            store
                .count(&json!({"text": "é 🚀 \" ' \\ \n\t", "a'b\"; DROP TABLE x; --": 1}))
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .count(&json!({"nested": {"a": true, "b": [1, {"c": null}]}}))
                .unwrap(),
            1
        );
        assert_eq!(
            store.count(&json!({"nested": {"a": true}})).unwrap(),
            0,
            "no containment"
        );
        assert_eq!(store.count(&json!({"max": u64::MAX})).unwrap(), 1);
    }

    #[test]
    fn numbers_compare_by_value_unlike_memory_but_ids_do_not() {
        // Documented difference: jsonb compares numerically, memory by representation.
        let store = fresh_store();
        store.insert_one(json!({"_id": 1, "n": 1})).unwrap();
        assert_eq!(store.count(&json!({"n": 1.0})).unwrap(), 1);
        // `_id`s go through their canonical text, so 1 and 1.0 stay different ids.
        store.insert_one(json!({"_id": 1.0, "n": 2})).unwrap();
        assert_eq!(store.count(&json!({"_id": 1})).unwrap(), 1);
        assert_eq!(
            store.find_one(&json!({"_id": 1.0})).unwrap(),
            Some(json!({"_id": 1.0, "n": 2}))
        );
    }

    #[test]
    fn a_string_with_nul_is_refused_as_invalid() {
        // Documented difference: jsonb cannot hold U+0000.
        let store = fresh_store();
        assert!(matches!(
            store.insert_one(json!({"_id": "a", "s": "x\u{0}y"})),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.count(&json!({})).unwrap(), 0);
        store.insert_one(json!({"_id": "b"})).unwrap();
        assert_eq!(
            store.count(&json!({})).unwrap(),
            1,
            "the connection is still fine"
        );
    }

    #[test]
    fn a_stopped_server_is_unavailable_and_a_restarted_one_is_used_again() {
        let mut server = PgServer::start();
        let store = PostgresStore::connect(&server.url, "jobs").unwrap();
        let handle = store.for_caller(1);
        store
            .insert_one(json!({"_id": "lock", "fence": 1}))
            .unwrap();
        handle.count(&json!({})).unwrap();

        server.stop();
        // The first call finds its connection gone, the next cannot reconnect: both
        // are Unavailable, promptly, and name the server.
        let started = Instant::now();
        for _ in 0..2 {
            let msg = unavailable_message(handle.find_one(&json!({"_id": "lock"})));
            assert!(msg.contains(&server.url), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        server.start_again();
        assert_eq!(
            handle.find_one(&json!({"_id": "lock"})).unwrap(),
            Some(json!({"_id": "lock", "fence": 1})),
            "reconnected, and committed data survived"
        );
        // `store` still holds a connection from before the stop: one failure at most.
        let first = store.update_one(&json!({"_id": "lock", "fence": 1}), &json!({"fence": 2}));
        match first {
            Ok(updated) => assert_eq!(updated, Some(json!({"_id": "lock", "fence": 2}))),
            Err(StoreError::Unavailable(_)) => {
                let again = store
                    .update_one(&json!({"_id": "lock", "fence": 1}), &json!({"fence": 2}))
                    .unwrap();
                assert_eq!(again, Some(json!({"_id": "lock", "fence": 2})));
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    #[test]
    fn after_restart_an_old_handle_fails_at_most_once_then_reconnects() {
        let mut server = PgServer::start();
        let store = PostgresStore::connect(&server.url, "jobs").unwrap();
        store.insert_one(json!({"_id": "a", "n": 1})).unwrap();
        let handles: Vec<_> = (0..4).map(|i| store.for_caller(i)).collect();
        for h in &handles {
            h.count(&json!({})).unwrap();
        }

        server.restart();

        for h in handles.iter().map(|h| &**h).chain([&store as &dyn Store]) {
            match h.count(&json!({"_id": "a"})) {
                Ok(n) => assert_eq!(n, 1),
                Err(StoreError::Unavailable(msg)) => assert!(msg.contains(&server.url), "{msg}"),
                Err(e) => panic!("unexpected {e:?}"),
            }
            assert_eq!(
                h.find_one(&json!({"_id": "a"})).unwrap(),
                Some(json!({"_id": "a", "n": 1}))
            );
        }
        assert_eq!(
            handles[0]
                .update_many(&json!({}), &json!({"n": 2}))
                .unwrap(),
            1
        );
        assert_eq!(store.count(&json!({"n": 2})).unwrap(), 1);
    }

    // ---- change notification (LISTEN/NOTIFY) ----

    /// Runs `write` on its own thread over and over (errors ignored) until the
    /// returned flag is set, or 60 s pass so a failing test cannot leave it running.
    fn keep_writing(
        write: impl Fn() + Send + 'static,
    ) -> (Arc<AtomicBool>, thread::JoinHandle<()>) {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let writer = thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::SeqCst) && Instant::now() < until {
                write();
                thread::sleep(Duration::from_millis(20));
            }
        });
        (stop, writer)
    }

    #[test]
    fn notifies_on_every_handle() {
        let store = fresh_store();
        assert!(store.notifies());
        assert!(store.for_caller(1).notifies());
    }

    #[test]
    fn a_waiter_is_woken_by_another_handles_update_of_its_row() {
        let store = fresh_store();
        store.insert_one(json!({"_id": "k", "v": 0})).unwrap();
        let waiter = store.for_caller(1);
        let updater = store.for_caller(2);
        let (subscribed, ready) = mpsc::channel();
        let woken = thread::spawn(move || {
            // The first wait subscribes (zero timeout: it returns at once).
            waiter.wait_for_change("k", Duration::ZERO);
            subscribed.send(()).unwrap();
            waiter.wait_for_change("k", Duration::from_secs(10))
        });
        ready.recv().unwrap();
        updater
            .update_one(&json!({"_id": "k"}), &json!({"v": 1}))
            .unwrap()
            .unwrap();
        // `true` is only returned for a notification about "k": it was woken,
        // before its 10 s were up.
        assert!(woken.join().unwrap(), "the update did not wake the waiter");
    }

    #[test]
    fn a_change_between_waits_is_not_missed_and_inserts_and_deletes_notify_too() {
        let store = fresh_store();
        let waiter = store.for_caller(1);
        let writer = store.for_caller(2);
        waiter.wait_for_change("k", Duration::ZERO);

        // Nobody is waiting while each change happens: the listener buffers it.
        // One change of "k" at a time, each consumed by one wait, so that no
        // notification is left over for a later wait (one that arrives after its
        // wait returned would wake the next wait early: allowed, as it is a hint,
        // but it would make the `false` below depend on timing).
        writer.insert_one(json!({"_id": "k", "v": 0})).unwrap();
        assert!(waiter.wait_for_change("k", Duration::from_secs(10)));
        writer
            .update_one(&json!({"_id": "k"}), &json!({"v": 1}))
            .unwrap()
            .unwrap();
        assert!(waiter.wait_for_change("k", Duration::from_secs(10)));
        assert_eq!(writer.delete_one(&json!({"_id": "k"})).unwrap(), 1);
        assert!(waiter.wait_for_change("k", Duration::from_secs(10)));
        // "j" is announced first (the notifications of a transaction come in
        // order) and skipped.
        writer
            .insert_many(vec![json!({"_id": "j"}), json!({"_id": "k"})])
            .unwrap();
        assert!(waiter.wait_for_change("k", Duration::from_secs(10)));
        // Every change of "k" was consumed, and a rolled-back batch changes nothing
        // and announces nothing.
        assert!(matches!(
            writer.insert_many(vec![json!({"_id": "other"}), json!({"_id": "k"})]),
            Err(StoreError::DuplicateKey(_))
        ));
        assert!(!waiter.wait_for_change("k", Duration::from_millis(200)));
        assert!(!waiter.wait_for_change("other", Duration::from_millis(200)));
    }

    #[test]
    fn changes_to_other_rows_do_not_wake_a_waiter() {
        let store = fresh_store();
        store.insert_one(json!({"_id": "k"})).unwrap();
        store.insert_one(json!({"_id": "other", "n": 0})).unwrap();
        let waiter = store.for_caller(1);
        waiter.wait_for_change("k", Duration::ZERO);
        let writer = store.for_caller(2);
        // Some changes already buffered when the wait starts, more during it.
        for n in 1..=3 {
            writer
                .update_one(&json!({"_id": "other"}), &json!({"n": n}))
                .unwrap()
                .unwrap();
        }
        let (stop, busy) = keep_writing(move || {
            let _ = writer.update_many(&json!({"_id": "other"}), &json!({"n": -1}));
        });
        let started = Instant::now();
        let woken = waiter.wait_for_change("k", Duration::from_millis(300));
        let took = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        busy.join().unwrap();
        assert!(!woken, "a change to another row woke the waiter");
        // Generous: other rows' notifications must not keep restarting the timer
        // (the writer would have kept this wait going for a whole minute).
        assert!(took < Duration::from_secs(20), "{took:?}");
    }

    #[test]
    fn an_id_too_long_for_a_payload_still_writes_and_wakes_its_waiter() {
        let store = fresh_store();
        let long = "x".repeat(9000);
        let waiter = store.for_caller(1);
        waiter.wait_for_change(&long, Duration::ZERO);
        store.insert_one(json!({"_id": long, "v": 1})).unwrap();
        assert!(waiter.wait_for_change(&long, Duration::from_secs(10)));
        assert_eq!(
            store.find_one(&json!({"_id": long})).unwrap(),
            Some(json!({"_id": long, "v": 1}))
        );
    }

    #[test]
    fn a_table_made_without_the_trigger_gets_it_on_connect() {
        // As an older joblock (or anyone) would have left it.
        let server = shared();
        let ns = unique_namespace("old");
        let mut admin = ::postgres::Client::connect(&server.url, ::postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!(
                "CREATE TABLE {ns} (id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL)"
            ))
            .unwrap();
        let store = PostgresStore::connect(&server.url, &ns).unwrap();
        assert!(store.notifies());
        let waiter = store.for_caller(1);
        waiter.wait_for_change("k", Duration::ZERO);
        store.insert_one(json!({"_id": "k"})).unwrap();
        assert!(waiter.wait_for_change("k", Duration::from_secs(10)));
    }

    #[test]
    fn a_role_that_may_not_add_the_trigger_uses_the_table_without_notification() {
        let server = shared();
        let ns = unique_namespace("ro");
        let role = unique_namespace("role");
        let mut admin = ::postgres::Client::connect(&server.url, ::postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!(
                "CREATE TABLE {ns} (id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL);
                 CREATE ROLE {role} LOGIN;
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {ns} TO {role};
                 GRANT USAGE ON SEQUENCE {ns}_seq_seq TO {role};"
            ))
            .unwrap();
        let url = server.url.replacen("postgres@", &format!("{role}@"), 1);
        let store = PostgresStore::connect(&url, &ns).unwrap();
        assert!(!store.notifies(), "no trigger, so no notification");
        assert!(
            !store.wait_for_change("k", Duration::from_secs(10)),
            "returns at once"
        );
        store.insert_one(json!({"_id": "k"})).unwrap();
        assert_eq!(store.count(&json!({})).unwrap(), 1);
        // Nothing was left half made: still no trigger, no function.
        let made: i64 = admin
            .query_one(
                "SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1))
                      + (SELECT count(*) FROM pg_proc WHERE proname = $2)",
                &[&ns, &format!("joblock_notify_{ns}")],
            )
            .unwrap()
            .get(0);
        assert_eq!(made, 0);
    }

    /// Tells the test when the waiter has seen the lock held (it is about to wait).
    struct SawHeld(mpsc::Sender<()>);

    impl AcquireObserver for SawHeld {
        fn attempt(&mut self, _attempt: u32, seen: &Seen) {
            if matches!(seen, Seen::Held { .. }) {
                let _ = self.0.send(());
            }
        }
    }

    #[test]
    fn a_lock_waiter_is_woken_by_the_release_instead_of_polling() {
        let store = fresh_store();
        let clock = Clock::real(1.0);
        let config = LockConfig {
            lease: Duration::from_secs(30),
            retry: Duration::from_secs(10),
            give_up: Duration::from_secs(60),
        };
        let key = "lock:job:client".to_string();
        let holder = Lock::new(store.for_caller(1), clock.clone(), key.clone(), config);
        let waiter_store = store.for_caller(2);
        let waiter = Lock::new(waiter_store.clone(), clock, key.clone(), config);

        let lease = match holder.acquire("A", &mut Quiet, &|| false).unwrap() {
            AcquireOutcome::Acquired(lease, _) => lease,
            _ => panic!("A could not take a free lock"),
        };
        // Subscribe the waiter's handle before it starts: otherwise the release
        // could fall between its read and its first LISTEN, and that first wait
        // would sleep out its whole 10 s (a hint missed, which is allowed).
        waiter_store.wait_for_change(&key, Duration::ZERO);
        let (saw_held, held) = mpsc::channel();
        let b = thread::spawn(move || {
            match waiter
                .acquire("B", &mut SawHeld(saw_held), &|| false)
                .unwrap()
            {
                AcquireOutcome::Acquired(_, acq) => acq,
                _ => panic!("B did not acquire"),
            }
        });
        held.recv().unwrap();
        assert!(lease.release(0).unwrap());
        let acq = b.join().unwrap();
        assert_eq!(acq.via, Via::Free);
        // Polling would have taken at least the 10 s retry (the pause on a
        // notifying store is max(retry, lease / 3) = 10 s): B was woken.
        assert!(acq.waited < Duration::from_secs(5), "{acq:?}");
    }

    #[test]
    fn the_listener_recovers_after_a_server_restart() {
        let mut server = PgServer::start();
        let store = PostgresStore::connect(&server.url, "jobs").unwrap();
        store.insert_one(json!({"_id": "k", "n": 0})).unwrap();
        let waiter = store.for_caller(1);
        waiter.wait_for_change("k", Duration::ZERO);

        server.stop();
        // The broken listener, then a refused reconnect: each wait sleeps out its
        // timeout (no spinning) and reports nothing.
        for _ in 0..2 {
            let started = Instant::now();
            assert!(!waiter.wait_for_change("k", Duration::from_millis(300)));
            assert!(started.elapsed() >= Duration::from_millis(300));
        }

        server.start_again();
        let writer = store.for_caller(2);
        let (stop, busy) = keep_writing(move || {
            let _ = writer.update_one(&json!({"_id": "k"}), &json!({"n": 1}));
        });
        // A wait reopens the listener; once it listens, the next write wakes it.
        let woken = (0..40).any(|_| waiter.wait_for_change("k", Duration::from_millis(500)));
        stop.store(true, Ordering::SeqCst);
        busy.join().unwrap();
        assert!(
            woken,
            "the listener never recovered; log:\n{}",
            server.log()
        );
    }
}
