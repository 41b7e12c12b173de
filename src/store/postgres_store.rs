//! PostgreSQL backend: one table per namespace, one atomic statement per operation.
//!
//! The table is `(id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL)`:
//! `id` is the canonical JSON text of the document's `_id` (the same key the memory
//! store uses, so the primary key gives `DuplicateKey` exactly when memory would),
//! `seq` is the insertion order every "first match" and every listing follows, and
//! `doc` is the whole document, `_id` included.
//!
//! A filter is exact top-level equality: a missing key never matches, and
//! `{"owner": null}` only matches an explicit JSON null. An `_id` in the filter
//! becomes `id = $n`, which uses the primary key index, so every lock operation
//! touches one row by index. The other keys whose values are scalars (strings,
//! numbers, booleans, null: everything the lock filters on) become one containment
//! test, `doc @> $n::jsonb` with `$n` = `{"k": v, ...}`, which for scalars means
//! exactly "has `k`, equal to `v`". A key whose value is an array or object becomes
//! `doc -> k = v::jsonb` instead (containment would accept a superset of it; `doc ->
//! k` is SQL NULL for a missing key, which equals nothing). So the lock's
//! compare-and-set is `UPDATE t SET doc = doc || $1::jsonb WHERE id = $2 AND doc @>
//! $3::jsonb RETURNING doc::text`, one statement shape for every acquire, renewal
//! and release, and its read is `SELECT doc::text FROM t WHERE id = $1` (no
//! `ORDER BY`: at most one row has that `id`).
//!
//! Every value (document, filter value, filter key, update) is bound as a `text`
//! parameter and cast in SQL; the only thing spliced into SQL text is the table name,
//! quoted as an identifier. The statements operations repeat (inserts, finds,
//! updates, deletes) are prepared once per connection and cached by their SQL text;
//! the cache goes with the connection when it breaks.
//!
//! Change notification (LISTEN/NOTIFY): a row trigger on the table calls
//! `pg_notify('joblock_<namespace>', id)` for every inserted, updated or deleted row,
//! so [`Store::wait_for_change`] can sleep until the lock document changes instead
//! of polling. It is a trigger rather than a `pg_notify` inside joblock's own
//! statements (which would cost the lock's update 4-5 µs less server time) because
//! it also announces writes by anyone else, older joblock versions included: that
//! is what lets [`Store::notifies`] promise notification, and a table without the
//! trigger that this role may not add it to is used without (waiters poll). The
//! trigger function is the part of that cost this store controls, so it is kept
//! minimal, and a slower one left by an older version is replaced on connect when
//! this role owns it.
//!
//! Each handle listens on its own, second connection (opened on its first
//! wait): a wait blocks for up to a whole retry interval and must not hold the
//! connection its operations use. A notification is only a hint that the row may
//! have changed: it is sent at commit, may arrive after the caller's next read, is
//! lost while the listener is reconnecting, and one for a long `_id` (payloads are
//! limited to 8000 bytes) is sent as `*`, meaning "some row changed". Callers always
//! re-read the document; a missed notification only costs a waiter its timeout.
//!
//! Known differences from the memory store (the contract's reference), none of which
//! the lock can hit because it only stores strings, integers, booleans and null:
//!
//! - Numbers compare numerically: jsonb holds numbers as `numeric`, so a filter
//!   `{"n": 1.0}` matches a stored `1`, whereas memory compares `serde_json` values
//!   and keeps `1` and `1.0` apart. (`_id`s are still told apart, because they are
//!   compared as canonical JSON text, exactly as memory does.) Numbers also come
//!   back in PostgreSQL's spelling: a float that serde_json writes with an exponent
//!   comes back written out in full, so `1e17` (an `f64`) reads back as the integer
//!   `100000000000000000`, and `-0.0` reads back as `0.0`. Integers and floats
//!   written with a fraction (`1.0`, `0.1`) round-trip unchanged.
//! - jsonb cannot hold the character U+0000: a document or filter value containing it
//!   is refused with `Invalid` (memory would store or compare it).
//! - Insertion order is the order `seq` values were drawn (when each INSERT ran),
//!   not commit order: with inserts in flight, a reader can briefly see a later
//!   document without an earlier one that has not committed yet. Memory orders by
//!   completion. Each statement still sees one consistent snapshot.
//! - `Unavailable` after the connection dropped *during* an operation does not say
//!   whether the server applied it: the commit may have happened just before the
//!   connection was lost. Memory's injected faults always fail before applying.

use std::collections::HashMap;
use std::error::Error as _;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, Config, GenericClient, NoTls, Notification, Statement};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::canonical::canonical_text;
use super::filter::{describe, validate_filter, validate_set};
use super::url::validate_namespace;
use super::{OpCounter, OpCounts, OpKind, Store, StoreError};

/// How long a connection attempt may take when the URL does not say: a job thread
/// blocked on a dead host should fail and retry rather than hang for minutes.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long sent data may stay unacknowledged before the kernel drops the
/// connection, when the URL does not say: without it, a server that vanished from
/// the network mid-operation would block the caller until TCP gives up (~15 min).
const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// How often `connect` re-checks for the table after losing a creation race.
const CREATE_ATTEMPTS: usize = 5;

/// The name of the change-notification trigger on every namespace's table.
const TRIGGER_NAME: &str = "joblock_notify";

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1); `pg_notify` refuses
/// a longer channel name instead of truncating it as `LISTEN` would.
const MAX_IDENT_BYTES: usize = 63;

