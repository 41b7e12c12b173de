//! Connecting: the URL's settings and their defaults, the URL redacted for messages,
//! opening connections, and opening a store on the server: writable (creating its
//! schema) or read-only (creating nothing).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, Config};

use super::conn::{Conn, Wire};
use super::failure::{explain, explain_wire};
use super::listen::listener_config;
use super::names::Names;
use super::schema::{SchemaError, ensure_schema, schema_state};
use super::shape::Table;
use super::{PostgresStore, Shared};
use crate::store::limits::{Deadline, Limits};
use crate::store::url::validate_namespace;
use crate::store::{OpCounter, OpKind, StoreError};

/// How long sent data may stay unacknowledged before the kernel drops the
/// connection, when the URL does not say: without it, a server that vanished from
/// the network mid-operation would block the caller until TCP gives up (~15 min).
const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The URL without its password (`user:secret@` becomes `user@`, and a
/// `password=` query parameter is blanked), so it can go into error messages and logs.
pub(in crate::store) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{user}{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| {
                    if pair.to_ascii_lowercase().starts_with("password=") {
                        "password=***".to_string()
                    } else {
                        pair.to_string()
                    }
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{head}{authority}{tail}")
}

impl Shared {
    /// Opens a new connection before `by`, and within the open limit.
    pub(super) fn open(&self, by: Deadline) -> Result<Conn, StoreError> {
        Conn::connect(&self.config, by.within(self.limits.open()))
            .map_err(|e| StoreError::Unavailable(self.cannot_connect(&e)))
    }

    fn cannot_connect(&self, e: &Wire) -> String {
        format!("cannot connect to {}: {}", self.url, explain_wire(e))
    }
}

/// Whether an open may create the namespace's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Create the table, function and trigger when missing.
    ReadWrite,
    /// Only read the catalogs: create, replace and write nothing.
    ReadOnly,
}

impl PostgresStore {
    /// Connects to the server at `url` and creates the `namespace` table if missing.
    ///
    /// A table of that name that is not joblock's (or a trigger or function by
    /// joblock's names that is not) is refused with [`StoreError::NotJoblocks`]
    /// and left untouched.
    pub fn connect(url: &str, namespace: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_within(url, namespace, &Limits::default())
    }

    /// [`PostgresStore::connect`] with the open and every later call bounded by
    /// `limits`.
    pub fn connect_within(
        url: &str,
        namespace: &str,
        limits: &Limits,
    ) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(url, namespace, Access::ReadWrite, limits)
    }

    /// Connects to the server at `url` without creating or changing anything: no
    /// DDL, no writes. A missing table reads as an empty store (looked for again
    /// on each read), a table that is not joblock's is refused, and the store
    /// listens for notifications only if joblock's trigger is already there.
    ///
    /// Writes are not refused here: `open_store_read_only`, the only caller, wraps
    /// the store in a [`crate::store::ReadOnly`] that refuses them.
    pub(crate) fn connect_read_only(
        url: &str,
        namespace: &str,
        limits: &Limits,
    ) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(url, namespace, Access::ReadOnly, limits)
    }

    /// Opens the store: the whole open (connect, handshake, the catalog reads and
    /// any creation) is bounded by the open limit.
    fn open_with(
        url: &str,
        namespace: &str,
        access: Access,
        limits: &Limits,
    ) -> Result<PostgresStore, StoreError> {
        validate_namespace(namespace).map_err(StoreError::Invalid)?;
        let shown = redact(url);
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            StoreError::Unavailable(format!("cannot connect to {shown}: {}", explain(&e)))
        })?;
        // Per address tried: a host name with several addresses tries each in turn,
        // all within the open's deadline.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(limits.open());
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEFAULT_TCP_USER_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("joblock");
        }
        let by = limits.open_deadline();
        let mut conn = Conn::connect(&config, by).map_err(|e| {
            StoreError::Unavailable(format!("cannot connect to {shown}: {}", explain_wire(&e)))
        })?;
        let failed = |what: &str, e: &Wire| {
            StoreError::Unavailable(format!(
                "cannot {what} {namespace} on {shown}: {}",
                explain_wire(e)
            ))
        };
        let schema = conn
            .run(by, async |client| current_schema(client).await)
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot read the schema on {shown}: {}",
                    explain_wire(&e)
                ))
            })?
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "no schema to use on {shown}: the search_path names no existing schema"
                ))
            })?;
        let names = Names::new(&schema, namespace);
        let (present, notifies) = match access {
            Access::ReadWrite => {
                let ensured = conn.with(by, async |client| ensure_schema(client, &names).await);
                match ensured.map_err(SchemaError::Wire).and_then(|r| r) {
                    Ok(notifies) => (true, notifies),
                    Err(SchemaError::NotJoblocks(why)) => {
                        return Err(StoreError::NotJoblocks(why));
                    }
                    Err(SchemaError::Wire(e)) => return Err(failed("create table", &e)),
                }
            }
            Access::ReadOnly => {
                let found = conn
                    .run(by, async |client| schema_state(client, &names).await)
                    .map_err(|e| failed("read table", &e))?;
                if let Some(why) = found.refuse_reading(&names) {
                    return Err(StoreError::NotJoblocks(why));
                }
                (found.table == Table::Joblock, found.notifies())
            }
        };
        let shared = Shared {
            listener_config: listener_config(&config),
            limits: limits.clone(),
            config,
            url: shown,
            names,
            present: AtomicBool::new(present),
            notifies,
            ops: OpCounter::default(),
        };
        Ok(PostgresStore {
            shared: Arc::new(shared),
            conn: Mutex::new(Some(conn)),
            stmts: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        })
    }

    /// The namespace (table name) this store keeps its documents in.
    pub fn namespace(&self) -> &str {
        &self.shared.names.namespace
    }

    /// Whether the namespace's table is there to read. After a writable open it
    /// always is; a read-only store that found none looks again (workers may have
    /// created it since), so an absent table reads as an empty one, and a table of
    /// somebody else's that appeared meanwhile is refused rather than read.
    pub(super) fn table_present(&self, kind: OpKind) -> Result<bool, StoreError> {
        if self.shared.present.load(Ordering::Acquire) {
            return Ok(true);
        }
        let names = &self.shared.names;
        let found = self.run(kind, |conn, by| {
            Ok(conn.run(by, async |client| schema_state(client, names).await)?)
        })?;
        if let Some(why) = found.refuse_reading(names) {
            return Err(StoreError::NotJoblocks(why));
        }
        let present = found.table == Table::Joblock;
        if present {
            self.shared.present.store(true, Ordering::Release);
        }
        Ok(present)
    }
}

/// The schema the connection's search_path resolves to (where an unqualified
/// `CREATE TABLE` would go), fixed for the store's lifetime (see [`Names`]);
/// `None` when the search_path names no existing schema.
async fn current_schema(client: &mut Client) -> Result<Option<String>, tokio_postgres::Error> {
    client
        .query_typed_one("SELECT pg_catalog.current_schema()", &[])
        .await?
        .try_get(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_passwords_and_keeps_the_rest() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgresql://h:1"), "postgresql://h:1");
        assert_eq!(
            redact("postgres://u:p@ss@h/db?sslmode=disable&password=x"),
            "postgres://u@h/db?sslmode=disable&password=***"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
