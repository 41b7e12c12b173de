//! Connections: the URL checked and redacted for messages, opening connections with
//! bounded times, creating a store, and running a request on a handle's connection
//! (reconnecting after it broke, reloading a script the server forgot).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{
    Client, Connection, ConnectionLike, ErrorKind, IntoConnectionInfo, RedisError, Script,
    ServerErrorKind,
};

use super::request::Request;
use super::{RedisStore, Shared, lock};
use crate::store::url::validate_namespace;
use crate::store::{OpCounter, StoreError};

/// How long opening a connection may take, so an unreachable address fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one request may wait for the server before the connection is dropped,
/// so a hung server surfaces as `Unavailable` instead of blocking a job forever.
pub(super) const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A URL fit for error messages: the password of `user:password@` and any
/// `pass=`/`password=` query value are masked.
pub(in crate::store) fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        let authority_end = out[start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..authority_end].rfind('@') {
            let userinfo = &out[start..start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let masked: Vec<String> = out[q + 1..]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k == "pass" || k == "password" => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{}?{}", &out[..q], masked.join("&"));
    }
    out
}

/// A redis error as one line (script errors can carry newlines).
fn one_line(e: &RedisError) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the connection is still in step after `e`: only when the server sent a
/// whole error reply. Anything else (IO error, timeout, unparsable reply) may leave
/// a reply half-read, so the connection is dropped and the next operation reconnects.
fn connection_survives(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension)
}

impl Shared {
    fn cannot_connect(&self, e: &RedisError) -> StoreError {
        StoreError::Unavailable(format!("cannot connect to {}: {}", self.url, one_line(e)))
    }

    pub(super) fn failed(&self, e: &RedisError) -> StoreError {
        StoreError::Unavailable(format!("redis at {}: {}", self.url, one_line(e)))
    }

    /// Opens a connection with bounded connect and request times.
    pub(super) fn open(&self) -> Result<Connection, StoreError> {
        let con = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| self.cannot_connect(&e))?;
        con.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| con.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| self.cannot_connect(&e))?;
        Ok(con)
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port`, `redis+unix:///path`); keys live under `namespace:`.
    pub fn connect(url: &str, namespace: &str) -> Result<RedisStore, StoreError> {
        validate_namespace(namespace).map_err(StoreError::Invalid)?;
        let shown = redact(url);
        let invalid = |e: RedisError| {
            StoreError::Invalid(format!("{shown} is not a redis URL: {}", one_line(&e)))
        };
        let info = url.into_connection_info().map_err(invalid)?;
        // No CLIENT SETINFO on connect: the crate waits for each of its two replies
        // with the full timeout, which would let a silent listener hold `connect` for
        // several timeouts; all it buys is a library name in CLIENT LIST.
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let client = Client::open(info.set_redis_settings(settings)).map_err(invalid)?;
        let shared = Arc::new(Shared {
            client,
            url: shown,
            namespace: namespace.to_string(),
            ids_key: format!("{namespace}:ids"),
            seq_key: format!("{namespace}:seq"),
            doc_prefix: format!("{namespace}:doc:"),
            channel_prefix: format!("{namespace}:changed:"),
            ops: OpCounter::default(),
        });
        // Fail now rather than at the first job: without a password or database the
        // client sends nothing on connect, so a PING proves a Redis server answers.
        // It gets what is left of the connect timeout, so a silent listener fails fast.
        let started = Instant::now();
        let mut con = shared.open()?;
        let left = CONNECT_TIMEOUT
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1));
        con.set_read_timeout(Some(left))
            .and_then(|()| redis::cmd("PING").query::<String>(&mut con))
            .and_then(|_| con.set_read_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| shared.cannot_connect(&e))?;
        Ok(RedisStore {
            shared,
            conn: Mutex::new(Some(con)),
            subscriber: Mutex::new(None),
        })
    }

    /// Runs `f` on this handle's connection, opening one if there is none.
    ///
    /// The connection is put back only if it is still in step with the server, so
    /// after a connection error this call fails and the next one reconnects.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        let mut slot = lock(&self.conn);
        let mut con = match slot.take() {
            Some(con) => con,
            None => self.shared.open()?,
        };
        match f(&mut con) {
            Ok(v) => {
                *slot = Some(con);
                Ok(v)
            }
            Err(e) => {
                if connection_survives(&e) {
                    *slot = Some(con);
                }
                Err(self.shared.failed(&e))
            }
        }
    }

    /// Runs a script on this handle's connection; a `NOSCRIPT` reply (the server's
    /// script cache was emptied, e.g. by a restart) loads the script and retries once.
    pub(super) fn eval(
        &self,
        script: &Script,
        request: &Request,
    ) -> Result<redis::Value, StoreError> {
        let cmd = request.packed();
        self.with_conn(|con| match con.req_packed_command(&cmd)?.extract_error() {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                script.load(con)?;
                con.req_packed_command(&cmd)?.extract_error()
            }
            reply => reply,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_masks_passwords_only() {
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis://user:s3cret@host:1/0"),
            "redis://user:***@host:1/0"
        );
        assert_eq!(redact("redis://:s3cret@host:1"), "redis://:***@host:1");
        assert_eq!(
            redact("redis+unix:///tmp/r.sock?db=1&pass=x"),
            "redis+unix:///tmp/r.sock?db=1&pass=***"
        );
    }
}