/// The notification payload meaning "some row changed": sent for an `id` too long
/// for a payload (they must be shorter than 8000 bytes). No canonical key is `*`
/// (every key is JSON text), so it cannot be confused with a real row.
const ANY_ROW: &str = "*";

/// How long the listener connection may be idle before TCP keepalive probes start,
/// and how far apart they are: a listener only receives, so without probes a server
/// that vanished from the network would leave it waiting (and deaf) for hours
/// rather than failing and being reopened. Only lowered, never raised, from the URL's.
const LISTENER_KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
const LISTENER_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const LISTENER_KEEPALIVE_RETRIES: u32 = 3;

/// State shared by every handle of one store.
struct Shared {
    /// Parsed connection settings, reused by every (re)connection.
    config: Config,
    /// The URL with any password removed, for error messages.
    url: String,
    /// The namespace as written (for messages) and as a quoted SQL identifier.
    namespace: String,
    table: String,
    /// The NOTIFY channel of this namespace (unquoted; `joblock_<namespace>`).
    channel: String,
    /// Settings for listener connections: `config` with TCP keepalives tightened.
    listener_config: Config,
    /// Whether the table has the notification trigger. `false` only when the table
    /// existed without it and this role may not add it: waiters then poll.
    notifies: bool,
    ops: OpCounter,
}

/// A document store kept in one PostgreSQL table; handles from
/// [`Store::for_caller`] share the table and op counts but each has its own connection.
///
/// One handle runs one operation at a time (its connection is behind a mutex), so
/// threads that should not wait for each other each take their own handle.
pub struct PostgresStore {
    shared: Arc<Shared>,
    /// `None` until first use, and again after the connection broke: the next
    /// operation reconnects, so a restarted server is picked up without a restart here.
    conn: Mutex<Option<Client>>,
    /// Statements prepared on `conn`, by SQL text: the lock issues a handful of
    /// statement shapes over and over, and a prepared one skips parsing and planning.
    /// Cleared whenever the connection is dropped (statements belong to it).
    stmts: Mutex<HashMap<String, Statement>>,
    /// The connection that LISTENs for this handle's [`Store::wait_for_change`]:
    /// opened on the first wait, kept so that notifications arriving between waits
    /// are buffered rather than lost, and dropped (reopened by the next wait) when it
    /// breaks. Separate from `conn` because a wait blocks for up to its whole timeout,
    /// and must neither hold the operations' mutex nor be ended by an operation.
    listener: Mutex<Option<Client>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shared.url)
            .field("namespace", &self.shared.namespace)
            .finish_non_exhaustive()
    }
}

/// Why one statement (or the insert_many transaction) failed, before it is turned
/// into a [`StoreError`].
enum Failure {
    /// The server or the connection reported an error.
    Pg(postgres::Error),
    /// The primary key refused this `_id` (its canonical JSON text).
    Duplicate(String),
    /// A row came back that is not a JSON object (someone else wrote the table).
    BadRow(String),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

/// Locks a mutex, ignoring poisoning: a panic during an operation already dropped
/// the client it had taken out, so what is left is always usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The key for an `_id`: its canonical JSON text, as every backend keys documents.
fn id_key(id: &Value) -> String {
    canonical_text(id)
}

/// Checks a document's shape (same messages as memory) and returns its key and JSON text.
fn split_doc(doc: Value, what: &str) -> Result<(String, String), StoreError> {
    match doc {
        Value::Object(fields) => match fields.get("_id") {
            Some(id) => Ok((id_key(id), Value::Object(fields).to_string())),
            None => Err(StoreError::Invalid(format!("{what} has no _id"))),
        },
        other => Err(StoreError::Invalid(format!(
            "{what} must be a JSON object, got {}",
            describe(&other)
        ))),
    }
}

/// Quotes a name as an SQL identifier (doubling any `"`), so even a name that
/// skipped namespace validation cannot change the statement.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string as an SQL literal for statements that cannot take parameters
/// (DDL). The `E'...'` form with `\` and `'` doubled means the same whatever
/// `standard_conforming_strings` is set to.
fn quote_literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// `name` cut to at most [`MAX_IDENT_BYTES`] bytes (at a character boundary).
fn truncate_ident(mut name: String) -> String {
    if name.len() > MAX_IDENT_BYTES {
        let mut end = MAX_IDENT_BYTES;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// The NOTIFY channel for a namespace: `joblock_<namespace>`, at most 63 bytes.
/// (A validated namespace is at most 48 bytes, so in practice nothing is cut.)
fn channel_name(namespace: &str) -> String {
    truncate_ident(format!("joblock_{namespace}"))
}

/// The trigger function of a namespace. One per namespace, so that namespaces share
/// no database object and creating one never contends with creating another.
fn notify_function_name(namespace: &str) -> String {
    truncate_ident(format!("joblock_notify_{namespace}"))
}

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

/// An error and its causes on one line: the postgres crate's `Display` alone says
/// only "db error", and a server message may carry DETAIL/HINT lines.
fn explain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(code) = e.code() {
        text.push_str(&format!(" (SQLSTATE {})", code.code()));
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether the connection is unusable after `e`, so the handle must reconnect.
///
/// No SQLSTATE means the error came from the socket or the protocol (refused, reset,
/// closed); class 08 is a connection exception; 57P01-57P03 are the server shutting
/// down or not accepting connections (what a restart sends before closing).
fn breaks_connection(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
        }
    }
}

/// Turns a unique violation into `Duplicate(key)`; the only unique constraints are
/// the primary key and `seq`, and `seq` comes from a sequence, so it is the `_id`.
fn duplicate_or(e: postgres::Error, key: &str) -> Failure {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        Failure::Duplicate(key.to_string())
    } else {
        Failure::Pg(e)
    }
}

/// Prepared statements kept per connection at most.
const STATEMENT_CACHE: usize = 64;

/// A statement's parameters. Every value is bound as `text` and cast in the SQL
/// (`$n::jsonb`): the crate's jsonb support is behind a feature this crate does not
/// enable. Hot statements are prepared once per connection (see `statement`).
#[derive(Default)]
struct Params(Vec<String>);

impl Params {
    /// Adds a value and returns its placeholder (`$1`, `$2`, ...).
    fn push(&mut self, value: String) -> String {
        self.0.push(value);
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|s| s as &(dyn ToSql + Sync)).collect()
    }

