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
//! # Scripts
//!
//! - `INSERT_LUA` inserts a batch, all or none.
//! - `BY_ID_LUA` serves every filter that has `_id` (all the lock ever sends): at most
//!   one document can match, and its key is known, so it is one `HMGET` of the filter's
//!   fields, then (update) one `HSET` of the new fields, `PUBLISH`, and `HGETALL` for
//!   the reply. The stored `_id` field is compared like the others, which also tells
//!   a missing document (every field nil) from a present one.
//! - `SCAN_LUA` serves filters without `_id`: it tries every document in insertion
//!   order, one `HMGET` each.
//!
//! Commands that take a field per argument are sent in slices of at most 1000
//! arguments: Lua's `unpack()` of more could overflow its C stack.
//!
//! Documents come back packed into one string by the server's `cmsgpack` (a
//! MessagePack array of HGETALL's flat name/value-text list per document; see
//! [`Packed`]), not as nested reply arrays: the redis crate's reply parser costs far
//! more per element than per byte. The requests are written in the wire format
//! directly (see [`Request`]) and sent as `EVALSHA`; a `NOSCRIPT` reply (the server's
//! script cache was emptied, e.g. by a restart) loads the script and retries.
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
//! - nothing is ever decoded in Lua (`cmsgpack` only wraps the texts, byte for byte,
//!   and each is parsed on its own by the client), and the whole operation is still
//!   one script.
//!
//! Limits: a `-0.0` anywhere in a document is stored and returned as `0.0` (equal as a
//! `Value`); top-level key order is not kept (serde_json sorts keys anyway); scripts
//! touch keys they compute themselves, so this needs a standalone server, not a
//! cluster, and one whose Lua has the `cmsgpack` library Redis bundles; filters
//! without `_id` scan every document, as the memory store does.
//! Pub/sub channels are server-wide, not per database, so the same namespace in two
//! databases of one server shares its channels: a waiter may wake for the other
//! database's change, which is harmless (a notification is only a hint).

use std::collections::HashSet;
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use redis::{
    Client, Connection, ConnectionLike, ErrorKind, IntoConnectionInfo, Msg, RedisError, Script,
    ServerErrorKind,
};
use serde_json::{Map, Value};

use super::canonical::{canonical, canonical_text};
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

/// Lua shared by every script, prepended to each one.
///
/// Lua's C stack holds only about 8000 values, so `unpack()` of a huge slice of ARGV
/// (a document or update with thousands of fields) would fail: commands that take one
/// argument per field are sent in slices of at most `SLICE` arguments (an even
/// number, so a slice of (name, value) pairs never splits a pair).
macro_rules! lua_prelude {
    () => {
        r#"
local SLICE = 1000
-- HMGET of the fields named in ARGV[first..last]; a missing field is false.
local function hmget(key, first, last)
  if last < first then
    return {}
  end
  if last - first < SLICE then
    return redis.call('HMGET', key, unpack(ARGV, first, last))
  end
  local got = {}
  for from = first, last, SLICE do
    local part = redis.call('HMGET', key, unpack(ARGV, from, math.min(from + SLICE - 1, last)))
    for i = 1, #part do
      got[#got + 1] = part[i]
    end
  end
  return got
end
-- HSET of the (name, value text) pairs in ARGV[first..last].
local function hset(key, first, last)
  for from = first, last, SLICE do
    redis.call('HSET', key, unpack(ARGV, from, math.min(from + SLICE - 1, last)))
  end
end
-- Whether the n values got (from hmget) equal the n texts from ARGV[first]: a
-- missing field is false, which equals no text, so a missing key never matches, not
-- even a filter null (whose text is 'null').
local function equal(got, first, n)
  for i = 1, n do
    if got[i] ~= ARGV[first + i - 1] then
      return false
    end
  end
  return true
end
"#
    };
}

/// Inserts documents, all or none. Shared by `insert_one` and `insert_many`.
///
/// Returns nil on success, or the id text of the first document (in batch order) whose
/// `_id` already exists or repeats an earlier one in the batch; every check runs
/// before the first write, so a failing batch writes nothing.
const INSERT_LUA: &str = concat!(
    lua_prelude!(),
    r#"
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
  hset(prefix .. doc[1], doc[2], doc[2] + 2 * doc[3] - 1)
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), doc[1])
  -- Wake whoever waits for this document (see wait_for_change).
  redis.call('PUBLISH', channel .. doc[1], 'insert')
