//! The Redis backend: every operation is one Lua script, so each runs atomically on
//! the server, the way a real database's single-document operations do.
//!
//! # Layout under the namespace `ns`
//!
//! - `ns:doc:<id text>`: one HASH per document. Each field is a top-level key of the
//!   document; its value is the *canonical JSON text* of that key's value (the same
//!   canonical form the memory store uses for `_id`: object keys sorted, `-0.0`
//!   written as `0.0`). `<id text>` is the canonical text of the `_id`.
//! - `ns:ids`: a sorted set of id texts scored by `INCR ns:seq`: the insertion order.
//! - `ns:seq`: the insertion counter.
//! - `ns:changed:<id text>`: a pub/sub channel (not a key). The scripts `PUBLISH` to it
//!   whenever they insert, update or delete that document, inside the same script, so
//!   the notice is atomic with the change. [`Store::wait_for_change`] subscribes to it:
//!   a lock waiter wakes as soon as its own lock document changes (release,
//!   heartbeat) instead of polling, and only for its own lock.
//!
//! # Why a hash of canonical texts, not one JSON string per document
//!
//! Redis's Lua `cjson` is lossy: it prints numbers with at most 14 significant digits
//! (`encode_number_precision` refuses more), so `123456789012345` comes back as
//! `1.2345678901234e+14`; it turns `[]` into `{}` and `1.0` into `1`. Decoding and
//! re-encoding a document in Lua to merge an update would therefore corrupt fields the
//! update never touched, and matching on decoded values would make `1` equal `1.0`
//! (the memory store keeps them apart). With one hash field per top-level key:
//!
//! - matching is byte equality of canonical texts, which is exactly `serde_json::Value`
//!   equality, i.e. the same semantics as [`super::matches`];
//! - an update is `HSET` of the new fields' texts, so other fields keep their bytes;
//! - nothing is ever decoded in Lua, and the whole operation is still one script.
//!
//! Limits: a `-0.0` anywhere in a document is stored and returned as `0.0` (equal as a
//! `Value`); top-level key order is not kept (serde_json sorts keys anyway); scripts
//! touch keys they compute themselves, so this needs a standalone server, not a
//! cluster; filters without `_id` scan every document, as the memory store does.
//! Pub/sub channels are server-wide, not per database, so the same namespace in two
//! databases of one server shares its channels: a waiter may wake for the other
//! database's change, which is harmless (a notification is only a hint).

use std::collections::HashSet;
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use redis::{Client, Connection, ErrorKind, IntoConnectionInfo, Msg, RedisError, Script};
use serde_json::{Map, Value};

use super::canonical::canonical_text;
use super::filter::{describe, validate_filter, validate_set};
use super::url::validate_namespace;
use super::{OpCounter, OpCounts, OpKind, Store, StoreError};

/// At most this many buffered notices are read before a wait.
const DRAIN_MAX: usize = 256;
/// And for at most this long.
const DRAIN_BUDGET: Duration = Duration::from_millis(2);
/// How long opening a connection may take, so an unreachable address fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one request may wait for the server before the connection is dropped,
/// so a hung server surfaces as `Unavailable` instead of blocking a job forever.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Inserts documents, all or none. Shared by `insert_one` and `insert_many`.
///
/// Returns nil on success, or the id text of the first document (in batch order) whose
/// `_id` already exists or repeats an earlier one in the batch; every check runs
/// before the first write, so a failing batch writes nothing.
const INSERT_LUA: &str = r#"
-- KEYS[1] = ids zset, KEYS[2] = seq counter
-- ARGV[1] = doc key prefix, ARGV[2] = change channel prefix,
-- ARGV[3] = number of documents, then for each document: its id text, its field
-- count n, then n (name, value text) pairs.
local prefix, channel = ARGV[1], ARGV[2]
local docs, seen = {}, {}
local at = 4
for d = 1, tonumber(ARGV[3]) do
  local id, n = ARGV[at], tonumber(ARGV[at + 1])
  if seen[id] or redis.call('EXISTS', prefix .. id) == 1 then
    return id
  end
  seen[id] = true
  docs[d] = {id, at + 2, n}
  at = at + 2 + 2 * n
end
for _, doc in ipairs(docs) do
  local key = prefix .. doc[1]
  -- One HSET per field: unpack() of a huge document could overflow Lua's C stack.
  for j = doc[2], doc[2] + 2 * doc[3] - 1, 2 do
    redis.call('HSET', key, ARGV[j], ARGV[j + 1])
  end
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), doc[1])
  -- Wake whoever waits for this document (see wait_for_change).
  redis.call('PUBLISH', channel .. doc[1], 'insert')