    fn typed(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.0
            .iter()
            .map(|s| (s as &(dyn ToSql + Sync), Type::TEXT))
            .collect()
    }
}

/// `value` as JSON text, written straight from the caller's fields (no copy).
/// Writing JSON values with string keys cannot fail; were it ever to, the operation
/// is refused rather than run with a wrong parameter.
fn json_text(value: &impl Serialize, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("cannot write the {what} as JSON: {e}")))
}

/// Whether `doc @> {"k": v}` says exactly "`doc` has `k`, equal to `v`": true for a
/// scalar `v` (string, number, boolean, null). Inside an object, containment
/// compares a scalar only with a scalar of the same type, by the same rule as jsonb
/// `=`; an array or object `v` would also match a superset (`[1, 2]` contains `[1]`).
fn contained_exactly(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// A filter's fields that [`condition`] checks by containment (every one but `_id`
/// whose value is a scalar), serialised as one JSON object without copying them.
struct ContainedFields<'a>(&'a Map<String, Value>);

impl ContainedFields<'_> {
    fn fields(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0
            .iter()
            .filter(|(key, value)| key.as_str() != "_id" && contained_exactly(value))
    }
}

impl Serialize for ContainedFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.fields())
    }
}

/// The SQL condition for a filter, or `TRUE` for the empty filter.
///
/// `_id` goes through the primary key (`id = $n`, canonical text, so `1` and `1.0`
/// stay different ids as in memory). Every other key with a scalar value goes into
/// one containment test, `doc @> $n::jsonb` with `$n` = `{"k": v, ...}`: one
/// parameter parsed and one pass over the document, instead of `doc ? k AND doc -> k
/// = v::jsonb` per key, which cost the lock's update ~3 µs more server time. A
/// key whose value is an array or object keeps that per-key form, because
/// containment would accept a superset of it.
fn condition(filter: &Map<String, Value>, params: &mut Params) -> Result<String, StoreError> {
    let mut parts = Vec::new();
    if let Some(id) = filter.get("_id") {
        parts.push(format!("id = {}", params.push(id_key(id))));
    }
    let contained = ContainedFields(filter);
    if contained.fields().next().is_some() {
        let json = json_text(&contained, "filter")?;
        parts.push(format!("doc @> {}::jsonb", params.push(json)));
    }
    for (key, value) in filter
        .iter()
        .filter(|(k, v)| k.as_str() != "_id" && !contained_exactly(v))
    {
        // `doc -> k` is SQL NULL for a missing key, which equals nothing.
        let k = params.push(key.clone());
        let v = params.push(value.to_string());
        parts.push(format!("doc -> {k} = {v}::jsonb"));
    }
    Ok(if parts.is_empty() {
        "TRUE".to_string()
    } else {
        parts.join(" AND ")
    })
}

/// The `ORDER BY` (then `limit`) a listing of `filter`'s matches needs: none when
/// the filter names an `_id`, which at most one row has. Sorting that one row is
/// cheap, but skipping it spares the plan a sort node on every lock read.
fn in_order(filter: &Map<String, Value>, limit: &str) -> String {
    if filter.contains_key("_id") {
        String::new()
    } else {
        format!(" ORDER BY seq{limit}")
    }
}

/// Parses a `doc::text` column back into a document.
fn parse_doc(text: &str) -> Result<Value, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(doc @ Value::Object(_)) => Ok(doc),
        Ok(other) => Err(Failure::BadRow(format!(
            "a stored document is not a JSON object: {}",
            describe(&other)
        ))),
        Err(e) => Err(Failure::BadRow(format!(
            "a stored document is not JSON: {e}"
        ))),
    }
}

/// The documents in a result whose only column is `doc::text`.
fn docs_of(rows: &[postgres::Row]) -> Result<Vec<Value>, Failure> {
    rows.iter()
        .map(|row| parse_doc(row.try_get::<_, &str>(0)?))
        .collect()
}

/// Whether an error from `CREATE TABLE IF NOT EXISTS` means another session created
/// the same table at the same moment (the check and the creation are not atomic in
/// PostgreSQL, so the loser sees a catalog unique violation or "already exists").
fn lost_creation_race(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    )
}

/// What [`ensure_schema`] found of a namespace's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SchemaState {
    /// The table exists.
    table: bool,
    /// The table has the notification trigger.
    trigger: bool,
    /// The trigger function has this version's body ([`notify_function_body`]), or
    /// it is not this role's to replace (an older body still notifies, only slower).
    function: bool,
}

impl SchemaState {
    /// Nothing to create or replace.
    fn complete(self) -> bool {
        self.table && self.trigger && self.function
    }
}

