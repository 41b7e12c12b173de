//! Checks that every networked backend (PostgreSQL, Redis) passes the same way.

use joblock::clock::Clock;
use joblock::store::url::{StoreUrl, open_store};
use joblock::store::{MemoryConfig, Store};
use serde_json::json;

use super::unique_namespace;

/// `url` opens through `open_store` as a working store named `name`, and so do the
/// handles it makes.
pub fn opens_from_a_store_url(url: &str, name: &str) {
    let url = StoreUrl::parse(url).unwrap();
    let store = open_store(
        &url,
        &unique_namespace("url"),
        &Clock::virtual_time(),
        MemoryConfig::default(),
        1,
    )
    .unwrap();
    assert_eq!(store.name(), name);
    store.insert_one(json!({"_id": "a"})).unwrap();
    assert_eq!(store.count(&json!({})).unwrap(), 1);
    assert_eq!(store.for_caller(7).name(), name);
}

/// Two connections to one namespace (e.g. over the Unix socket and over TCP) see
/// one store: what `unix` writes, `tcp` reads.
pub fn unix_and_tcp_see_one_store(unix: &dyn Store, tcp: &dyn Store) {
    unix.insert_one(json!({"_id": "u", "via": "unix"})).unwrap();
    assert_eq!(
        tcp.find_one(&json!({"_id": "u"})).unwrap(),
        Some(json!({"_id": "u", "via": "unix"}))
    );
}
