//! Store contract tests on the Redis backend, against throwaway `redis-server`s.
//!
//! The backend-independent contract runs here exactly as on the memory store; the
//! `redis` module tests what only a networked engine has: connecting, namespaces,
//! number fidelity through the server, compare-and-set races over many
//! connections, recovery after the server restarts, and change notification over
//! pub/sub (a lock waiter wakes when the holder releases instead of polling).

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use joblock::store::{RedisStore, Store, StoreError};
use serde_json::{Value, json};

all_conformance_tests!(redis_conformance, support::redis_server::fresh_store());

/// What only the Redis backend has.
mod redis {
    use super::*;
    use support::redis_server::{RedisServer, fresh_store, shared, unique_namespace};
    use support::wakes::assert_update_wakes;

    fn unavailable_message<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
        match r {
            Err(StoreError::Unavailable(msg)) => msg,
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[test]
    fn is_named_redis_and_opens_from_a_store_url() {
        support::engines::opens_from_a_store_url(&shared().url, "redis");
    }

    #[test]
    fn connects_over_the_unix_socket_too() {
        let server = shared();
        let ns = unique_namespace("unix");
        let unix = RedisStore::connect(&server.unix_url, &ns).unwrap();
        let tcp = RedisStore::connect(&server.url, &ns).unwrap();
        support::engines::unix_and_tcp_see_one_store(&unix, &tcp);
    }

    #[test]
    fn a_refused_connection_is_unavailable_naming_the_url_at_once() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("redis://127.0.0.1:{port}");
        let start = Instant::now();
        let msg = unavailable_message(RedisStore::connect(&url, "ns"));
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert!(
            msg.starts_with(&format!("cannot connect to {url}: ")),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn an_unroutable_address_fails_within_the_connect_timeout() {
        // TEST-NET-1 (RFC 5737) never answers: either the network says so at once or
        // the connect timeout (2 s) ends the wait.
        let url = "redis://192.0.2.1:6379";
        let start = Instant::now();
        let msg = unavailable_message(RedisStore::connect(url, "ns"));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(msg.contains(url), "{msg}");
    }

    #[test]
    fn a_listener_that_never_answers_fails_within_the_connect_timeout() {
        // The TCP connect succeeds (the kernel queues it) but nobody replies to PING.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}", silent.local_addr().unwrap());
        let start = Instant::now();
        let msg = unavailable_message(RedisStore::connect(&url, "ns"));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(
            msg.starts_with(&format!("cannot connect to {url}: ")),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_unix_socket_is_unavailable() {
        let url = "redis+unix:///nonexistent/joblock/redis.sock";
        let msg = unavailable_message(RedisStore::connect(url, "ns"));
        assert!(msg.contains(url), "{msg}");
    }

    #[test]
    fn passwords_never_appear_in_errors() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let msg = unavailable_message(RedisStore::connect(
            &format!("redis://user:hunter2@127.0.0.1:{port}"),
            "ns",
        ));
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains(&format!("user:***@127.0.0.1:{port}")), "{msg}");
    }

    #[test]
    fn a_bad_namespace_or_url_is_invalid() {
        assert!(matches!(
            RedisStore::connect(&shared().url, "has:colon"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            RedisStore::connect("redis://127.0.0.1:notaport", "ns"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn namespaces_isolate_stores_on_one_server() {
        let a = fresh_store();
        let b = fresh_store();
        a.insert_one(json!({"_id": "same", "in": "a"})).unwrap();
        b.insert_one(json!({"_id": "same", "in": "b"})).unwrap();
        assert_eq!(
            a.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "same", "in": "a"})]
        );
        assert_eq!(
            b.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "same", "in": "b"})]
        );
        assert_eq!(b.delete_many(&json!({})).unwrap(), 1);
        assert_eq!(a.count(&json!({})).unwrap(), 1);
        assert_eq!(b.count(&json!({})).unwrap(), 0);
    }

    #[test]
    fn numbers_and_empty_containers_survive_updates_of_other_fields() {
        let store = fresh_store();
        let doc = json!({
            "_id": "n",
            "max_safe": 9_007_199_254_740_991_u64,
            "big": 123_456_789_012_345_u64,
            "u64_max": u64::MAX,
            "i64_min": i64::MIN,
            "float_one": 1.0,
            "tenth": 0.1,
            "tiny": 5e-324,
            "empty_obj": {},
            "empty_arr": [],
            "nested": {"e": {}, "a": [[], {}], "n": null},
            "text": "a/b \"q\" é \u{1F600} \\ \n",
            "v": 0
        });
        store.insert_one(doc.clone()).unwrap();
        assert_eq!(
            store.find_one(&json!({"_id": "n"})).unwrap(),
            Some(doc.clone())
        );

        let mut expected = doc.clone();
        expected["v"] = json!(1);
        assert_eq!(
            store
                .update_one(&json!({"_id": "n"}), &json!({"v": 1}))
                .unwrap(),
            Some(expected.clone())
        );
        assert_eq!(
            store
                .update_many(&json!({"v": 1}), &json!({"v": 2}))
                .unwrap(),
            1
        );
        expected["v"] = json!(2);
        assert_eq!(
            store.find_one(&json!({"_id": "n"})).unwrap(),
            Some(expected)
        );

        // Matching is exact: a neighbouring double, `1` for `1.0` and `[]` for `{}`
        // are different values, as they are in the memory store.
        assert_eq!(
            store
                .count(&json!({"max_safe": 9_007_199_254_740_991_u64}))
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .count(&json!({"max_safe": 9_007_199_254_740_990_u64}))
                .unwrap(),
            0
        );
        assert_eq!(store.count(&json!({"u64_max": u64::MAX})).unwrap(), 1);
        assert_eq!(store.count(&json!({"u64_max": u64::MAX - 1})).unwrap(), 0);
        assert_eq!(store.count(&json!({"float_one": 1.0})).unwrap(), 1);
        assert_eq!(store.count(&json!({"float_one": 1})).unwrap(), 0);
        assert_eq!(store.count(&json!({"empty_obj": {}})).unwrap(), 1);
        assert_eq!(store.count(&json!({"empty_obj": []})).unwrap(), 0);
        assert_eq!(
            store
                .count(&json!({"nested": {"n": null, "a": [[], {}], "e": {}}}))
                .unwrap(),
            1,
            "object key order does not matter"
        );
    }

    #[test]
    fn negative_zero_matches_zero() {
        let store = fresh_store();
        store.insert_one(json!({"_id": -0.0, "x": -0.0})).unwrap();
        assert_eq!(store.count(&json!({"_id": 0.0, "x": 0.0})).unwrap(), 1);
        assert!(matches!(
            store.insert_one(json!({"_id": 0.0})),
            Err(StoreError::DuplicateKey(_))
        ));
    }

    #[test]
    fn compare_and_set_race_has_exactly_one_winner() {
        const RACERS: u64 = 16;
        let store = fresh_store();
        store.insert_one(json!({"_id": "k", "v": 0})).unwrap();
        let start = Arc::new(Barrier::new(RACERS as usize));
        let racers: Vec<_> = (1..=RACERS)
            .map(|i| {
                let handle = store.for_caller(i);
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    handle.update_one(&json!({"_id": "k", "v": 0}), &json!({"v": i}))
                })
            })
            .collect();
        let results: Vec<Result<Option<Value>, StoreError>> =
            racers.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<&Value> = results
            .iter()
            .map(|r| r.as_ref().unwrap_or_else(|e| panic!("racer failed: {e}")))
            .filter_map(Option::as_ref)
            .collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert_eq!(
            store.find_one(&json!({"_id": "k"})).unwrap().as_ref(),
            Some(winners[0])
        );
    }

    #[test]
    fn a_handle_recovers_after_the_server_restarts() {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url, "restart").unwrap();
        let caller = store.for_caller(1);
        store.insert_one(json!({"_id": "before"})).unwrap();
        caller.insert_one(json!({"_id": "before2"})).unwrap();

        server.restart();

        for handle in [&store as &dyn Store, caller.as_ref()] {
            // The old connection is dead: the first call may report it; the next
            // reconnects. No persistence, so the data is gone (expected).
            match handle.count(&json!({})) {
                Ok(_) | Err(StoreError::Unavailable(_)) => {}
                Err(e) => panic!("expected success or Unavailable, got {e}"),
            }
            assert_eq!(handle.count(&json!({})).unwrap(), 0);
        }
        store.insert_one(json!({"_id": "after", "n": 1})).unwrap();
        assert_eq!(
            caller
                .update_one(&json!({"_id": "after"}), &json!({"n": 2}))
                .unwrap(),
            Some(json!({"_id": "after", "n": 2}))
        );
    }

    #[test]
    fn a_stopped_server_is_unavailable_then_recovers_when_it_returns() {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url, "stopped").unwrap();
        store.insert_one(json!({"_id": "x"})).unwrap();
        server.stop();
        for _ in 0..3 {
            let msg = unavailable_message(store.find_one(&json!({"_id": "x"})));
            assert!(msg.contains(&server.url), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
        server.restart();
        store.insert_one(json!({"_id": "x"})).unwrap();
        assert_eq!(store.count(&json!({})).unwrap(), 1);
    }

    #[test]
    fn notifies_on_every_handle() {
        let store = fresh_store();
        assert!(store.notifies());
        assert!(store.for_caller(1).notifies());
    }

    #[test]
    fn an_update_wakes_a_waiter_on_another_handle() {
        let store = fresh_store();
        let waiter = store.for_caller(1);
        let updater = store.for_caller(2);
        store.insert_one(json!({"_id": "k", "n": 0})).unwrap();
        assert_update_wakes(waiter.as_ref(), updater.as_ref(), "k", 1);
        // The subscription stays: later waits on the same handle wake too.
        assert_update_wakes(waiter.as_ref(), updater.as_ref(), "k", 2);
    }

    #[test]
    fn the_first_wait_for_an_id_reports_a_possible_change_at_once() {
        // Between the caller's read and the subscription a change would go unseen,
        // so a new subscription counts as a notice; after it, only changes do.
        let store = fresh_store();
        store.insert_one(json!({"_id": "k"})).unwrap();
        assert!(store.wait_for_change("k", Duration::from_secs(10)));
        assert!(!store.wait_for_change("k", Duration::from_millis(50)));
    }

    #[test]
    fn a_zero_timeout_does_not_block() {
        let store = fresh_store();
        store.wait_for_change("k", Duration::from_millis(1));
        let start = Instant::now();
        assert!(!store.wait_for_change("k", Duration::ZERO));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn inserts_and_deletes_wake_a_waiter_too() {
        let store = fresh_store();
        let waiter = store.for_caller(1);
        waiter.wait_for_change("k", Duration::from_millis(1));
        store.insert_one(json!({"_id": "k"})).unwrap();
        assert!(waiter.wait_for_change("k", Duration::from_secs(10)));
        store.delete_one(&json!({"_id": "k"})).unwrap();
        assert!(waiter.wait_for_change("k", Duration::from_secs(10)));
        // A find changes nothing and a filter that matches nothing writes nothing.
        store.find_one(&json!({"_id": "k"})).unwrap();
        store
            .update_one(&json!({"_id": "k"}), &json!({"n": 1}))
            .unwrap();
        assert!(!waiter.wait_for_change("k", Duration::from_millis(300)));
    }

    #[test]
    fn changes_to_another_id_do_not_wake_a_waiter() {
        let store = fresh_store();
        store.insert_one(json!({"_id": "k"})).unwrap();
        store.insert_one(json!({"_id": "other"})).unwrap();
        let waiter = store.for_caller(1);
        waiter.wait_for_change("k", Duration::from_millis(1));

        // Not subscribed to "other" at all.
        store
            .update_one(&json!({"_id": "other"}), &json!({"n": 1}))
            .unwrap();
        assert!(!waiter.wait_for_change("k", Duration::from_millis(300)));

        // Subscribed to both on one connection: a notice for "other" read during a
        // wait for "k" neither wakes it nor is lost.
        waiter.wait_for_change("other", Duration::from_millis(1));
        store
            .update_one(&json!({"_id": "other"}), &json!({"n": 2}))
            .unwrap();
        assert!(!waiter.wait_for_change("k", Duration::from_millis(300)));
        assert!(waiter.wait_for_change("other", Duration::from_secs(10)));
        assert!(!waiter.wait_for_change("other", Duration::from_millis(50)));

        // And a second id's own wake works as the first's does.
        assert_update_wakes(waiter.as_ref(), store.for_caller(2).as_ref(), "other", 3);
    }

    #[test]
    fn a_backlog_of_changes_costs_one_wake() {
        // Changes made while nobody waited (e.g. the handle's own heartbeats while it
        // held the lock) are one notice, not one per change.
        let store = fresh_store();
        store.insert_one(json!({"_id": "k", "n": 0})).unwrap();
        store.wait_for_change("k", Duration::from_millis(1));
        for n in 1..=20 {
            store
                .update_one(&json!({"_id": "k"}), &json!({"n": n}))
                .unwrap();
        }
        assert!(store.wait_for_change("k", Duration::from_secs(10)));
        assert!(!store.wait_for_change("k", Duration::from_millis(300)));
    }

    #[test]
    fn a_waiting_lock_acquires_as_soon_as_the_holder_releases() {
        let store = fresh_store();
        support::wakes::a_waiting_lock_acquires_as_soon_as_the_holder_releases(&store);
    }

    #[test]
    fn a_waiter_recovers_after_the_server_restarts() {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url, "restart_wait").unwrap();
        let waiter = store.for_caller(1);
        store.insert_one(json!({"_id": "k", "n": 0})).unwrap();
        assert_update_wakes(waiter.as_ref(), &store, "k", 1);

        server.restart();

        // The data is gone (no persistence); the first call may report the dead
        // connection, the next reconnects.
        if store.insert_one(json!({"_id": "k", "n": 0})).is_err() {
            store.insert_one(json!({"_id": "k", "n": 0})).unwrap();
        }
        // The old subscriber is dead: a wait notices, drops it and returns false
        // after its timeout; the next one subscribes afresh, which counts as a notice.
        let recovered = (0..5).any(|_| waiter.wait_for_change("k", Duration::from_millis(200)));
        assert!(recovered, "the subscriber never came back");
        assert_update_wakes(waiter.as_ref(), &store, "k", 2);
    }
}