/// What the namespace's schema has (`to_regclass`/`to_regprocedure` of the quoted
/// names, so case matches).
fn schema_state(
    client: &mut impl GenericClient,
    names: SchemaNames<'_>,
) -> Result<SchemaState, postgres::Error> {
    let table = names.table.to_string();
    let trigger = TRIGGER_NAME.to_string();
    let function = format!("{}()", quote_ident(&notify_function_name(names.namespace)));
    let body = notify_function_body();
    let row = client.query_typed_one(
        "SELECT to_regclass($1) IS NOT NULL, \
                EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2), \
                EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure($3) \
                        AND (prosrc = $4 OR NOT pg_has_role(proowner, 'USAGE')))",
        &[
            (&table, Type::TEXT),
            (&trigger, Type::TEXT),
            (&function, Type::TEXT),
            (&body, Type::TEXT),
        ],
    )?;
    Ok(SchemaState {
        table: row.try_get(0)?,
        trigger: row.try_get(1)?,
        function: row.try_get(2)?,
    })
}

/// The body of the trigger function: announce the changed row's `id` on the channel
/// the trigger passes as its argument.
///
/// The payload is the row's `id` (the canonical key of its `_id`), so a waiter can
/// tell its own document's changes from the others'. For a DELETE the old row is
/// announced; an UPDATE that changed `id` (this store never does) announces both.
/// Payloads must be shorter than 8000 bytes: a longer id says only "some row
/// changed" rather than failing the write.
///
/// It runs once per written row, so it is kept cheap: `sent := pg_notify(...)` is
/// evaluated as a simple expression, where `PERFORM pg_notify(...)` would start a
/// whole SPI query, and the common case builds no array. That saved 2-5 µs of
/// server time per lock update over the previous body (an array of changed ids and
/// a `FOREACH ... PERFORM` loop), which tables created by older versions still have
/// until [`ensure_schema`] replaces it.
fn notify_function_body() -> String {
    format!(
        "
DECLARE
    changed_id text;
    sent text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed_id := OLD.id;
    ELSE
        changed_id := NEW.id;
        IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
            sent := pg_notify(TG_ARGV[0], CASE WHEN octet_length(OLD.id) < 8000
                                               THEN OLD.id ELSE '{ANY_ROW}' END);
        END IF;
    END IF;
    sent := pg_notify(TG_ARGV[0], CASE WHEN octet_length(changed_id) < 8000
                                       THEN changed_id ELSE '{ANY_ROW}' END);
    RETURN NULL;
END
"
    )
}

/// The statements that create what is missing of a namespace's schema: the table,
/// and the trigger that announces every changed row on the namespace's channel
/// (with its function, see [`notify_function_body`]).
///
/// The function is created with `CREATE OR REPLACE`, also to replace an older body;
/// the trigger only when missing (the caller checked, under the schema lock).
fn schema_ddl(names: &SchemaNames<'_>, state: SchemaState) -> String {
    let SchemaNames { table, namespace } = *names;
    let function = quote_ident(&notify_function_name(namespace));
    let mut ddl = String::new();
    if !state.table {
        ddl.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
             id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL);\n"
        ));
    }
    if !state.trigger || !state.function {
        ddl.push_str(&format!(
            "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql \
             AS $joblock${}$joblock$;\n",
            notify_function_body()
        ));
    }
    if !state.trigger {
        ddl.push_str(&format!(
            "CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}({channel});
",
            trigger = quote_ident(TRIGGER_NAME),
            channel = quote_literal(&channel_name(namespace)),
        ));
    }
    ddl
}

/// The names [`ensure_schema`] needs: the quoted table and the namespace as written.
#[derive(Clone, Copy)]
struct SchemaNames<'a> {
    table: &'a str,
    namespace: &'a str,
}

/// Creates the namespace's table and notification trigger unless they exist, and
/// replaces a trigger function an older version made; tolerates concurrent
/// creators. Returns whether the table has the trigger.
///
/// Checking first means a role without CREATE rights can use an existing table.
/// Creation runs in one transaction, so nobody sees the table without its trigger,
/// and under a session advisory lock keyed on the table, taken *before* the
/// transaction starts: joblock processes then create one at a time, and each one's
/// transaction starts after the previous creator committed, so its catalog checks
/// see what that one made. (`CREATE OR REPLACE FUNCTION` racing itself fails with
/// "tuple concurrently updated", which no retry rule could recognise safely.)
/// Other sessions racing on the table alone (an older joblock) are handled as for
/// `CREATE TABLE IF NOT EXISTS`: the loser re-checks and retries.
///
/// An existing table that lacks the trigger and that this role may not add one to
/// still works, without notification (`Ok(false)`): waiters poll as before. One
/// whose trigger function has an older body that this role may not replace keeps
/// it: it announces the same changes.
fn ensure_schema(client: &mut Client, names: SchemaNames<'_>) -> Result<bool, postgres::Error> {
    if schema_state(client, names)?.complete() {
        return Ok(true);
    }
    let mut attempt = 0;
    loop {
        match create_schema(client, names) {
            Ok(()) => return Ok(true),
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                let state = schema_state(client, names)?;
                return if state.table {
                    Ok(state.trigger)
                } else {
                    Err(e)
                };
            }
            Err(e) if lost_creation_race(&e) && attempt < CREATE_ATTEMPTS => {
                // The winner may not have committed yet; once it has, we are done.
                if schema_state(client, names)?.complete() {
                    return Ok(true);
                }
                attempt += 1;
                std::thread::sleep(Duration::from_millis(20 * attempt as u64));
            }
            Err(e) => return Err(e),
        }
    }
}