end
return false
"#;

/// Finds the matches of a filter in insertion order, then finds, updates or deletes
/// them. Shared by every operation that takes a filter.
const QUERY_LUA: &str = r#"
-- KEYS[1] = ids zset
-- ARGV[1] = doc key prefix
-- ARGV[2] = change channel prefix
-- ARGV[3] = action: find | update | delete
-- ARGV[4] = reply: docs (each as HGETALL's flat list) | count
-- ARGV[5] = most matches to act on (0: all)
-- ARGV[6] = the filter's _id text, or '' when the filter has no _id
-- ARGV[7] = filter field count n, then n (name, value text) pairs,
-- then (update only) the (name, value text) pairs to set.
local prefix, channel, action, reply = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit, id = tonumber(ARGV[5]), ARGV[6]
local sets = 8 + 2 * tonumber(ARGV[7])

local function matches(key)
  for j = 8, sets - 1, 2 do
    -- HGET of a missing field is false, which equals no text: a missing key never
    -- matches, not even a filter null (whose text is 'null').
    if redis.call('HGET', key, ARGV[j]) ~= ARGV[j + 1] then
      return false
    end
  end
  return true
end

-- With _id in the filter at most one document can match: look it up directly
-- rather than scanning (the lock always filters on _id).
local candidates
if id ~= '' then
  candidates = {id}
else
  candidates = redis.call('ZRANGE', KEYS[1], 0, -1)
end
local hits = {}
for _, m in ipairs(candidates) do
  if matches(prefix .. m) then
    hits[#hits + 1] = m
    if #hits == limit then
      break
    end
  end
end

for _, m in ipairs(hits) do
  local key = prefix .. m
  if action == 'update' then
    for j = sets, #ARGV, 2 do
      redis.call('HSET', key, ARGV[j], ARGV[j + 1])
    end
  elseif action == 'delete' then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], m)
  end
  if action ~= 'find' then
    -- Wake whoever waits for this document (see wait_for_change).
    redis.call('PUBLISH', channel .. m, action)
  end
end

if reply == 'count' then
  return #hits
end
local out = {}
for i, m in ipairs(hits) do
  out[i] = redis.call('HGETALL', prefix .. m)
end
return out
"#;

/// The two scripts, hashed once per process; `Script::invoke` sends EVALSHA and
/// falls back to loading the script (e.g. after a server restart emptied its cache).
static INSERT: LazyLock<Script> = LazyLock::new(|| Script::new(INSERT_LUA));
static QUERY: LazyLock<Script> = LazyLock::new(|| Script::new(QUERY_LUA));

/// What a query does to its matches.
#[derive(Clone, Copy)]
enum Action {
    Find,
    Update,
    Delete,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Find => "find",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// State shared by every handle of one store.
struct Shared {
    client: Client,
    /// The URL with any password masked, for error messages.
    url: String,
    namespace: String,
    ids_key: String,
    seq_key: String,
    doc_prefix: String,
    /// `ns:changed:`: the scripts publish a document's changes to this prefix
    /// followed by its id text.
    channel_prefix: String,
    ops: OpCounter,
}

/// A document store on a Redis server; `for_caller` handles share data and op counts.
pub struct RedisStore {
    shared: Arc<Shared>,
    /// Opened lazily and dropped on a connection error, so the next operation
    /// reconnects (a restarted server is recovered without rebuilding the store).
    conn: Mutex<Option<Connection>>,
    /// The pub/sub connection of [`Store::wait_for_change`], a second connection:
    /// a wait blocks for up to its whole timeout, and must not hold `conn` (and so
    /// every operation of this handle) meanwhile. Opened on the first wait, kept
    /// subscribed between waits, dropped on a connection error.
    subscriber: Mutex<Option<Subscriber>>,
}

/// A connection in subscribed mode and what it has seen.
///
/// It is driven without a long-lived [`redis::PubSub`]: that type borrows the
/// connection and unsubscribes from everything when dropped, but the subscription
/// must outlive each wait. Between waits, messages for its channels stay buffered in
/// the socket (or in `pending`), so a change made between a caller's read and its next
/// wait still wakes that wait at once.
struct Subscriber {
    con: Connection,
    /// Channels this connection is subscribed to.
    channels: HashSet<String>,
    /// Channels a message arrived on while a wait was for another channel: the next
    /// wait for one of them returns at once instead of losing the notice.
    pending: HashSet<String>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shared.url)
            .field("namespace", &self.shared.namespace)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, ignoring poisoning: the guarded connection is either healthy or
/// absent, and a panic elsewhere is no reason to refuse service.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A URL fit for error messages: the password of `user:password@` and any
/// `pass=`/`password=` query value are masked.
fn redact(url: &str) -> String {
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

/// A document checked and flattened for the insert script: its id text and its
/// (name, value text) pairs.
struct Flat {
    id: String,
    fields: Vec<(String, String)>,
}

/// Checks a document's shape (same messages as the memory store) and flattens it.
fn flatten_doc(doc: &Value, what: &str) -> Result<Flat, StoreError> {
    match doc {
        Value::Object(fields) => match fields.get("_id") {
            Some(id) => Ok(Flat {
                id: canonical_text(id),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.clone(), canonical_text(v)))
                    .collect(),
            }),
            None => Err(StoreError::Invalid(format!("{what} has no _id"))),
        },
        other => Err(StoreError::Invalid(format!(
            "{what} must be a JSON object, got {}",
            describe(other)
        ))),
    }
}

