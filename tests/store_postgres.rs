//! Store contract tests on the PostgreSQL backend, against throwaway servers.
//!
//! The backend-independent contract runs here exactly as on the memory store; the
//! `postgres` module tests what only a networked engine has: connecting, namespaces
//! (tables), one connection per handle, number handling in jsonb, compare-and-set
//! races over many connections, and recovery after the server restarts.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use joblock::clock::Clock;
use joblock::store::url::{StoreUrl, open_store};
use joblock::store::{MemoryConfig, PostgresStore, Store, StoreError};
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
        let server = shared();
        let url = StoreUrl::parse(&server.url).unwrap();
        let store = open_store(
            &url,
            &unique_namespace("url"),
            &Clock::virtual_time(),
            MemoryConfig::default(),
            1,
        )
        .unwrap();
        assert_eq!(store.name(), "postgres");
        store.insert_one(json!({"_id": "a"})).unwrap();
        assert_eq!(store.count(&json!({})).unwrap(), 1);
        assert_eq!(store.for_caller(7).name(), "postgres");
    }

    #[test]
    fn connects_over_the_unix_socket_too() {
        let server = shared();
        let ns = unique_namespace("unix");
        let unix = PostgresStore::connect(&server.unix_url, &ns).unwrap();
        let tcp = PostgresStore::connect(&server.url, &ns).unwrap();
        unix.insert_one(json!({"_id": "u", "via": "unix"})).unwrap();
        assert_eq!(
            tcp.find_one(&json!({"_id": "u"})).unwrap(),
            Some(json!({"_id": "u", "via": "unix"}))
        );
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
}