end
return false
"#
);

/// Finds, counts, updates or deletes the one document a filter with `_id` can match
/// (the lock's every operation): the document's key is known, so nothing is scanned,
/// and the key and channel come ready-made from the client.
const BY_ID_LUA: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS[1] = the document's hash, KEYS[2] = ids zset
-- ARGV[1] = the document's change channel
-- ARGV[2] = its id text
-- ARGV[3] = action: find | update | delete
-- ARGV[4] = reply: doc (the document after the action, cmsgpack-packed, or false
--           when nothing matched) | count (0 or 1)
-- ARGV[5] = filter field count n (at least 1: the filter has _id), then the n names,
-- then their n value texts, then (update only) the (name, value text) pairs to set.
-- The stored _id field is compared like any other: it is also what tells a missing
-- document (all of whose fields are false) from an existing one.
local key, action, reply = KEYS[1], ARGV[3], ARGV[4]
local n = tonumber(ARGV[5])
if not equal(hmget(key, 6, 5 + n), 6 + n, n) then
  if reply == 'count' then
    return 0
  end
  return false
end
if action == 'update' then
  hset(key, 6 + 2 * n, #ARGV)
elseif action == 'delete' then
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[2], ARGV[2])
end
if action ~= 'find' then
  -- Wake whoever waits for this document (see wait_for_change).
  redis.call('PUBLISH', ARGV[1], action)
end
if reply == 'count' then
  return 1
end
return cmsgpack.pack(redis.call('HGETALL', key))
"#
);

