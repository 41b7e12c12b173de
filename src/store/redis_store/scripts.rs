//! The Lua scripts every operation runs as (insert, by id, scan), with the helpers
//! they share, hashed once per process.

use std::sync::LazyLock;

use redis::Script;

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
pub(super) static INSERT: LazyLock<Script> = LazyLock::new(|| Script::new(INSERT_LUA));
pub(super) static BY_ID: LazyLock<Script> = LazyLock::new(|| Script::new(BY_ID_LUA));
pub(super) static SCAN: LazyLock<Script> = LazyLock::new(|| Script::new(SCAN_LUA));
