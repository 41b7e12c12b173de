//! Choosing a store from `--store URL`.

use std::sync::Arc;

use super::{MemoryConfig, MemoryStore, ReadOnly, Store, StoreError};
use crate::clock::Clock;

/// Where the documents live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded memory store (one process only).
    Memory,
    /// A PostgreSQL server: `postgres://user@host:port/db` (or `postgresql://`).
    Postgres(String),
    /// A Redis server: `redis://host:port` or `redis+unix:///path/to/socket`.
    Redis(String),
}

impl StoreUrl {
    /// Parses a `--store` value; the error names it.
    pub fn parse(s: &str) -> Result<StoreUrl, String> {
        let t = s.trim();
        if t == "memory" {
            return Ok(StoreUrl::Memory);
        }
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(t.to_string()));
        }
        if t.starts_with("redis://") || t.starts_with("redis+unix://") || t.starts_with("unix://") {
            return Ok(StoreUrl::Redis(t.to_string()));
        }
        Err(format!(
            "{s:?} is not a store: use memory, postgres://user@host:port/db or redis://host:port"
        ))
    }

    /// The backend's short name.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreUrl::Memory => "memory",
            StoreUrl::Postgres(_) => "postgres",
            StoreUrl::Redis(_) => "redis",
        }
    }
}

/// Checks that a namespace is a plain name (it becomes a table name or key prefix).
pub fn validate_namespace(ns: &str) -> Result<(), String> {
    let ok = !ns.is_empty()
        && ns.len() <= 48
        && ns
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && ns.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{ns:?} is not a namespace: use 1-48 letters, digits or _, starting with a letter or _"
        ))
    }
}

/// Opens the store a URL names. The memory store uses `clock`, `config` and `seed`.
pub fn open_store(
    url: &StoreUrl,
    namespace: &str,
    clock: &Clock,
    config: MemoryConfig,
    seed: u64,
) -> Result<Arc<dyn Store>, StoreError> {
    validate_namespace(namespace).map_err(StoreError::Invalid)?;
    match url {
        StoreUrl::Memory => Ok(Arc::new(MemoryStore::new(clock.clone(), config, seed))),
        StoreUrl::Postgres(u) => Ok(Arc::new(super::PostgresStore::connect(u, namespace)?)),
        StoreUrl::Redis(u) => Ok(Arc::new(super::RedisStore::connect(u, namespace)?)),
    }
}

/// Opens the store a URL names for reading only (`joblock watch`): nothing is
/// created or written, and every write through the store is refused.
///
/// On PostgreSQL a namespace without a table reads as an empty store (nothing is
/// created for it) and a table that is not joblock's is refused; Redis's open only
/// PINGs and its reads write no key; the memory store is a fresh, empty one.
pub fn open_store_read_only(url: &StoreUrl, namespace: &str) -> Result<Arc<dyn Store>, StoreError> {
    validate_namespace(namespace).map_err(StoreError::Invalid)?;
    let store: Arc<dyn Store> = match url {
        StoreUrl::Memory => Arc::new(MemoryStore::new(
            Clock::real(1.0),
            MemoryConfig::default(),
            0,
        )),
        StoreUrl::Postgres(u) => Arc::new(super::PostgresStore::connect_read_only(u, namespace)?),
        StoreUrl::Redis(u) => Arc::new(super::RedisStore::connect(u, namespace)?),
    };
    Ok(Arc::new(ReadOnly::new(store)))
}