/// Finds the matches of a filter without `_id` by scanning every document in
/// insertion order, then finds, updates or deletes them.
const SCAN_LUA: &str = concat!(
    lua_prelude!(),
    r#"
-- KEYS[1] = ids zset
-- ARGV[1] = doc key prefix
-- ARGV[2] = change channel prefix
-- ARGV[3] = action: find | update | delete
-- ARGV[4] = reply: docs (cmsgpack-packed array of the documents after the action,
--           each as HGETALL's flat list) | count
-- ARGV[5] = most matches to act on (0: all)
-- ARGV[6] = filter field count n, then the n names, then their n value texts,
-- then (update only) the (name, value text) pairs to set.
local prefix, channel, action, reply = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local hits = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if equal(hmget(prefix .. m, 7, 6 + n), 7 + n, n) then
    hits[#hits + 1] = m
    if #hits == limit then
      break
    end
  end
end

for _, m in ipairs(hits) do
  local key = prefix .. m
  if action == 'update' then
    hset(key, 7 + 2 * n, #ARGV)
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
return cmsgpack.pack(out)
"#
);

/// The scripts, hashed once per process. Each is called with EVALSHA; a `NOSCRIPT`
/// reply (e.g. after a server restart emptied its script cache) loads it and retries.
static INSERT: LazyLock<Script> = LazyLock::new(|| Script::new(INSERT_LUA));
static BY_ID: LazyLock<Script> = LazyLock::new(|| Script::new(BY_ID_LUA));
static SCAN: LazyLock<Script> = LazyLock::new(|| Script::new(SCAN_LUA));

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

/// An EVALSHA request, written in the wire format (RESP) as its arguments are added.
///
/// `redis::Script::invoke` copies every argument into its own `Vec`, then into a
/// `Cmd`, then packs that again, and `canonical_text` allocates a `String` per value:
/// on the lock's hot path (about twenty small arguments per call) that was some 2 µs
/// of client CPU per call. Here each argument, even a value's canonical text, goes
/// once into one buffer.
struct Request {
    /// The arguments after `EVALSHA`, each as `$<len>\r\n<bytes>\r\n`.
    args: Vec<u8>,
    count: usize,
    /// Scratch space for a canonical text, whose length is written before it.
    text: Vec<u8>,
}

/// `n` in decimal: its digits are `digits[start..]` of the returned `(digits, start)`.
fn decimal(mut n: usize) -> ([u8; 20], usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return (digits, start);
        }
    }
}

/// Appends `n` in decimal.
fn push_decimal(buf: &mut Vec<u8>, n: usize) {
    let (digits, start) = decimal(n);
    buf.extend_from_slice(&digits[start..]);
}

/// Appends one RESP bulk string made of `head` then `tail` (e.g. a key prefix and an
/// id text), so they need not be joined first.
fn push_bulk(buf: &mut Vec<u8>, head: &[u8], tail: &[u8]) {
    buf.push(b'$');
    push_decimal(buf, head.len() + tail.len());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(head);
    buf.extend_from_slice(tail);
    buf.extend_from_slice(b"\r\n");
}

/// Writes the canonical text of `v` (exactly [`canonical_text`]'s bytes) into `buf`.
fn write_canonical(buf: &mut Vec<u8>, v: &Value) -> Result<(), StoreError> {
    let written = match v {
        // The common case: strings are already canonical.
        Value::String(_) => serde_json::to_writer(&mut *buf, v),
        _ => serde_json::to_writer(&mut *buf, &canonical(v)),
    };
    // Unreachable (a Value always serialises, and a Vec always takes the bytes), but
    // an error is better than a panic if serde_json ever disagrees.
    written.map_err(|e| StoreError::Invalid(format!("cannot encode {}: {e}", describe(v))))
}

impl Request {
    /// A call of `script` with `keys` keys, which must be the first arguments added.
    fn new(script: &Script, keys: usize) -> Request {
        let mut request = Request {
            args: Vec::with_capacity(512),
            count: 0,
            text: Vec::new(),
        };
        request.arg(script.get_hash().as_bytes());
        request.int(keys);
        request
    }

    fn arg(&mut self, bytes: &[u8]) -> &mut Self {
        self.joined(bytes, b"")
    }

    /// One argument made of `head` followed by `tail`.
    fn joined(&mut self, head: &[u8], tail: &[u8]) -> &mut Self {
        push_bulk(&mut self.args, head, tail);
        self.count += 1;
        self
    }

    fn int(&mut self, n: usize) -> &mut Self {
        let (digits, start) = decimal(n);
        self.arg(&digits[start..])
    }

    /// The canonical text of `v`.
    fn text(&mut self, v: &Value) -> Result<&mut Self, StoreError> {
        self.text.clear();
        write_canonical(&mut self.text, v)?;
        push_bulk(&mut self.args, &self.text, b"");
        self.count += 1;
        Ok(self)
    }

    /// The names of `fields`, then their canonical texts (the scripts' filter layout).
    fn filter(&mut self, fields: &Map<String, Value>) -> Result<&mut Self, StoreError> {
        self.int(fields.len());
        for name in fields.keys() {
            self.arg(name.as_bytes());
        }
        for value in fields.values() {
            self.text(value)?;
        }
        Ok(self)
    }

    /// (name, canonical text) pairs (the scripts' layout of fields to write).
    fn pairs(&mut self, fields: &Map<String, Value>) -> Result<&mut Self, StoreError> {
        for (name, value) in fields {
            self.arg(name.as_bytes());
            self.text(value)?;
        }
        Ok(self)
    }

    /// The whole command, ready to send.
    fn packed(&self) -> Vec<u8> {
        let mut cmd = Vec::with_capacity(self.args.len() + 32);
        cmd.push(b'*');
        push_decimal(&mut cmd, self.count + 1);
        cmd.extend_from_slice(b"\r\n$7\r\nEVALSHA\r\n");
        cmd.extend_from_slice(&self.args);
        cmd
    }
}

/// Reads the MessagePack that the scripts' `cmsgpack.pack` makes of HGETALL replies:
/// arrays and strings, nothing else.
///
/// The scripts pack documents into one string because the redis crate's reply parser
/// costs far more per element than per byte: a nested array of a lock document's ten
/// strings took about 3.5 µs to parse, one string holding the same bytes 0.5 µs,
/// while `cmsgpack.pack` costs the server about 1 µs.
struct Packed<'a> {
    rest: &'a [u8],
}