impl Shared {
    fn cannot_connect(&self, e: &RedisError) -> StoreError {
        StoreError::Unavailable(format!("cannot connect to {}: {}", self.url, one_line(e)))
    }

    fn failed(&self, e: &RedisError) -> StoreError {
        StoreError::Unavailable(format!("redis at {}: {}", self.url, one_line(e)))
    }

    /// Opens a connection with bounded connect and request times.
    fn open(&self) -> Result<Connection, StoreError> {
        let con = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| self.cannot_connect(&e))?;
        con.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| con.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| self.cannot_connect(&e))?;
        Ok(con)
    }

    /// Rebuilds a document from HGETALL's flat (name, value text) list.
    fn unflatten(&self, flat: Vec<String>) -> Result<Value, StoreError> {
        let mut doc = Map::new();
        let mut items = flat.into_iter();
        while let (Some(name), Some(text)) = (items.next(), items.next()) {
            let value = serde_json::from_str(&text).map_err(|e| {
                StoreError::Unavailable(format!(
                    "redis at {}: field {name:?} of a document in namespace {} is not JSON ({e}): \
                     the keys were changed outside joblock",
                    self.url, self.namespace
                ))
            })?;
            doc.insert(name, value);
        }
        Ok(Value::Object(doc))
    }
}

/// Reads the next pub/sub message from a subscribed connection, skipping
/// (un)subscribe confirmations; a read timeout is an error with `is_timeout()`.
///
/// The [`redis::PubSub`] is only used for its `get_message` (a read that, unlike
/// `recv_response`, does not count a timed-out read as a reply still owed), and is
/// never dropped: its `Drop` would unsubscribe from every channel. Nothing was
/// subscribed through it, so its queue is empty and forgetting it leaks nothing.
fn next_message(con: &mut Connection) -> Result<Msg, RedisError> {
    let mut pubsub = ManuallyDrop::new(con.as_pubsub());
    pubsub.get_message()
}

impl Subscriber {
    /// Subscribes to `channel` and waits for the server's confirmation, so a change
    /// published after this returns is delivered. Messages on other channels that
    /// arrive before the confirmation are kept in `pending`.
    fn subscribe(&mut self, channel: &str) -> Result<(), RedisError> {
        // The confirmation gets the ordinary request time, not the caller's wait
        // time: a short first wait (often used just to subscribe) must still subscribe.
        self.con.set_read_timeout(Some(IO_TIMEOUT))?;
        self.con
            .send_packed_command(&redis::cmd("SUBSCRIBE").arg(channel).get_packed_command())?;
        loop {
            // A refusal (e.g. an ACL without this channel) is an error, not a
            // confirmation.
            let reply = self.con.recv_response()?.extract_error()?;
            match Msg::from_owned_value(reply) {
                Some(msg) => {
                    self.pending.insert(msg.get_channel_name().to_string());
                }
                // The only other reply in subscribed mode is a confirmation, and
                // confirmations come back in the order the channels were subscribed.
                None => break,
            }
        }
        self.channels.insert(channel.to_string());
        Ok(())
    }

