//! Connections: the URL checked and redacted for messages, opening connections with
//! bounded times, creating a store, and running a request on a handle's connection
//! (reconnecting after it broke, reloading a script the server forgot), every
//! exchange before the call's deadline (see [`crate::store::limits`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{
    Client, Connection, ConnectionLike, ErrorKind, IntoConnectionInfo, RedisError, Script,
    ServerErrorKind,
};

use super::request::Request;
use super::{RedisStore, Shared, lock};
use crate::store::limits::{Deadline, Limits};
use crate::store::url::validate_namespace;
use crate::store::{OpCounter, StoreError};

/// A connection and the read and write timeout its socket has now.
///
/// The socket's own timeouts are what bound each exchange: a read or a write
/// waits at most what is left of the call, so a server that accepts and never
/// answers fails the call in time. Setting them costs two system calls, so they
/// are set only when they change (at most once per call, usually never).
pub(super) struct Link {
    pub(super) con: Connection,
    armed: Option<Duration>,
}

impl Link {
    /// Makes every read and write on the socket give up after `limit`.
    pub(super) fn arm(&mut self, limit: Duration) -> Result<(), RedisError> {
        if self.armed != Some(limit) {
            // Unknown until both are set: a failure between them must not be cached.
            self.armed = None;
            self.con.set_read_timeout(Some(limit))?;
            self.con.set_write_timeout(Some(limit))?;
            self.armed = Some(limit);
        }
        Ok(())
    }

    /// Arms the socket with what is left before `by`; a timeout error once it passed.
    pub(super) fn arm_for(&mut self, by: &Deadline) -> Result<(), RedisError> {
        match by.left() {
            Some(left) => self.arm(left),
            None => Err(timed_out()),
        }
    }
}

/// The error a read that timed out gives (so it is reported and handled as one).
fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
}

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

/// What went wrong, on one line: a timeout says which limit was missed.
fn why(e: &RedisError, by: &Deadline) -> String {
    if e.is_timeout() {
        format!("the server {}", by.missed())
    } else {
        one_line(e)
    }
}

impl Shared {
    fn cannot_connect(&self, e: &RedisError, by: &Deadline) -> StoreError {
        StoreError::Unavailable(format!("cannot connect to {}: {}", self.url, why(e, by)))
    }

    /// A failed exchange of a call that had until `by`.
    pub(super) fn failed(&self, e: &RedisError, by: &Deadline) -> StoreError {
        StoreError::Unavailable(format!("redis at {}: {}", self.url, why(e, by)))
    }

    /// Opens a connection before `by` and within the open limit, its socket
    /// armed with what is left.
    pub(super) fn open(&self, by: Deadline) -> Result<Link, StoreError> {
        let by = by.within(self.limits.open());
        let left = by
            .left()
            .ok_or_else(|| self.cannot_connect(&timed_out(), &by))?;
        // The crate gives each handshake reply (AUTH, SELECT) the whole timeout it
        // was handed, so the time left is shared out between them.
        let con = self
            .client
            .get_connection_with_timeout(left / self.handshake_replies.max(1))
            .map_err(|e| self.cannot_connect(&e, &by))?;
        let mut link = Link { con, armed: None };
        link.arm_for(&by)
            .map_err(|e| self.cannot_connect(&e, &by))?;
        Ok(link)
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port`, `redis+unix:///path`); keys live under `namespace:`.
    pub fn connect(url: &str, namespace: &str) -> Result<RedisStore, StoreError> {
        RedisStore::connect_within(url, namespace, &Limits::default())
    }

    /// [`RedisStore::connect`] with the open and every later call bounded by
    /// `limits`.
    pub fn connect_within(
        url: &str,
        namespace: &str,
        limits: &Limits,
    ) -> Result<RedisStore, StoreError> {
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
        let handshake_replies =
            u32::from(settings.password().is_some()) + u32::from(settings.db() != 0);
        let client = Client::open(info.set_redis_settings(settings)).map_err(invalid)?;
        let shared = Arc::new(Shared {
            client,
            url: shown,
            namespace: namespace.to_string(),
            ids_key: format!("{namespace}:ids"),
            seq_key: format!("{namespace}:seq"),
            doc_prefix: format!("{namespace}:doc:"),
            channel_prefix: format!("{namespace}:changed:"),
            limits: limits.clone(),
            handshake_replies,
            ops: OpCounter::default(),
        });
        // Fail now rather than at the first job: without a password or database the
        // client sends nothing on connect, so a PING proves a Redis server answers.
        // It gets what is left of the open limit, so a silent listener fails fast.
        let by = limits.open_deadline();
        let mut link = shared.open(by)?;
        link.arm_for(&by)
            .and_then(|()| redis::cmd("PING").query::<String>(&mut link.con))
            .map_err(|e| shared.cannot_connect(&e, &by))?;
        Ok(RedisStore {
            shared,
            conn: Mutex::new(Some(link)),
            subscriber: Mutex::new(None),
        })
    }

    /// Runs `f` on this handle's connection, opening one if there is none, all of
    /// it before the call's deadline: the socket is armed with the call's limit
    /// (or what is left of it after a reconnection), and `f` re-arms it before any
    /// further request (see [`Link::arm_for`]).
    ///
    /// The connection is put back only if it is still in step with the server, so
    /// after a connection error (a timeout included) this call fails and the next
    /// one reconnects.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Link, &Deadline) -> Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        let by = self.shared.limits.call_deadline();
        let mut slot = lock(&self.conn);
        let mut link = match slot.take() {
            Some(mut link) => {
                // Only microseconds of the call have passed: its whole limit keeps
                // the armed value (and its two system calls) unchanged between calls.
                link.arm(by.limit())
                    .map_err(|e| self.shared.failed(&e, &by))?;
                link
            }
            None => self.shared.open(by)?,
        };
        match f(&mut link, &by) {
            Ok(v) => {
                *slot = Some(link);
                Ok(v)
            }
            Err(e) => {
                if connection_survives(&e) {
                    *slot = Some(link);
                }
                Err(self.shared.failed(&e, &by))
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
        self.with_conn(
            |link, by| match link.con.req_packed_command(&cmd)?.extract_error() {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    link.arm_for(by)?;
                    script.load(&mut link.con)?;
                    link.arm_for(by)?;
                    link.con.req_packed_command(&cmd)?.extract_error()
                }
                reply => reply,
            },
        )
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
