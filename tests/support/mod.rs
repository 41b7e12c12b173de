//! Helpers shared by the integration tests.
// Each test crate uses only some of these.
#![allow(dead_code, unused_macros)]

pub mod conformance;
pub mod pg_server;
pub mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};

/// A namespace (table name or key prefix) no other store of this process has used.
pub fn unique_namespace(tag: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{tag}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
pub mod events;
