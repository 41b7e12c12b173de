//! Connecting: the URL's settings and their defaults, the URL redacted for messages,
//! opening connections, and creating a store (with its schema) on the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use super::failure::explain;
use super::listen::listener_config;
use super::names::{channel_name, quote_ident};
use super::schema::{SchemaNames, ensure_schema};
use super::{PostgresStore, Shared};
use crate::store::url::validate_namespace;
use crate::store::{OpCounter, StoreError};

/// How long a connection attempt may take when the URL does not say: a job thread
/// blocked on a dead host should fail and retry rather than hang for minutes.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long sent data may stay unacknowledged before the kernel drops the
/// connection, when the URL does not say: without it, a server that vanished from
/// the network mid-operation would block the caller until TCP gives up (~15 min).
const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The URL without its password (`user:secret@` becomes `user@`, and a
/// `password=` query parameter is blanked), so it can go into error messages and logs.
fn redact(url: &str) -> String {
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
    /// Opens a new connection.
    pub(super) fn open(&self) -> Result<Client, StoreError> {
        self.config
            .connect(NoTls)
            .map_err(|e| StoreError::Unavailable(self.cannot_connect(&e)))
    }

    fn cannot_connect(&self, e: &postgres::Error) -> String {
        format!("cannot connect to {}: {}", self.url, explain(e))
    }
}

impl PostgresStore {
    /// Connects to the server at `url` and creates the `namespace` table if missing.
    pub fn connect(url: &str, namespace: &str) -> Result<PostgresStore, StoreError> {
        validate_namespace(namespace).map_err(StoreError::Invalid)?;
        let shown = redact(url);
        let mut config: Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Unavailable(format!("cannot connect to {shown}: {}", explain(&e)))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEFAULT_TCP_USER_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("joblock");
        }
        let mut shared = Shared {
            listener_config: listener_config(&config),
            config,
            url: shown,
            namespace: namespace.to_string(),
            table: quote_ident(namespace),
            channel: channel_name(namespace),
            notifies: false,
            ops: OpCounter::default(),
        };
        let mut client = shared.open()?;
        let names = SchemaNames {
            table: &shared.table,
            namespace,
        };
        shared.notifies = ensure_schema(&mut client, names).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create table {} on {}: {}",
                shared.namespace,
                shared.url,
                explain(&e)
            ))
        })?;
        Ok(PostgresStore {
            shared: Arc::new(shared),
            conn: Mutex::new(Some(client)),
            stmts: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        })
    }

    /// The namespace (table name) this store keeps its documents in.
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }
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
