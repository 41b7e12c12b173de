//! Fresh namespaces, so every store starts empty. Its own file so that the stores
//! bench can include it beside `pg_server.rs` and `redis_server.rs`, which use it.

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