    /// Moves every message already received (buffered in the socket) into `pending`,
    /// without waiting for more.
    ///
    /// Messages pile up while the handle does not wait (e.g. its own heartbeats while
    /// it holds the lock). Each says only "this document may have changed since it
    /// was published", so however many there are, one re-read by the caller answers
    /// them all: coalescing them makes a backlog cost one wake, not one per message.
    fn drain(&mut self) -> Result<(), RedisError> {
        // The shortest read timeout there is: buffered data is returned at once.
        self.con.set_read_timeout(Some(Duration::from_micros(1)))?;
        // Bounded: the kernel rounds that timeout up to milliseconds, so while the
        // document changes faster than that, "read until a timeout" would never end.
        // What is left stays buffered for the next wait.
        let started = Instant::now();
        for _ in 0..DRAIN_MAX {
            if started.elapsed() >= DRAIN_BUDGET {
                return Ok(());
            }
            match next_message(&mut self.con) {
                Ok(msg) => {
                    self.pending.insert(msg.get_channel_name().to_string());
                }
                Err(e) if e.is_timeout() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Waits until `deadline` for a message on `channel`; `Ok(false)` on timeout.
    /// An `Err` leaves the connection unusable.
    ///
    /// The first wait for a channel (on this connection) subscribes and returns `true`
    /// at once: the document may have changed between the caller's last read and the
    /// subscription, and nothing would report that change. One extra read closes
    /// the gap; from then on every change is delivered.
    fn wait(&mut self, channel: &str, deadline: Instant) -> Result<bool, RedisError> {
        let fresh = !self.channels.contains(channel);
        if fresh {
            self.subscribe(channel)?;
        }
        self.drain()?;
        if self.pending.remove(channel) || fresh {
            return Ok(true);
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // A zero read timeout is refused (and `None` would block forever).
                return Ok(false);
            }
            self.con.set_read_timeout(Some(left))?;
            match next_message(&mut self.con) {
                Ok(msg) if msg.get_channel_name() == channel => return Ok(true),
                Ok(msg) => {
                    self.pending.insert(msg.get_channel_name().to_string());
                }
                Err(e) if e.is_timeout() => return Ok(false),
                Err(e) => return Err(e),
            }
        }
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

    /// Inserts a checked batch; `DuplicateKey` names the first clashing `_id`.
    fn insert(&self, batch: &[Flat]) -> Result<(), StoreError> {
        let mut call = INSERT.key(&self.shared.ids_key);
        call.key(&self.shared.seq_key)
            .arg(&self.shared.doc_prefix)
            .arg(&self.shared.channel_prefix)
            .arg(batch.len());
        for doc in batch {
            call.arg(&doc.id).arg(doc.fields.len());
            for (name, text) in &doc.fields {
                call.arg(name).arg(text);
            }
        }
        match self.with_conn(|con| call.invoke::<Option<String>>(con))? {
            None => Ok(()),
            Some(id) => Err(StoreError::DuplicateKey(id)),
        }
    }

    /// Runs the query script: `action` on at most `limit` matches (0: all) of `filter`,
    /// setting `set` on update; the reply is fetched as `R`.
    fn query<R: redis::FromRedisValue>(
        &self,
        action: Action,
        reply: &str,
        limit: usize,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<R, StoreError> {
        let id = filter.get("_id").map(canonical_text).unwrap_or_default();
        let mut call = QUERY.key(&self.shared.ids_key);
        call.arg(&self.shared.doc_prefix)
            .arg(&self.shared.channel_prefix)
            .arg(action.name())
            .arg(reply)
            .arg(limit)
            .arg(id)
            .arg(filter.len());
        for (name, value) in filter {
            call.arg(name).arg(canonical_text(value));
        }
        for (name, value) in set.into_iter().flatten() {
            call.arg(name).arg(canonical_text(value));
        }
        self.with_conn(|con| call.invoke::<R>(con))
    }

    /// Matching documents (at most `limit`, 0: all), after `action` was applied.
    fn query_docs(
        &self,
        action: Action,
        limit: usize,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<Vec<Value>, StoreError> {
        self.query::<Vec<Vec<String>>>(action, "docs", limit, filter, set)?
            .into_iter()
            .map(|flat| self.shared.unflatten(flat))
            .collect()
    }

    /// How many documents `action` applied to (at most `limit`, 0: all).
    fn query_count(
        &self,
        action: Action,
        limit: usize,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<u64, StoreError> {
        self.query::<u64>(action, "count", limit, filter, set)
    }

    /// Waits on this handle's subscriber (opened if there is none) for a message on
    /// `channel` until `deadline`. On any error the subscriber is dropped, so the next
    /// wait reconnects and subscribes afresh.
    fn wait_on(
        &self,
        slot: &mut Option<Subscriber>,
        channel: &str,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        let sub = match slot {
            Some(sub) => sub,
            None => slot.insert(Subscriber {
                con: self.shared.open()?,
                channels: HashSet::new(),
                pending: HashSet::new(),
            }),
        };
        sub.wait(channel, deadline).map_err(|e| {
            *slot = None;
            self.shared.failed(&e)
        })
    }
}

impl Store for RedisStore {
    fn name(&self) -> &str {
        "redis"
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertOne);
        let flat = flatten_doc(&doc, "document")?;
        self.insert(&[flat])
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertMany);
        // Shape errors are found before touching the server, so they insert nothing.
        let batch = docs
            .iter()
            .enumerate()
            .map(|(i, doc)| flatten_doc(doc, &format!("document {i} of the batch")))
            .collect::<Result<Vec<_>, _>>()?;
        if batch.is_empty() {
            return Ok(());
        }
        self.insert(&batch)
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindOne);
        let filter = validate_filter(filter)?;
        Ok(self
            .query_docs(Action::Find, 1, filter, None)?
            .into_iter()
            .next())
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindMany);
        let filter = validate_filter(filter)?;
        self.query_docs(Action::Find, 0, filter, None)
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::Count);
        let filter = validate_filter(filter)?;
        self.query_count(Action::Find, 0, filter, None)
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::UpdateOne);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        Ok(self
            .query_docs(Action::Update, 1, filter, Some(set))?
            .into_iter()
            .next())
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::UpdateMany);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        self.query_count(Action::Update, 0, filter, Some(set))
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteOne);
        let filter = validate_filter(filter)?;
        self.query_count(Action::Delete, 1, filter, None)
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteMany);
        let filter = validate_filter(filter)?;
        self.query_count(Action::Delete, 0, filter, None)
    }

    fn op_counts(&self) -> OpCounts {
        self.shared.ops.snapshot()
    }

    fn notifies(&self) -> bool {
        true
    }

    /// Waits on the document's channel. `true` also when this handle has only just
    /// subscribed to it (or resubscribed after a lost connection): a change made
    /// before the subscription would otherwise go unreported, so it is reported as
    /// possible and the caller re-reads once.
    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        // A timeout too long to add (Duration::MAX) waits a century instead.
        let deadline = start
            .checked_add(timeout)
            .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600));
        let channel = format!(
            "{}{}",
            self.shared.channel_prefix,
            canonical_text(&Value::String(id.to_string()))
        );
        let woke = match self.subscriber.try_lock() {
            Ok(mut slot) => self.wait_on(&mut slot, &channel, deadline),
            Err(TryLockError::Poisoned(p)) => self.wait_on(&mut p.into_inner(), &channel, deadline),
            // Another thread of this handle is waiting: queueing behind its wait
            // could overrun our timeout, so this one simply polls.
            Err(TryLockError::WouldBlock) => Ok(false),
        };
        match woke {
            Ok(true) => true,
            // Without a notice the caller re-reads at once: pass the rest of the
            // timeout here, so a broken or busy subscriber never makes it spin.
            Ok(false) | Err(_) => {
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                false
            }
        }
    }

    fn for_caller(&self, _seed: u64) -> Arc<dyn Store> {
        // No latency model to seed: each caller just gets its own connection, opened
        // on first use so that creating a handle cannot fail.
        //
        // It gets its own subscriber too (also opened on its first wait, so callers
        // that never wait never open one): a wait holds its subscriber for the whole
        // timeout, so callers sharing one would queue behind each other's waits, and
        // would read (and so take) each other's notices off the one socket.
        Arc::new(RedisStore {
            shared: Arc::clone(&self.shared),
            conn: Mutex::new(None),
            subscriber: Mutex::new(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_get_equal_texts() {
        assert_eq!(canonical_text(&json!(-0.0)), canonical_text(&json!(0.0)));
        assert_eq!(
            canonical_text(&json!([{"b": 1, "a": -0.0}])),
            canonical_text(&json!([{"a": 0.0, "b": 1}]))
        );
        assert_eq!(canonical_text(&json!("x")), "\"x\"");
    }

    #[test]
    fn different_values_get_different_texts() {
        assert_ne!(canonical_text(&json!(1)), canonical_text(&json!(1.0)));
        assert_ne!(canonical_text(&json!("1")), canonical_text(&json!(1)));
        assert_ne!(canonical_text(&json!([])), canonical_text(&json!({})));
        assert_eq!(canonical_text(&json!(null)), "null");
    }

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

    #[test]
    fn insert_many_shape_errors_name_the_document() {
        assert_eq!(
            flatten_doc(&json!({"a": 1}), "document 2 of the batch").err(),
            Some(StoreError::Invalid(
                "document 2 of the batch has no _id".to_string()
            ))
        );
    }
}