impl<'a> Packed<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    /// A big-endian unsigned integer of `width` bytes.
    fn uint(&mut self, width: usize) -> Option<usize> {
        let bytes = self.take(width)?;
        Some(bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b)))
    }

    fn tag(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn array(&mut self) -> Option<usize> {
        let len = match self.tag()? {
            tag @ 0x90..=0x9f => usize::from(tag & 0x0f),
            0xdc => self.uint(2)?,
            0xdd => self.uint(4)?,
            _ => return None,
        };
        // Every element takes at least a byte: a longer array is malformed, and its
        // length must not size an allocation.
        (len <= self.rest.len()).then_some(len)
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = match self.tag()? {
            tag @ 0xa0..=0xbf => usize::from(tag & 0x1f),
            0xd9 | 0xc4 => self.uint(1)?,
            0xda | 0xc5 => self.uint(2)?,
            0xdb | 0xc6 => self.uint(4)?,
            _ => return None,
        };
        self.take(len)
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

    fn unexpected(&self, what: &str) -> StoreError {
        StoreError::Unavailable(format!(
            "redis at {}: unexpected reply from a joblock script ({what})",
            self.url
        ))
    }

    /// Rebuilds the next document of a packed reply from HGETALL's flat
    /// (name, value text) list.
    fn read_doc(&self, packed: &mut Packed<'_>) -> Result<Value, StoreError> {
        let malformed = || self.unexpected("malformed document");
        let len = packed.array().ok_or_else(malformed)?;
        if len % 2 != 0 {
            return Err(malformed());
        }
        let mut doc = Map::new();
        for _ in 0..len / 2 {
            let (name, text) = packed.string().zip(packed.string()).ok_or_else(malformed)?;
            let outside = |what: String| {
                StoreError::Unavailable(format!(
                    "redis at {}: {what} of a document in namespace {}: the keys were \
                     changed outside joblock",
                    self.url, self.namespace
                ))
            };
            let name = String::from_utf8(name.to_vec()).map_err(|e| {
                outside(format!(
                    "field name {:?} is not UTF-8 ({e})",
                    String::from_utf8_lossy(name)
                ))
            })?;
            let value = serde_json::from_slice(text)
                .map_err(|e| outside(format!("field {name:?} is not JSON ({e})")))?;
            doc.insert(name, value);
        }
        Ok(Value::Object(doc))
    }

    /// The by-id script's `doc` reply: the document, or `None` when nothing matched.
    fn doc_reply(&self, reply: redis::Value) -> Result<Option<Value>, StoreError> {
        match reply {
            // Lua's false: nil in RESP2, false in RESP3.
            redis::Value::Nil | redis::Value::Boolean(false) => Ok(None),
            redis::Value::BulkString(bytes) => {
                let mut packed = Packed { rest: &bytes };
                let doc = self.read_doc(&mut packed)?;
                if !packed.rest.is_empty() {
                    return Err(self.unexpected("trailing bytes"));
                }
                Ok(Some(doc))
            }
            _ => Err(self.unexpected("expected a packed document")),
        }
    }

    /// The scan script's `docs` reply.
    fn docs_reply(&self, reply: redis::Value) -> Result<Vec<Value>, StoreError> {
        let redis::Value::BulkString(bytes) = reply else {
            return Err(self.unexpected("expected packed documents"));
        };
        let mut packed = Packed { rest: &bytes };
        let len = packed
            .array()
            .ok_or_else(|| self.unexpected("malformed documents"))?;
        let docs = (0..len)
            .map(|_| self.read_doc(&mut packed))
            .collect::<Result<Vec<_>, _>>()?;
        if !packed.rest.is_empty() {
            return Err(self.unexpected("trailing bytes"));
        }
        Ok(docs)
    }

    /// A `count` reply.
    fn count_reply(&self, reply: redis::Value) -> Result<u64, StoreError> {
        match reply {
            redis::Value::Int(n) => u64::try_from(n).map_err(|_| self.unexpected("negative count")),
            _ => Err(self.unexpected("expected a count")),
        }
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

    /// Runs a script on this handle's connection; a `NOSCRIPT` reply (the server's
    /// script cache was emptied, e.g. by a restart) loads the script and retries once.
    fn eval(&self, script: &Script, request: &Request) -> Result<redis::Value, StoreError> {
        let cmd = request.packed();
        self.with_conn(|con| match con.req_packed_command(&cmd)?.extract_error() {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                script.load(con)?;
                con.req_packed_command(&cmd)?.extract_error()
            }
            reply => reply,
        })
    }

    /// Inserts a checked batch; `DuplicateKey` names the first clashing `_id`.
    fn insert(&self, batch: &[Flat]) -> Result<(), StoreError> {
        let shared = &self.shared;
        let mut call = Request::new(&INSERT, 2);
        call.arg(shared.ids_key.as_bytes())
            .arg(shared.seq_key.as_bytes())
            .arg(shared.doc_prefix.as_bytes())
            .arg(shared.channel_prefix.as_bytes())
            .int(batch.len());
        for doc in batch {
            call.arg(doc.id.as_bytes()).int(doc.fields.len());
            for (name, text) in &doc.fields {
                call.arg(name.as_bytes()).arg(text.as_bytes());
            }
        }
        match self.eval(&INSERT, &call)? {
            redis::Value::Nil | redis::Value::Boolean(false) => Ok(()),
            redis::Value::BulkString(id) => Err(StoreError::DuplicateKey(
                String::from_utf8_lossy(&id).into_owned(),
            )),
            _ => Err(shared.unexpected("expected nil or an id")),
        }
    }

    /// Runs the by-id script: `action` on the document `filter` (which has `_id`)
    /// matches, setting `set` on update; `reply` is `doc` or `count`.
    fn by_id(
        &self,
        id: &Value,
        action: Action,
        reply: &str,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<redis::Value, StoreError> {
        let shared = &self.shared;
        let mut id_text = Vec::new();
        write_canonical(&mut id_text, id)?;
        let mut call = Request::new(&BY_ID, 2);
        call.joined(shared.doc_prefix.as_bytes(), &id_text)
            .arg(shared.ids_key.as_bytes())
            .joined(shared.channel_prefix.as_bytes(), &id_text)
            .arg(&id_text)
            .arg(action.name().as_bytes())
            .arg(reply.as_bytes())
            .filter(filter)?;
        if let Some(set) = set {
            call.pairs(set)?;
        }
        self.eval(&BY_ID, &call)
    }

    /// Runs the scan script: `action` on at most `limit` matches (0: all) of `filter`
    /// (which has no `_id`), setting `set` on update; `reply` is `docs` or `count`.
    fn scan(
        &self,
        action: Action,
        reply: &str,
        limit: usize,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<redis::Value, StoreError> {
        let shared = &self.shared;
        let mut call = Request::new(&SCAN, 1);
        call.arg(shared.ids_key.as_bytes())
            .arg(shared.doc_prefix.as_bytes())
            .arg(shared.channel_prefix.as_bytes())
            .arg(action.name().as_bytes())
            .arg(reply.as_bytes())
            .int(limit)
            .filter(filter)?;
        if let Some(set) = set {
            call.pairs(set)?;
        }
        self.eval(&SCAN, &call)
    }

    /// The first match of `filter`, after `action` was applied to it.
    fn query_one(
        &self,
        action: Action,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<Option<Value>, StoreError> {
        match filter.get("_id") {
            // With _id in the filter at most one document can match: look it up
            // directly rather than scanning (the lock always filters on _id).
            Some(id) => {
                let reply = self.by_id(id, action, "doc", filter, set)?;
                self.shared.doc_reply(reply)
            }
            None => {
                let reply = self.scan(action, "docs", 1, filter, set)?;
                Ok(self.shared.docs_reply(reply)?.into_iter().next())
            }
        }
    }

    /// Every match of `filter`, in insertion order, after `action` was applied.
    fn query_all(
        &self,
        action: Action,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<Vec<Value>, StoreError> {
        match filter.get("_id") {
            Some(_) => Ok(self.query_one(action, filter, set)?.into_iter().collect()),
            None => {
                let reply = self.scan(action, "docs", 0, filter, set)?;
                self.shared.docs_reply(reply)
            }
        }
    }

    /// How many documents `action` applied to (at most `limit`, 0: all).
    fn query_count(
        &self,
        action: Action,
        limit: usize,
        filter: &Map<String, Value>,
        set: Option<&Map<String, Value>>,
    ) -> Result<u64, StoreError> {
        let reply = match filter.get("_id") {
            Some(id) => self.by_id(id, action, "count", filter, set)?,
            None => self.scan(action, "count", limit, filter, set)?,
        };
        self.shared.count_reply(reply)
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
        self.query_one(Action::Find, filter, None)
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindMany);
        let filter = validate_filter(filter)?;
        self.query_all(Action::Find, filter, None)
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
        self.query_one(Action::Update, filter, Some(set))
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
    fn canonical_texts_are_written_exactly_as_canonical_text_makes_them() {
        for v in [
            json!("lock:x"),
            json!("quote \" and \u{0} and é"),
            json!(null),
            json!(true),
            json!(-0.0),
            json!(1.5e300),
            json!(123456789012345_u64),
            json!(-7),
            json!([]),
            json!({}),
            json!({"b": [1, {"d": -0.0, "c": null}], "a": "x"}),
        ] {
            let mut buf = Vec::new();
            write_canonical(&mut buf, &v).unwrap();
            assert_eq!(String::from_utf8(buf).unwrap(), canonical_text(&v), "{v}");
        }
    }

    #[test]
    fn requests_are_packed_as_the_redis_crate_packs_them() {
        let script = Script::new("return 1");
        let mut request = Request::new(&script, 1);
        request
            .joined(b"ns:doc:", b"\"k\"")
            .arg(b"")
            .int(0)
            .int(1234567890)
            .text(&json!({"b": 1, "a": "\r\n"}))
            .unwrap();
        let expected = redis::cmd("EVALSHA")
            .arg(script.get_hash())
            .arg(1)
            .arg("ns:doc:\"k\"")
            .arg("")
            .arg(0)
            .arg(1234567890)
            .arg(r#"{"a":"\r\n","b":1}"#)
            .get_packed_command();
        assert_eq!(request.packed(), expected);
    }

    fn shared() -> Shared {
        Shared {
            client: Client::open("redis://127.0.0.1:1").unwrap(),
            url: "redis://127.0.0.1:1".to_string(),
            namespace: "ns".to_string(),
            ids_key: "ns:ids".to_string(),
            seq_key: "ns:seq".to_string(),
            doc_prefix: "ns:doc:".to_string(),
            channel_prefix: "ns:changed:".to_string(),
            ops: OpCounter::default(),
        }
    }

    /// MessagePack as `cmsgpack.pack` writes an array of strings, with the wider
    /// headers that longer arrays and strings get.
    fn msgpack(items: &[&[u8]]) -> Vec<u8> {
        let mut out = match items.len() {
            n @ 0..=15 => vec![0x90 | n as u8],
            n @ 16..=0xffff => [vec![0xdc], (n as u16).to_be_bytes().to_vec()].concat(),
            n => [vec![0xdd], (n as u32).to_be_bytes().to_vec()].concat(),
        };
        for item in items {
            match item.len() {
                n @ 0..=31 => out.push(0xa0 | n as u8),
                n @ 32..=0xff => out.extend([0xd9, n as u8]),
                n @ 0x100..=0xffff => {
                    out.push(0xda);
                    out.extend((n as u16).to_be_bytes());
                }
                n => {
                    out.push(0xdb);
                    out.extend((n as u32).to_be_bytes());
                }
            }
            out.extend_from_slice(item);
        }
        out
    }

    #[test]
    fn packed_documents_are_read_whatever_the_header_widths() {
        let shared = shared();
        let long = format!("\"{}\"", "x".repeat(70_000));
        let mid = format!("\"{}\"", "y".repeat(300));
        let mut flat: Vec<Vec<u8>> = vec![
            b"_id".to_vec(),
            b"\"k\"".to_vec(),
            "name\u{0}\né".as_bytes().to_vec(),
            b"[1.5,{\"a\":null}]".to_vec(),
            b"long".to_vec(),
            long.clone().into_bytes(),
            b"mid".to_vec(),
            mid.clone().into_bytes(),
        ];
        for i in 0..10 {
            flat.push(format!("f{i}").into_bytes());
            flat.push(i.to_string().into_bytes());
        }
        let items: Vec<&[u8]> = flat.iter().map(Vec::as_slice).collect();
        let doc = shared
            .doc_reply(redis::Value::BulkString(msgpack(&items)))
            .unwrap()
            .unwrap();
        let mut expected = json!({
            "_id": "k",
            "name\u{0}\né": [1.5, {"a": null}],
            "long": "x".repeat(70_000),
            "mid": "y".repeat(300),
        });
        for i in 0..10 {
            expected[format!("f{i}")] = json!(i);
        }
        assert_eq!(doc, expected);

        // Two documents (the scan reply), the first one empty.
        let one = msgpack(&[b"_id", b"1"]);
        let mut docs = msgpack(&[]);
        docs[0] = 0x92;
        docs.extend(msgpack(&[]));
        docs.extend(&one);
        assert_eq!(
            shared.docs_reply(redis::Value::BulkString(docs)).unwrap(),
            vec![json!({}), json!({"_id": 1})]
        );
        assert_eq!(shared.doc_reply(redis::Value::Nil).unwrap(), None);
        assert_eq!(
            shared.doc_reply(redis::Value::Boolean(false)).unwrap(),
            None
        );
    }

    #[test]
    fn malformed_replies_are_unavailable_not_panics() {
        let shared = shared();
        let unavailable = |r: Result<Option<Value>, StoreError>| match r {
            Err(StoreError::Unavailable(msg)) => msg,
            other => panic!("expected Unavailable, got {other:?}"),
        };
        let bulk = |b: Vec<u8>| redis::Value::BulkString(b);
        for bad in [
            vec![],
            vec![0x91, 0xa1, b'a'],                   // odd length
            vec![0x92, 0xa1, b'a', 0xa5, b'1'],       // string cut short
            vec![0xdd, 0xff, 0xff, 0xff, 0xff, 0xa0], // array longer than the reply
            vec![0x92, 0xa1, b'a', 0x01],             // not a string
            vec![0x92, 0xa1, b'a', 0xa1, b'1', 0x00], // trailing bytes
        ] {
            let msg = unavailable(shared.doc_reply(bulk(bad)));
            assert!(msg.contains("unexpected reply"), "{msg}");
        }
        let msg = unavailable(shared.doc_reply(bulk(msgpack(&[b"a", b"{oops"]))));
        assert!(msg.contains("field \"a\" is not JSON"), "{msg}");
        assert!(msg.contains("changed outside joblock"), "{msg}");
        let msg = unavailable(shared.doc_reply(bulk(msgpack(&[b"\xff", b"1"]))));
        assert!(msg.contains("not UTF-8"), "{msg}");
        let msg = unavailable(shared.doc_reply(redis::Value::Int(1)));
        assert!(msg.contains("unexpected reply"), "{msg}");
        assert!(shared.count_reply(redis::Value::Int(-1)).is_err());
        assert_eq!(shared.count_reply(redis::Value::Int(3)), Ok(3));
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