/// One creation attempt for [`ensure_schema`]: lock, check, create, commit, unlock.
fn create_schema(client: &mut Client, names: SchemaNames<'_>) -> Result<(), postgres::Error> {
    let table = names.table.to_string();
    // Two-key form with the first key fixed, so that it is unlikely to collide with
    // an application's own advisory locks.
    client.execute_typed(
        "SELECT pg_advisory_lock(hashtext('joblock'), hashtext($1))",
        &[(&table, Type::TEXT)],
    )?;
    let created = (|| {
        let mut tx = client.transaction()?;
        let state = schema_state(&mut tx, names)?;
        let ddl = schema_ddl(&names, state);
        if !ddl.is_empty() {
            tx.batch_execute(&ddl)?;
        }
        tx.commit()
    })();
    // A session lock outlives errors, so release it whatever happened (a broken
    // connection released it already, and its error is the one worth reporting).
    let unlocked = client.execute_typed(
        "SELECT pg_advisory_unlock(hashtext('joblock'), hashtext($1))",
        &[(&table, Type::TEXT)],
    );
    created?;
    unlocked?;
    Ok(())
}

/// Whether a notification may be about the row whose canonical key is `key`.
fn is_about(note: &Notification, channel: &str, key: &str) -> bool {
    note.channel() == channel && (note.payload() == key || note.payload() == ANY_ROW)
}

/// How a wait on the listener ended.
enum Heard {
    /// A notification about the awaited row.
    Change,
    /// The deadline passed without one.
    Nothing,
    /// The listener connection broke.
    Lost,
}

/// Waits on `client` (which LISTENs on `channel`) until a notification about `key`
/// arrives or `deadline` passes.
///
/// Notifications about other rows are dropped: the channel is per namespace, and a
/// handle waits on one lock key (a caller that waits on several ids in turn may see
/// a change to one of them only at its next poll). Everything already buffered is
/// read first, and after a match the rest of the buffer is read too: all of it is
/// older than the caller's next read, so keeping it would only cause early wakes.
fn listen_for(client: &mut Client, channel: &str, key: &str, deadline: Instant) -> Heard {
    let mut heard = false;
    if drain(client, channel, key, &mut heard).is_err() {
        return Heard::Lost;
    }
    if heard {
        return Heard::Change;
    }
    loop {
        // A closed connection makes the iterators below return `None` at once.
        if client.is_closed() {
            return Heard::Lost;
        }
        let now = Instant::now();
        if now >= deadline {
            return Heard::Nothing;
        }
        // A fresh iterator per notification: `timeout_iter` restarts its timer after
        // each one, so a busy namespace would otherwise keep the wait going forever.
        let next = client.notifications().timeout_iter(deadline - now).next();
        match next {
            Ok(Some(note)) if is_about(&note, channel, key) => {
                // Still a change if this fails: the caller finds the connection
                // closed and drops it.
                let _ = drain(client, channel, key, &mut false);
                return Heard::Change;
            }
            // Another row, or the timer (the loop re-checks the deadline and the
            // connection).
            Ok(_) => {}
            Err(_) => return Heard::Lost,
        }
    }
}

/// Reads every notification already received, without blocking; sets `heard` when
/// one is about `key`.
fn drain(
    client: &mut Client,
    channel: &str,
    key: &str,
    heard: &mut bool,
) -> Result<(), postgres::Error> {
    let mut notifications = client.notifications();
    let mut pending = notifications.iter();
    while let Some(note) = pending.next()? {
        *heard |= is_about(&note, channel, key);
    }
    Ok(())
}

/// Sleeps until `deadline` (real time).
fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

impl Shared {
    /// Opens a new connection.
    fn open(&self) -> Result<Client, StoreError> {
        self.config
            .connect(NoTls)
            .map_err(|e| StoreError::Unavailable(self.cannot_connect(&e)))
    }

    fn cannot_connect(&self, e: &postgres::Error) -> String {
        format!("cannot connect to {}: {}", self.url, explain(e))
    }

    /// Opens a listener connection and subscribes it to the namespace's channel.
    fn listen(&self) -> Result<Client, postgres::Error> {
        let mut client = self.listener_config.connect(NoTls)?;
        // A channel in LISTEN is an identifier, not a value: it cannot be a parameter.
        client.batch_execute(&format!("LISTEN {}", quote_ident(&self.channel)))?;
        Ok(client)
    }
}

