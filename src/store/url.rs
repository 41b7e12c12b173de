//! Choosing a store from `--store URL`.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Limits, MemoryConfig, MemoryStore, ReadOnly, Store, StoreError};
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
    /// A SQLite database file on this machine: `sqlite:///abs/path.db` (absolute) or
    /// `sqlite://rel/path.db` (relative to the working directory).
    Sqlite(PathBuf),
}

/// The scheme of [`StoreUrl::Sqlite`]; what follows it is the path, as written.
const SQLITE_SCHEME: &str = "sqlite://";

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
        if let Some(path) = t.strip_prefix(SQLITE_SCHEME) {
            if path.is_empty() {
                return Err(format!(
                    "{s:?} names no database file: use sqlite:///abs/path.db or sqlite://rel/path.db"
                ));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if t.starts_with("sqlite:") {
            return Err(format!(
                "{s:?} is not a store: a SQLite store is sqlite:///abs/path.db or sqlite://rel/path.db"
            ));
        }
        Err(format!(
            "{s:?} is not a store: use memory, sqlite://PATH, postgres://user@host:port/db \
             or redis://host:port"
        ))
    }

    /// The URL as it may be shown or recorded: any password masked.
    pub fn redacted(&self) -> String {
        match self {
            StoreUrl::Memory => "memory".to_string(),
            StoreUrl::Postgres(url) => super::redact_postgres(url),
            StoreUrl::Redis(url) => super::redact_redis(url),
            StoreUrl::Sqlite(path) => format!("{SQLITE_SCHEME}{}", path.display()),
        }
    }

    /// The backend's short name.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreUrl::Memory => "memory",
            StoreUrl::Postgres(_) => "postgres",
            StoreUrl::Redis(_) => "redis",
            StoreUrl::Sqlite(_) => "sqlite",
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
/// A networked store opens and answers within an onlooker's [`Limits`].
pub fn open_store(
    url: &StoreUrl,
    namespace: &str,
    clock: &Clock,
    config: MemoryConfig,
    seed: u64,
) -> Result<Arc<dyn Store>, StoreError> {
    open_store_within(url, namespace, clock, config, seed, &Limits::default())
}

/// [`open_store`] with a networked store's open and every later call bounded by
/// `limits` (a holder's: [`Limits::holding`]).
pub fn open_store_within(
    url: &StoreUrl,
    namespace: &str,
    clock: &Clock,
    config: MemoryConfig,
    seed: u64,
    limits: &Limits,
) -> Result<Arc<dyn Store>, StoreError> {
    validate_namespace(namespace).map_err(StoreError::Invalid)?;
    match url {
        StoreUrl::Memory => Ok(Arc::new(MemoryStore::new(clock.clone(), config, seed))),
        StoreUrl::Postgres(u) => Ok(Arc::new(super::PostgresStore::connect_within(
            u, namespace, limits,
        )?)),
        StoreUrl::Redis(u) => Ok(Arc::new(super::RedisStore::connect_within(
            u, namespace, limits,
        )?)),
        StoreUrl::Sqlite(path) => Ok(Arc::new(super::SqliteStore::open(path, namespace)?)),
    }
}

/// Opens the store a URL names for reading only (`joblock watch`): nothing is
/// created or written, and every write through the store is refused.
///
/// On PostgreSQL and SQLite a namespace without a table reads as an empty store
/// (nothing is created for it: on SQLite not even a missing database file) and a
/// table that is not joblock's is refused; Redis's open only PINGs and its reads
/// write no key; the memory store is a fresh, empty one.
pub fn open_store_read_only(url: &StoreUrl, namespace: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_store_read_only_within(url, namespace, &Limits::default())
}

/// [`open_store_read_only`] with a networked store's open and every later call
/// bounded by `limits`.
pub fn open_store_read_only_within(
    url: &StoreUrl,
    namespace: &str,
    limits: &Limits,
) -> Result<Arc<dyn Store>, StoreError> {
    validate_namespace(namespace).map_err(StoreError::Invalid)?;
    let store: Arc<dyn Store> = match url {
        StoreUrl::Memory => Arc::new(MemoryStore::new(
            Clock::real(1.0),
            MemoryConfig::default(),
            0,
        )),
        StoreUrl::Postgres(u) => Arc::new(super::PostgresStore::connect_read_only(
            u, namespace, limits,
        )?),
        StoreUrl::Redis(u) => Arc::new(super::RedisStore::connect_within(u, namespace, limits)?),
        StoreUrl::Sqlite(path) => Arc::new(super::SqliteStore::open_read_only(path, namespace)?),
    };
    Ok(Arc::new(ReadOnly::new(store)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_a_path_absolute_or_relative() {
        assert_eq!(
            StoreUrl::parse("sqlite:///var/lib/j/locks.db"),
            Ok(StoreUrl::Sqlite(PathBuf::from("/var/lib/j/locks.db")))
        );
        assert_eq!(
            StoreUrl::parse(" sqlite://state/locks.db "),
            Ok(StoreUrl::Sqlite(PathBuf::from("state/locks.db")))
        );
        assert_eq!(
            StoreUrl::parse("sqlite://x.db").map(|u| u.kind()),
            Ok("sqlite")
        );
    }

    #[test]
    fn a_sqlite_url_without_a_path_is_refused_naming_it() {
        for bad in ["sqlite:", "sqlite://", "sqlite:locks.db", "sqlite:/abs.db"] {
            match StoreUrl::parse(bad) {
                Err(msg) => assert!(msg.contains(&format!("{bad:?}")), "{msg}"),
                Ok(url) => panic!("{bad} parsed as {url:?}"),
            }
        }
    }

    #[test]
    fn a_redacted_url_keeps_no_password() {
        let shown = |s: &str| StoreUrl::parse(s).unwrap().redacted();
        assert_eq!(
            shown("postgres://u:secret@h:5432/db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(shown("redis://:secret@h:6379"), "redis://:***@h:6379");
        assert_eq!(shown("sqlite://rel/l.db"), "sqlite://rel/l.db");
        assert_eq!(shown("memory"), "memory");
    }

    #[test]
    fn the_error_for_an_unknown_store_lists_every_scheme() {
        let msg = StoreUrl::parse("mongodb://h").unwrap_err();
        for scheme in ["memory", "sqlite://", "postgres://", "redis://"] {
            assert!(msg.contains(scheme), "{msg}");
        }
    }
}
