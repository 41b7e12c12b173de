//! A read-only open of a Redis store (what `joblock watch` uses) writes no key:
//! connecting only PINGs, the reads' scripts only read, and every write is refused
//! before it reaches the server.

mod support;

use std::process::Command;

use joblock::store::{RedisStore, Store, StoreError, StoreUrl, open_store_read_only};
use serde_json::json;
use support::redis_server::{shared, unique_namespace};

/// Every key of the namespace on the shared server.
fn keys(ns: &str) -> Vec<String> {
    let client = redis::Client::open(shared().url.as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:*"))
        .query(&mut con)
        .unwrap();
    keys.sort();
    keys
}

#[test]
fn a_read_only_open_and_watch_write_no_key() {
    let url = shared().url.clone();
    let ns = unique_namespace("ro");
    let store = open_store_read_only(&StoreUrl::Redis(url.clone()), &ns).unwrap();
    assert_eq!(store.count(&json!({})).unwrap(), 0);
    assert_eq!(
        store.find_many(&json!({})).unwrap(),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        store.find_one(&json!({"_id": "lock:worker:acme"})).unwrap(),
        None
    );
    let refused = [
        store.insert_one(json!({"_id": "a"})).err(),
        store.update_many(&json!({}), &json!({"n": 1})).err(),
        store.for_caller(1).delete_many(&json!({})).err(),
    ];
    for e in refused {
        assert!(
            matches!(&e, Some(StoreError::Invalid(m)) if m.contains("read-only")),
            "{e:?}"
        );
    }
    for json in [false, true] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_joblock"));
        cmd.args(["watch", "--store", &url, "--namespace", &ns, "--once"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(keys(&ns), Vec::<String>::new());
}

#[test]
fn a_read_only_open_reads_what_a_writer_wrote_and_changes_none_of_it() {
    let url = shared().url.clone();
    let ns = unique_namespace("ro");
    let writer = RedisStore::connect(&url, &ns).unwrap();
    writer.insert_one(json!({"_id": "a", "n": 1})).unwrap();
    let before = keys(&ns);
    let reader = open_store_read_only(&StoreUrl::Redis(url), &ns).unwrap();
    assert_eq!(
        reader.find_many(&json!({})).unwrap(),
        vec![json!({"_id": "a", "n": 1})]
    );
    assert!(
        reader
            .update_one(&json!({"_id": "a"}), &json!({"n": 2}))
            .is_err()
    );
    assert!(reader.delete_one(&json!({"_id": "a"})).is_err());
    assert_eq!(keys(&ns), before);
    assert_eq!(
        writer.find_one(&json!({"_id": "a"})).unwrap(),
        Some(json!({"_id": "a", "n": 1}))
    );
}