/// `config` with TCP keepalives on and their timing at most the listener's.
fn listener_config(config: &Config) -> Config {
    let mut listener = config.clone();
    listener.keepalives(true);
    listener.keepalives_idle(config.get_keepalives_idle().min(LISTENER_KEEPALIVE_IDLE));
    let interval = config
        .get_keepalives_interval()
        .map_or(LISTENER_KEEPALIVE_INTERVAL, |i| {
            i.min(LISTENER_KEEPALIVE_INTERVAL)
        });
    listener.keepalives_interval(interval);
    let retries = config
        .get_keepalives_retries()
        .map_or(LISTENER_KEEPALIVE_RETRIES, |r| {
            r.min(LISTENER_KEEPALIVE_RETRIES)
        });
    listener.keepalives_retries(retries);
    listener
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

    /// Runs `body` on this handle's connection, connecting first if there is none.
    ///
    /// The client is taken out of the slot while `body` runs and only put back if
    /// the connection survived, so a broken connection (or a panic) leaves `None`
    /// and the next operation reconnects.
    fn run<T>(
        &self,
        kind: OpKind,
        body: impl FnOnce(&mut Client) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let mut slot = lock(&self.conn);
        let mut client = match slot.take() {
            Some(client) => client,
            None => self.shared.open()?,
        };
        let result = body(&mut client);
        let broken = match &result {
            Err(Failure::Pg(e)) => breaks_connection(e) || client.is_closed(),
            _ => client.is_closed(),
        };
        if broken {
            lock(&self.stmts).clear();
        } else {
            *slot = Some(client);
        }
        result.map_err(|failure| self.store_error(kind, failure, broken))
    }

    fn store_error(&self, kind: OpKind, failure: Failure, broken: bool) -> StoreError {
        let url = &self.shared.url;
        match failure {
            Failure::Duplicate(key) => StoreError::DuplicateKey(key),
            Failure::BadRow(why) => {
                StoreError::Unavailable(format!("{} on {url}: {why}", kind.name()))
            }
            Failure::Pg(e) if broken => StoreError::Unavailable(format!(
                "lost connection to {url} during {}: {}",
                kind.name(),
                explain(&e)
            )),
            // Class 22 is "data exception": the server refused a value this store
            // passed through unchanged (e.g. U+0000, which jsonb cannot hold).
            Failure::Pg(e) if e.code().is_some_and(|c| c.code().starts_with("22")) => {
                StoreError::Invalid(format!(
                    "PostgreSQL refused a value in {}: {}",
                    kind.name(),
                    explain(&e)
                ))
            }
            Failure::Pg(e) => {
                StoreError::Unavailable(format!("{} on {url} failed: {}", kind.name(), explain(&e)))
            }
        }
    }

    /// Runs a statement that returns `doc::text` rows.
    fn select_docs(
        &self,
        kind: OpKind,
        sql: &str,
        params: &Params,
    ) -> Result<Vec<Value>, StoreError> {
        self.run(kind, |client| {
            let stmt = self.statement(client, sql, params.0.len())?;
            docs_of(&client.query(&stmt, &params.refs())?)
        })
    }

    /// The prepared statement for `sql`, whose `params` parameters are all `text`,
    /// on this handle's connection.
    fn statement(
        &self,
        client: &mut Client,
        sql: &str,
        params: usize,
    ) -> Result<Statement, postgres::Error> {
        let mut cache = lock(&self.stmts);
        if let Some(stmt) = cache.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = client.prepare_typed(sql, &vec![Type::TEXT; params])?;
        // Filters of arbitrary shape could grow the cache without end.
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Runs a statement and returns how many rows it affected.
    fn execute(&self, kind: OpKind, sql: &str, params: &Params) -> Result<u64, StoreError> {
        self.run(kind, |client| {
            let stmt = self.statement(client, sql, params.0.len())?;
            Ok(client.execute(&stmt, &params.refs())?)
        })
    }

    /// The statement that selects the first match for an `UPDATE`/`DELETE` on one row.
    ///
    /// With `_id` at most one row can match, so `WHERE id = $n AND ...` is already
    /// "the first match". Without it, the subquery picks the first match by `seq`
    /// and locks it (`FOR UPDATE`): a concurrent writer that locked it first makes
    /// this wait, then the row is re-checked and skipped if it no longer matches, so
    /// the next match is taken instead. The outer `WHERE` repeats the filter so the
    /// row version actually changed is checked again too.
    fn one_row_condition(
        &self,
        filter: &Map<String, Value>,
        params: &mut Params,
    ) -> Result<String, StoreError> {
        let cond = condition(filter, params)?;
        Ok(if filter.contains_key("_id") {
            cond
        } else {
            format!(
                "seq = (SELECT seq FROM {t} WHERE {cond} ORDER BY seq LIMIT 1 FOR UPDATE) AND {cond}",
                t = self.shared.table
            )
        })
    }
}

impl Store for PostgresStore {
    fn name(&self) -> &str {
        "postgres"
    }

    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertOne);
        let (key, text) = split_doc(doc, "document")?;
        let sql = format!(
            "INSERT INTO {} (id, doc) VALUES ($1, $2::jsonb)",
            self.shared.table
        );
        // Prepared and cached like the other repeated statements: a waiter announces
        // itself with an insert, and a prepared one skips parsing and planning it.
        self.run(OpKind::InsertOne, |client| {
            let stmt = self.statement(client, &sql, 2)?;
            client
                .execute(&stmt, &[&key, &text])
                .map_err(|e| duplicate_or(e, &key))?;
            Ok(())
        })
    }

    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.shared.ops.record(OpKind::InsertMany);
        // Shape errors are found before touching the database, so they insert nothing.
        let batch = docs
            .into_iter()
            .enumerate()
            .map(|(i, doc)| split_doc(doc, &format!("document {i} of the batch")))
            .collect::<Result<Vec<_>, _>>()?;
        if batch.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {} (id, doc) VALUES ($1, $2::jsonb)",
            self.shared.table
        );
        // One row per statement inside one transaction: the first statement that
        // fails names the offending `_id` (the first duplicate in batch order, as in
        // memory), and dropping the uncommitted transaction rolls back the rest, so
        // nobody ever sees part of the batch.
        self.run(OpKind::InsertMany, |client| {
            let stmt = self.statement(client, &sql, 2)?;
            let mut tx = client.transaction()?;
            for (key, text) in &batch {
                tx.execute(&stmt, &[key, text])
                    .map_err(|e| duplicate_or(e, key))?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindOne);
        let filter = validate_filter(filter)?;
        let mut params = Params::default();
        let sql = format!(
            "SELECT doc::text FROM {} WHERE {}{}",
            self.shared.table,
            condition(filter, &mut params)?,
            in_order(filter, " LIMIT 1")
        );
        Ok(self
            .select_docs(OpKind::FindOne, &sql, &params)?
            .into_iter()
            .next())
    }

    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.shared.ops.record(OpKind::FindMany);
        let filter = validate_filter(filter)?;
        let mut params = Params::default();
        let sql = format!(
            "SELECT doc::text FROM {} WHERE {}{}",
            self.shared.table,
            condition(filter, &mut params)?,
            in_order(filter, "")
        );
        self.select_docs(OpKind::FindMany, &sql, &params)
    }

    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::Count);
        let filter = validate_filter(filter)?;
        let mut params = Params::default();
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {}",
            self.shared.table,
            condition(filter, &mut params)?
        );
        self.run(OpKind::Count, |client| {
            let row = client.query_typed_one(&sql, &params.typed())?;
            let n: i64 = row.try_get(0)?;
            // count(*) is never negative.
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.shared.ops.record(OpKind::UpdateOne);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        let mut params = Params::default();
        let set = params.push(json_text(set, "update")?);
        // This is the lock's compare-and-set. In READ COMMITTED, when a concurrent
        // transaction updated the row between our snapshot and our write, PostgreSQL
        // waits for it to commit and then re-evaluates the whole WHERE clause on the
        // new row version (EvalPlanQual); if the observed values changed, the row no
        // longer matches and nothing is updated. So of several racers filtering on
        // the same old values, exactly one gets the row back.
        let sql = format!(
            "UPDATE {t} SET doc = doc || {set}::jsonb WHERE {cond} RETURNING doc::text",
            t = self.shared.table,
            cond = self.one_row_condition(filter, &mut params)?
        );
        Ok(self
            .select_docs(OpKind::UpdateOne, &sql, &params)?
            .into_iter()
            .next())
    }

    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::UpdateMany);
        let filter = validate_filter(filter)?;
        let set = validate_set(set)?;
        let mut params = Params::default();
        let set = params.push(json_text(set, "update")?);
        // Each row is re-checked against the filter after a concurrent update, as in
        // update_one, so no row that stopped matching is changed.
        let sql = format!(
            "UPDATE {t} SET doc = doc || {set}::jsonb WHERE {cond}",
            t = self.shared.table,
            cond = condition(filter, &mut params)?
        );
        self.execute(OpKind::UpdateMany, &sql, &params)
    }

    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteOne);
        let filter = validate_filter(filter)?;
        let mut params = Params::default();
        let sql = format!(
            "DELETE FROM {t} WHERE {cond}",
            t = self.shared.table,
            cond = self.one_row_condition(filter, &mut params)?
        );
        self.execute(OpKind::DeleteOne, &sql, &params)
    }

    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.shared.ops.record(OpKind::DeleteMany);
        let filter = validate_filter(filter)?;
        let mut params = Params::default();
        let sql = format!(
            "DELETE FROM {t} WHERE {cond}",
            t = self.shared.table,
            cond = condition(filter, &mut params)?
        );
        self.execute(OpKind::DeleteMany, &sql, &params)
    }

    fn op_counts(&self) -> OpCounts {
        self.shared.ops.snapshot()
    }

    fn notifies(&self) -> bool {
        self.shared.notifies
    }

    /// Waits on this handle's listener connection (opened and subscribed on the
    /// first call) for a notification about `id`'s row.
    ///
    /// When the listener cannot be opened or breaks, it is dropped (the next call
    /// reopens it) and this sleeps out the rest of `timeout`: the caller falls back
    /// to polling at the pace it asked for rather than spinning on a dead server.
    /// Opening the listener is bounded by the connect timeout, not by `timeout`
    /// (a zero timeout must still be able to subscribe).
    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        if !self.shared.notifies {
            return false;
        }
        let started = Instant::now();
        // A timeout too large for `Instant` waits "forever" (a century).
        let deadline = started
            .checked_add(timeout)
            .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 24 * 3600));
        // The payload is the row's `id` column: the canonical key of `_id` = `id`.
        let key = id_key(&Value::String(id.to_string()));
        let mut slot = lock(&self.listener);
        let client = match slot.take() {
            Some(client) => Some(client),
            None => self.shared.listen().ok(),
        };
        let heard = match client {
            Some(mut client) => {
                let heard = listen_for(&mut client, &self.shared.channel, &key, deadline);
                if !matches!(heard, Heard::Lost) && !client.is_closed() {
                    *slot = Some(client);
                }
                heard
            }
            None => Heard::Lost,
        };
        drop(slot);
        match heard {
            Heard::Change => true,
            Heard::Nothing => false,
            Heard::Lost => {
                sleep_until(deadline);
                false
            }
        }
    }

    /// A handle with its own connection, opened on first use; `seed` is unused
    /// (this backend has no latency model to seed). It gets its own listener too,
    /// opened on its first [`Store::wait_for_change`].
    fn for_caller(&self, _seed: u64) -> Arc<dyn Store> {
        Arc::new(PostgresStore {
            shared: Arc::clone(&self.shared),
            conn: Mutex::new(None),
            stmts: Mutex::new(HashMap::new()),
            listener: Mutex::new(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident("jobs"), "\"jobs\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn quote_literal_escapes_quotes_and_backslashes() {
        assert_eq!(quote_literal("joblock_jobs"), "E'joblock_jobs'");
        assert_eq!(quote_literal("a'b\\c"), "E'a''b\\\\c'");
    }

    #[test]
    fn channel_and_function_names_fit_in_an_identifier() {
        assert_eq!(channel_name("jobs"), "joblock_jobs");
        assert_eq!(notify_function_name("jobs"), "joblock_notify_jobs");
        let longest = "n".repeat(48);
        assert_eq!(channel_name(&longest).len(), 56);
        assert_eq!(notify_function_name(&longest).len(), 63);
        assert_eq!(channel_name(&"n".repeat(100)).len(), MAX_IDENT_BYTES);
        // Cut at a character boundary, never inside one.
        assert_eq!(truncate_ident("é".repeat(40)), "é".repeat(31));
    }

    #[test]
    fn schema_ddl_creates_only_what_is_missing() {
        let names = SchemaNames {
            table: "\"jobs\"",
            namespace: "jobs",
        };
        let state = |table, trigger, function| SchemaState {
            table,
            trigger,
            function,
        };
        assert!(state(true, true, true).complete());
        assert_eq!(schema_ddl(&names, state(true, true, true)), "");
        let table_only = schema_ddl(&names, state(false, true, true));
        assert!(table_only.starts_with("CREATE TABLE IF NOT EXISTS \"jobs\" ("));
        assert!(!table_only.contains("TRIGGER"));
        assert!(!table_only.contains("FUNCTION"));
        let trigger_only = schema_ddl(&names, state(true, false, false));
        assert!(!trigger_only.contains("CREATE TABLE"));
        assert!(trigger_only.contains(&format!(
            "CREATE OR REPLACE FUNCTION \"joblock_notify_jobs\"() RETURNS trigger LANGUAGE plpgsql \
             AS $joblock${}$joblock$;",
            notify_function_body()
        )));
        assert!(trigger_only.contains(
            "CREATE TRIGGER \"joblock_notify\" AFTER INSERT OR UPDATE OR DELETE ON \"jobs\""
        ));
        assert!(trigger_only.contains("EXECUTE FUNCTION \"joblock_notify_jobs\"(E'joblock_jobs')"));
        // An older function body is replaced, the trigger left as it is.
        let function_only = schema_ddl(&names, state(true, true, false));
        assert!(function_only.starts_with("CREATE OR REPLACE FUNCTION \"joblock_notify_jobs\"()"));
        assert!(!function_only.contains("CREATE TRIGGER"));
        assert!(!function_only.contains("CREATE TABLE"));
    }

    #[test]
    fn the_notify_function_body_cannot_end_its_dollar_quote() {
        assert!(!notify_function_body().contains("$joblock$"));
        assert!(notify_function_body().contains(&format!("'{ANY_ROW}'")));
    }

    #[test]
    fn ids_get_the_same_keys_as_in_memory() {
        assert_eq!(id_key(&json!("x")), "\"x\"");
        assert_eq!(id_key(&json!(-0.0)), id_key(&json!(0.0)));
        assert_ne!(id_key(&json!(1)), id_key(&json!(1.0)));
        assert_eq!(
            id_key(&json!({"b": 1, "a": [-0.0]})),
            id_key(&json!({"a": [0.0], "b": 1}))
        );
    }

    #[test]
    fn conditions_bind_every_value_and_use_the_key_for_id() {
        let mut params = Params::default();
        let filter = json!({"_id": "a", "fence": 3, "owner": null});
        let sql = condition(filter.as_object().unwrap(), &mut params).unwrap();
        assert_eq!(sql, "id = $1 AND doc @> $2::jsonb");
        assert_eq!(params.0, vec![r#""a""#, r#"{"fence":3,"owner":null}"#]);

        let mut params = Params::default();
        assert_eq!(condition(&Map::new(), &mut params).unwrap(), "TRUE");
        assert!(params.0.is_empty());
    }

    #[test]
    fn conditions_compare_arrays_and_objects_whole_not_by_containment() {
        let mut params = Params::default();
        let filter = json!({"a": [1], "b": "x", "c": {"d": 2}});
        let sql = condition(filter.as_object().unwrap(), &mut params).unwrap();
        assert_eq!(
            sql,
            "doc @> $1::jsonb AND doc -> $2 = $3::jsonb AND doc -> $4 = $5::jsonb"
        );
        assert_eq!(
            params.0,
            vec![r#"{"b":"x"}"#, "a", "[1]", "c", r#"{"d":2}"#]
        );

        // Only `_id`: the primary key alone.
        let mut params = Params::default();
        let filter = json!({"_id": {"n": 1}});
        let sql = condition(filter.as_object().unwrap(), &mut params).unwrap();
        assert_eq!(sql, "id = $1");
        assert_eq!(params.0, vec![r#"{"n":1}"#]);
    }

    #[test]
    fn split_doc_reports_like_memory() {
        assert_eq!(
            split_doc(json!({"x": 1}), "document"),
            Err(StoreError::Invalid("document has no _id".to_string()))
        );
        assert_eq!(
            split_doc(json!([1]), "document 2 of the batch"),
            Err(StoreError::Invalid(
                "document 2 of the batch must be a JSON object, got [1]".to_string()
            ))
        );
    }
}
