//! `cargo bench --bench stores`: joblock's lock on the real engines beside each
//! engine's native lock primitive, one key, 1 and 8 contending threads.
//!
//! For each store (Redis, PostgreSQL) a throwaway server is started on a free
//! loopback port (no persistence / fsync off), and SQLite gets a fresh file in a
//! temporary directory; then for 1 and 8 threads:
//!
//! * joblock: acquire+release pairs per second through [`Lock`] (real clock at speed
//!   1.0, lease 30 s so nothing expires, retry 1 ms); every thread has its own store
//!   handle (`for_caller`, so its own connection), its own `Lock` and owner id;
//! * native: the same with the engine's own primitive, one connection per thread:
//!   PostgreSQL `SELECT pg_advisory_lock(42)` / `SELECT pg_advisory_unlock(42)`,
//!   Redis `SET key v NX PX 30000` / `DEL key` where a loser of `SET NX` retries at
//!   once (a spin), SQLite `BEGIN IMMEDIATE` / `COMMIT` on a file of its own (the
//!   file's write lock, waited for by SQLite's own busy timeout); only successful
//!   pairs count;
//! * handoff latency: from just before a holder's release to just after the next
//!   acquisition returns (consecutive events paired through a shared
//!   `Mutex<Option<Instant>>`), p50/p99 in milliseconds; the details also give the
//!   share of handoffs that went to another thread, and their own p50/p99.
//!
//! When the store notifies, joblock is measured a second time with notifications
//! hidden (waiters poll every 1 ms), for comparison. joblock's store handles are
//! wrapped to time every call the lock makes, so the details show where its time
//! goes: calls per pair, mean time per call, and how many waits a notice ended.
//!
//! Only pairs that finish before the deadline count. A store whose server binaries
//! are missing is reported as skipped. `JOBLOCK_BENCH_SECS` sets how long each cell
//! runs (default 3). `JOBLOCK_PG_BIN` names a directory holding `initdb` and
//! `postgres` (default: /usr/lib/postgresql/15/bin, else the newest installed).
//!
//! The servers are the tests' throwaway ones (tests/support/{pg,redis}_server.rs).
//! Each is killed when the bench ends; a small `sh` watchdog also kills it if the
//! bench process dies without cleaning up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use joblock::clock::Clock;
use joblock::lock::{AcquireOutcome, Lease, LocalQueue, Lock, LockConfig, Quiet};
use joblock::store::{MemoryConfig, OpCounts, OpKind, Store, StoreError, StoreUrl, open_store};
use serde_json::Value;

/// The key every contender fights over.
const KEY: &str = "lock:bench:one";

/// The advisory lock id of the native PostgreSQL primitive.
const PG_ADVISORY_ID: i64 = 42;

/// The Redis key of the native primitive.
const REDIS_KEY: &str = "bench:native:lock";

/// Contending threads per cell.
const CONTENDERS: [usize; 2] = [1, 8];

fn measure_secs() -> f64 {
    std::env::var("JOBLOCK_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(3.0)
}

// ---------------------------------------------------------------------------------
// Throwaway servers: the tests' own starters (tests/support/{pg,redis}_server.rs),
// through their fallible constructors so a missing binary skips a store.
// ---------------------------------------------------------------------------------

#[path = "../tests/support/namespace.rs"]
mod namespace;
#[path = "../tests/support/spawn.rs"]
mod spawn;
// The starters serve the tests first: the bench uses only `try_start` and `url`, so
// the rest (restarts, shared servers, test stores) is dead code here.
#[allow(dead_code)]
#[path = "../tests/support/pg_server.rs"]
mod pg_server;
#[allow(dead_code)]
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

// Fresh namespaces for the cells, and where the starters look for it
// (`super::unique_namespace`).
pub use namespace::unique_namespace;

use pg_server::PgServer;
use redis_server::RedisServer;

/// A server started for one store; stopped when dropped. SQLite's "server" is a
/// temporary directory for its files, removed when dropped.
enum Server {
    Redis(RedisServer),
    Postgres(PgServer),
    Sqlite { _dir: tempfile::TempDir, db: String },
}

impl Server {
    fn url(&self) -> &str {
        match self {
            Server::Redis(s) => &s.url,
            Server::Postgres(s) => &s.url,
            Server::Sqlite { db, .. } => db,
        }
    }
}

fn start_redis() -> Result<Server, String> {
    RedisServer::try_start().map(Server::Redis)
}

fn start_postgres() -> Result<Server, String> {
    PgServer::try_start().map(Server::Postgres)
}

fn start_sqlite() -> Result<Server, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let db = dir.path().join("locks.db").display().to_string();
    Ok(Server::Sqlite { _dir: dir, db })
}

fn sqlite_url(path: String) -> StoreUrl {
    StoreUrl::Sqlite(PathBuf::from(path))
}

// ---------------------------------------------------------------------------------
// Contenders: one per thread, each with its own connection.
// ---------------------------------------------------------------------------------

/// One thread's way to take and give back the lock.
trait Contender: Send {
    /// Blocks (or spins) until this thread holds the lock; returns how many tries
    /// failed on the way (joblock attempts, `SET NX` losses).
    fn acquire(&mut self) -> Result<u64, String>;
    /// Gives the lock back.
    fn release(&mut self) -> Result<(), String>;
}

/// joblock's lock on one store handle.
struct JoblockContender {
    lock: Lock,
    owner: String,
    held: Option<(Arc<Lease>, u64)>,
}

impl Contender for JoblockContender {
    fn acquire(&mut self) -> Result<u64, String> {
        match self.lock.acquire(&self.owner, &mut Quiet, &|| false) {
            Ok(AcquireOutcome::Acquired(lease, acq)) => {
                self.held = Some((lease, acq.committed));
                Ok(u64::from(acq.attempts.saturating_sub(1)))
            }
            Ok(AcquireOutcome::GaveUp { attempts, waited }) => Err(format!(
                "{} gave up after {attempts} attempts in {waited:?}",
                self.owner
            )),
            Ok(AcquireOutcome::Aborted { .. }) => Err(format!("{} aborted", self.owner)),
            Err(e) => Err(format!("{} acquire: {e}", self.owner)),
        }
    }

    fn release(&mut self) -> Result<(), String> {
        let Some((lease, committed)) = self.held.take() else {
            return Err(format!("{} releases a lock it does not hold", self.owner));
        };
        match lease.release(committed) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{} found its lock taken over", self.owner)),
            Err(e) => Err(format!("{} release: {e}", self.owner)),
        }
    }
}

/// `pg_advisory_lock` / `pg_advisory_unlock` on one connection (prepared once).
struct PgAdvisory {
    client: postgres::Client,
    lock: postgres::Statement,
    unlock: postgres::Statement,
}

impl PgAdvisory {
    fn connect(url: &str) -> Result<PgAdvisory, String> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        let sql = |what: &str| format!("SELECT {what}({PG_ADVISORY_ID}::bigint)");
        let lock = client
            .prepare(&sql("pg_advisory_lock"))
            .map_err(|e| format!("prepare: {e}"))?;
        let unlock = client
            .prepare(&sql("pg_advisory_unlock"))
            .map_err(|e| format!("prepare: {e}"))?;
        Ok(PgAdvisory {
            client,
            lock,
            unlock,
        })
    }
}

impl Contender for PgAdvisory {
    fn acquire(&mut self) -> Result<u64, String> {
        self.client
            .execute(&self.lock, &[])
            .map(|_| 0)
            .map_err(|e| format!("pg_advisory_lock: {e}"))
    }

    fn release(&mut self) -> Result<(), String> {
        let row = self
            .client
            .query_one(&self.unlock, &[])
            .map_err(|e| format!("pg_advisory_unlock: {e}"))?;
        match row.try_get::<_, bool>(0) {
            Ok(true) => Ok(()),
            Ok(false) => Err("pg_advisory_unlock: the lock was not held".to_string()),
            Err(e) => Err(format!("pg_advisory_unlock reply: {e}")),
        }
    }
}

/// `SET key v NX PX 30000` spun until it succeeds, then `DEL key`.
struct RedisSetNx {
    con: redis::Connection,
    value: String,
}

impl RedisSetNx {
    fn connect(url: &str, me: usize) -> Result<RedisSetNx, String> {
        let con = redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        Ok(RedisSetNx {
            con,
            value: format!("bench-{me}"),
        })
    }
}

impl Contender for RedisSetNx {
    fn acquire(&mut self) -> Result<u64, String> {
        let mut lost = 0;
        loop {
            let reply: Option<String> = redis::cmd("SET")
                .arg(REDIS_KEY)
                .arg(&self.value)
                .arg("NX")
                .arg("PX")
                .arg(30_000)
                .query(&mut self.con)
                .map_err(|e| format!("SET NX: {e}"))?;
            if reply.is_some() {
                return Ok(lost);
            }
            lost += 1;
        }
    }

    fn release(&mut self) -> Result<(), String> {
        redis::cmd("DEL")
            .arg(REDIS_KEY)
            .query::<i64>(&mut self.con)
            .map(|_| ())
            .map_err(|e| format!("DEL: {e}"))
    }
}

/// The file's write lock: `BEGIN IMMEDIATE` / `COMMIT` on a WAL file of its own,
/// one connection per thread, waiting with SQLite's own busy timeout.
struct SqliteWriteLock {
    conn: rusqlite::Connection,
}

impl SqliteWriteLock {
    fn open(path: &std::path::Path) -> Result<SqliteWriteLock, String> {
        let failed = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let conn = rusqlite::Connection::open(path).map_err(failed)?;
        conn.busy_timeout(Duration::from_secs(600))
            .map_err(failed)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(failed)?;
        Ok(SqliteWriteLock { conn })
    }
}

impl Contender for SqliteWriteLock {
    fn acquire(&mut self) -> Result<u64, String> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map(|()| 0)
            .map_err(|e| format!("BEGIN IMMEDIATE: {e}"))
    }

    fn release(&mut self) -> Result<(), String> {
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| format!("COMMIT: {e}"))
    }
}

// ---------------------------------------------------------------------------------
// Measurement.
// ---------------------------------------------------------------------------------

/// What one cell (one store, one primitive, one thread count) measured.
struct Cell {
    pairs_per_sec: f64,
    pairs: u64,
    /// Failed tries per successful pair (joblock attempts - 1, `SET NX` losses).
    failed_per_pair: f64,
    /// Every handoff (release -> next acquisition), in order of no importance.
    handoffs: Vec<Duration>,
    /// The handoffs that went to another thread.
    cross: Vec<Duration>,
    /// Where joblock's time went (joblock only).
    profile: Option<Profile>,
    errors: Vec<String>,
}

/// One thread's tally.
#[derive(Default)]
struct Tally {
    pairs: u64,
    failed: u64,
    handoffs: Vec<Duration>,
    cross: Vec<Duration>,
    error: Option<String>,
}

/// Runs every contender for `secs` after one warm-up pair each (which opens its
/// connection and, for joblock, makes the first-time insert). `at_start` runs on the
/// measuring thread once every warm-up is done, `at_deadline` the moment time is up.
fn run_cell<C: Contender>(
    mut contenders: Vec<C>,
    secs: f64,
    at_start: impl FnOnce(),
    at_deadline: impl FnOnce(),
) -> Result<Cell, String> {
    let threads = contenders.len();
    let warmed = Barrier::new(threads + 1);
    let start = Barrier::new(threads + 1);
    let deadline_slot: Mutex<Option<Instant>> = Mutex::new(None);
    // Who released last, and when: the next acquirer pairs itself with it.
    let released_at: Mutex<Option<(Instant, usize)>> = Mutex::new(None);
    let tallies: Vec<Tally> = thread::scope(|s| {
        let handles: Vec<_> = contenders
            .iter_mut()
            .enumerate()
            .map(|(me, c)| {
                let (warmed, start, deadline_slot, released_at) =
                    (&warmed, &start, &deadline_slot, &released_at);
                s.spawn(move || {
                    let mut tally = Tally::default();
                    if let Err(e) = c.acquire().and_then(|_| c.release()) {
                        tally.error = Some(format!("warm-up: {e}"));
                    }
                    warmed.wait();
                    start.wait();
                    let deadline = match *lock(deadline_slot) {
                        Some(d) if tally.error.is_none() => d,
                        _ => return tally,
                    };
                    while Instant::now() < deadline {
                        let failed = match c.acquire() {
                            Ok(n) => n,
                            Err(e) => {
                                tally.error = Some(e);
                                break;
                            }
                        };
                        let got = Instant::now();
                        if let Some((at, who)) = lock(released_at).take()
                            && got <= deadline
                        {
                            let d = got.saturating_duration_since(at);
                            tally.handoffs.push(d);
                            if who != me {
                                tally.cross.push(d);
                            }
                        }
                        *lock(released_at) = Some((Instant::now(), me));
                        if let Err(e) = c.release() {
                            tally.error = Some(e);
                            break;
                        }
                        if Instant::now() <= deadline {
                            tally.pairs += 1;
                            tally.failed += failed;
                        }
                    }
                    tally
                })
            })
            .collect();
        warmed.wait();
        at_start();
        let secs = Duration::from_secs_f64(secs);
        *lock(&deadline_slot) = Some(Instant::now() + secs);
        start.wait();
        thread::sleep(secs);
        at_deadline();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Tally {
                    error: Some("contender thread panicked".to_string()),
                    ..Tally::default()
                })
            })
            .collect()
    });
    let pairs: u64 = tallies.iter().map(|t| t.pairs).sum();
    if pairs == 0 && tallies.iter().all(|t| t.error.is_some()) {
        return Err(tallies
            .iter()
            .find_map(|t| t.error.clone())
            .unwrap_or_default());
    }
    let failed: u64 = tallies.iter().map(|t| t.failed).sum();
    let mut cell = Cell {
        pairs_per_sec: pairs as f64 / secs,
        pairs,
        failed_per_pair: if pairs > 0 {
            failed as f64 / pairs as f64
        } else {
            0.0
        },
        handoffs: Vec::new(),
        cross: Vec::new(),
        profile: None,
        errors: Vec::new(),
    };
    for t in tallies {
        cell.handoffs.extend(t.handoffs);
        cell.cross.extend(t.cross);
        cell.errors.extend(t.error);
    }
    Ok(cell)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The lock config of the issue: a long lease so nothing expires during the bench.
const JOBLOCK_CONFIG: LockConfig = LockConfig {
    lease: Duration::from_secs(30),
    retry: Duration::from_millis(1),
    give_up: Duration::from_secs(600),
};

// ---------------------------------------------------------------------------------
// A store wrapper that times every call the lock makes (and can hide notifications).
// ---------------------------------------------------------------------------------

/// Slots of [`Stats`]: the nine operation kinds, then `wait_for_change`.
const WAIT_SLOT: usize = OpKind::ALL.len();
const SLOTS: usize = WAIT_SLOT + 1;

fn slot(kind: OpKind) -> usize {
    OpKind::ALL.iter().position(|&k| k == kind).unwrap_or(0)
}

/// Calls and time spent per slot, shared by every handle of one bench store.
#[derive(Default)]
struct Stats {
    calls: [AtomicU64; SLOTS],
    nanos: [AtomicU64; SLOTS],
    /// `wait_for_change` calls that returned `true` (a notice, or a fresh subscription).
    woke: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Clone, Copy, Default)]
struct StatsSnapshot {
    calls: [u64; SLOTS],
    nanos: [u64; SLOTS],
    woke: u64,
}

impl Stats {
    fn snapshot(&self) -> StatsSnapshot {
        let mut s = StatsSnapshot {
            woke: self.woke.load(Ordering::Relaxed),
            ..StatsSnapshot::default()
        };
        for i in 0..SLOTS {
            s.calls[i] = self.calls[i].load(Ordering::Relaxed);
            s.nanos[i] = self.nanos[i].load(Ordering::Relaxed);
        }
        s
    }

    fn record(&self, slot: usize, since: Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.calls[slot].fetch_add(1, Ordering::Relaxed);
        self.nanos[slot].fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Delegates to the real store, timing each call; with `notify` false it says the
/// store does not notify, so the lock polls every `retry` instead.
struct Timed {
    inner: Arc<dyn Store>,
    stats: Arc<Stats>,
    notify: bool,
}

impl Timed {
    fn time<T>(&self, kind: OpKind, f: impl FnOnce() -> T) -> T {
        let t0 = Instant::now();
        let out = f();
        self.stats.record(slot(kind), t0);
        out
    }
}

impl Store for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn insert_one(&self, doc: Value) -> Result<(), StoreError> {
        self.time(OpKind::InsertOne, || self.inner.insert_one(doc))
    }
    fn insert_many(&self, docs: Vec<Value>) -> Result<(), StoreError> {
        self.time(OpKind::InsertMany, || self.inner.insert_many(docs))
    }
    fn find_one(&self, filter: &Value) -> Result<Option<Value>, StoreError> {
        self.time(OpKind::FindOne, || self.inner.find_one(filter))
    }
    fn find_many(&self, filter: &Value) -> Result<Vec<Value>, StoreError> {
        self.time(OpKind::FindMany, || self.inner.find_many(filter))
    }
    fn count(&self, filter: &Value) -> Result<u64, StoreError> {
        self.time(OpKind::Count, || self.inner.count(filter))
    }
    fn update_one(&self, filter: &Value, set: &Value) -> Result<Option<Value>, StoreError> {
        self.time(OpKind::UpdateOne, || self.inner.update_one(filter, set))
    }
    fn update_many(&self, filter: &Value, set: &Value) -> Result<u64, StoreError> {
        self.time(OpKind::UpdateMany, || self.inner.update_many(filter, set))
    }
    fn delete_one(&self, filter: &Value) -> Result<u64, StoreError> {
        self.time(OpKind::DeleteOne, || self.inner.delete_one(filter))
    }
    fn delete_many(&self, filter: &Value) -> Result<u64, StoreError> {
        self.time(OpKind::DeleteMany, || self.inner.delete_many(filter))
    }
    fn op_counts(&self) -> OpCounts {
        self.inner.op_counts()
    }
    fn notifies(&self) -> bool {
        self.notify && self.inner.notifies()
    }
    fn wait_for_change(&self, id: &str, timeout: Duration) -> bool {
        let t0 = Instant::now();
        let woke = self.notify && self.inner.wait_for_change(id, timeout);
        self.stats.record(WAIT_SLOT, t0);
        if woke {
            self.stats.woke.fetch_add(1, Ordering::Relaxed);
        }
        woke
    }
    fn for_caller(&self, seed: u64) -> Arc<dyn Store> {
        Arc::new(Timed {
            inner: self.inner.for_caller(seed),
            stats: Arc::clone(&self.stats),
            notify: self.notify,
        })
    }
}

/// Where joblock's thread time went during a cell, per successful pair.
struct Profile {
    /// (call, calls per pair, mean microseconds per call)
    calls: Vec<(&'static str, f64, f64)>,
    /// Share of `wait_for_change` calls that returned `true`.
    woke_share: Option<f64>,
    /// Thread time per pair (threads x duration / pairs), microseconds.
    thread_us_per_pair: f64,
    /// Of that, time inside store calls and waits, microseconds.
    in_calls_us_per_pair: f64,
}

fn profile(b: &StatsSnapshot, a: &StatsSnapshot, pairs: u64, threads: usize, secs: f64) -> Profile {
    let pairs_f = pairs as f64;
    let mut calls = Vec::new();
    let mut in_calls = 0.0;
    for i in 0..SLOTS {
        let n = a.calls[i].saturating_sub(b.calls[i]);
        if n == 0 {
            continue;
        }
        let us = a.nanos[i].saturating_sub(b.nanos[i]) as f64 / 1000.0;
        in_calls += us;
        let name = if i == WAIT_SLOT {
            "wait_for_change"
        } else {
            OpKind::ALL[i].name()
        };
        calls.push((name, n as f64 / pairs_f, us / n as f64));
    }
    let waits = a.calls[WAIT_SLOT].saturating_sub(b.calls[WAIT_SLOT]);
    Profile {
        calls,
        woke_share: (waits > 0).then(|| a.woke.saturating_sub(b.woke) as f64 / waits as f64),
        thread_us_per_pair: threads as f64 * secs * 1e6 / pairs_f,
        in_calls_us_per_pair: in_calls / pairs_f,
    }
}

/// How joblock's contenders wait.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Queue mode: the threads share one `LocalQueue`, releases hand over.
    Queue,
    /// Race mode (the default): every waiter reads and races, woken by notifications.
    Race,
    /// Race mode with notifications hidden: waiters poll every 1 ms.
    Polling,
}

/// joblock's lock on `url` with `threads` contenders waiting in `mode`. Also returns
/// whether notifications were in use.
fn joblock_cell(
    url: &StoreUrl,
    threads: usize,
    secs: f64,
    mode: Mode,
) -> Result<(Cell, bool), String> {
    let notify = mode != Mode::Polling;
    let queue = (mode == Mode::Queue).then(LocalQueue::new);
    let clock = Clock::real(1.0);
    let real: Arc<dyn Store> = open_store(
        url,
        &unique_namespace("bench"),
        &clock,
        MemoryConfig::default(),
        1,
    )
    .map_err(|e| format!("open store: {e}"))?;
    let stats = Arc::new(Stats::default());
    let store = Timed {
        inner: real,
        stats: Arc::clone(&stats),
        notify,
    };
    let notifies = store.notifies();
    let contenders: Vec<JoblockContender> = (0..threads)
        .map(|i| JoblockContender {
            lock: Lock::new(
                store.for_caller(i as u64),
                clock.clone(),
                KEY.to_string(),
                JOBLOCK_CONFIG,
            )
            .with_queue(queue.clone()),
            owner: format!("bench-{i}"),
            held: None,
        })
        .collect();
    // Calls are counted from the start signal (after the warm-up pairs) to the
    // deadline; every handle shares one `Stats`.
    let before: Mutex<Option<StatsSnapshot>> = Mutex::new(None);
    let after: Mutex<Option<StatsSnapshot>> = Mutex::new(None);
    let mut cell = run_cell(
        contenders,
        secs,
        || *lock(&before) = Some(stats.snapshot()),
        || *lock(&after) = Some(stats.snapshot()),
    )?;
    if let (Some(b), Some(a), true) = (*lock(&before), *lock(&after), cell.pairs > 0) {
        cell.profile = Some(profile(&b, &a, cell.pairs, threads, secs));
    }
    Ok((cell, notifies))
}

fn native_cell(url: &StoreUrl, threads: usize, secs: f64) -> Result<Cell, String> {
    match url {
        StoreUrl::Postgres(u) => {
            let contenders = (0..threads)
                .map(|_| PgAdvisory::connect(u))
                .collect::<Result<Vec<_>, _>>()?;
            run_cell(contenders, secs, || {}, || {})
        }
        StoreUrl::Redis(u) => {
            let contenders = (0..threads)
                .map(|i| RedisSetNx::connect(u, i))
                .collect::<Result<Vec<_>, _>>()?;
            run_cell(contenders, secs, || {}, || {})
        }
        StoreUrl::Sqlite(path) => {
            let native = path.with_file_name("native.db");
            let contenders = (0..threads)
                .map(|_| SqliteWriteLock::open(&native))
                .collect::<Result<Vec<_>, _>>()?;
            run_cell(contenders, secs, || {}, || {})
        }
        StoreUrl::Memory => Err("no native primitive for the memory store".to_string()),
    }
}

// ---------------------------------------------------------------------------------
// Report.
// ---------------------------------------------------------------------------------

/// The `q` quantile of `samples` in milliseconds (nearest rank), or `None` if empty.
fn quantile_ms(samples: &mut [Duration], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let rank = ((samples.len() - 1) as f64 * q).round() as usize;
    Some(samples[rank.min(samples.len() - 1)].as_secs_f64() * 1000.0)
}

fn p50_p99(samples: &mut [Duration]) -> String {
    match (quantile_ms(samples, 0.50), quantile_ms(samples, 0.99)) {
        (Some(a), Some(b)) => format!("{a:.3}/{b:.3}"),
        _ => "-".to_string(),
    }
}

/// One row of the main table and its details.
struct Row {
    store: &'static str,
    threads: usize,
    /// Whether the store notified (so race-mode waiters slept until a change).
    notifies: Option<bool>,
    /// joblock in queue mode (one `LocalQueue` shared by the threads).
    queue: Result<Cell, String>,
    /// joblock in race mode (the default).
    joblock: Result<Cell, String>,
    native: Result<Cell, String>,
    /// joblock with notifications hidden: waiters poll every `retry` (1 ms).
    polling: Option<Result<Cell, String>>,
}

fn rate(c: &Result<Cell, String>) -> String {
    match c {
        Ok(c) => format!("{:.0}", c.pairs_per_sec),
        Err(_) => "error".to_string(),
    }
}

fn ratio(a: &Result<Cell, String>, b: &Result<Cell, String>) -> Option<f64> {
    match (a, b) {
        (Ok(a), Ok(b)) if b.pairs_per_sec > 0.0 => Some(a.pairs_per_sec / b.pairs_per_sec),
        _ => None,
    }
}

fn handoff(c: &mut Result<Cell, String>) -> String {
    c.as_mut()
        .map(|c| p50_p99(&mut c.handoffs))
        .unwrap_or_else(|_| "-".to_string())
}

fn ratio_text(a: &Result<Cell, String>, b: &Result<Cell, String>) -> String {
    ratio(a, b)
        .map(|r| format!("{r:.2}x"))
        .unwrap_or_else(|| "-".to_string())
}

fn print_table(rows: &mut [Row], skipped: &[(&'static str, String)], secs: f64) {
    println!();
    println!(
        "acquire+release pairs per second on one key, {secs} s per cell; handoff = from just \
         before a release to the next acquisition returning, p50/p99 ms"
    );
    println!(
        "queue = queue mode (the threads share one LocalQueue; a release hands over), \
         race = race mode (the default; waiters woken by the store's notifications), \
         native = the engine's own lock"
    );
    println!(
        "{:<9} {:>4}  {:>8} {:>8} {:>8}  {:>6} {:>6}  {:>13} {:>13} {:>13}",
        "store",
        "thr",
        "queue/s",
        "race/s",
        "native/s",
        "queue",
        "race",
        "handoff queue",
        "race",
        "native",
    );
    for row in rows.iter_mut() {
        println!(
            "{:<9} {:>4}  {:>8} {:>8} {:>8}  {:>6} {:>6}  {:>13} {:>13} {:>13}",
            row.store,
            row.threads,
            rate(&row.queue),
            rate(&row.joblock),
            rate(&row.native),
            ratio_text(&row.queue, &row.native),
            ratio_text(&row.joblock, &row.native),
            handoff(&mut row.queue),
            handoff(&mut row.joblock),
            handoff(&mut row.native),
        );
    }
    for (store, why) in skipped {
        println!("{store:<9} skipped: {why}");
    }

    if rows.iter().any(|r| r.polling.is_some()) {
        println!();
        println!("race mode with notifications hidden (waiters poll every 1 ms)");
        println!(
            "{:<9} {:>4}  {:>8}  {:>9}  {:>13}",
            "store", "thr", "pairs/s", "vs native", "handoff"
        );
        for row in rows.iter_mut() {
            let Some(polling) = row.polling.as_mut() else {
                continue;
            };
            let r = ratio_text(polling, &row.native);
            println!(
                "{:<9} {:>4}  {:>8}  {:>9}  {:>13}",
                row.store,
                row.threads,
                rate(polling),
                r,
                handoff(polling)
            );
        }
    }

    println!();
    println!("targets: joblock >= 0.5x native with 1 contender, >= 1.0x with 8");
    for row in rows.iter() {
        let target = if row.threads == 1 { 0.5 } else { 1.0 };
        for (mode, cell) in [("queue", &row.queue), ("race", &row.joblock)] {
            if let Some(r) = ratio(cell, &row.native) {
                println!(
                    "  {:<9} {} contender(s), {mode:<5} mode: {r:.2}x (target {target:.1}x) {}",
                    row.store,
                    row.threads,
                    if r >= target { "met" } else { "NOT met" }
                );
            }
        }
    }

    println!();
    println!(
        "details (calls per pair x mean time per call; thread time = threads x duration / pairs)"
    );
    for row in rows.iter_mut() {
        println!("  {} {} contender(s)", row.store, row.threads);
        print_joblock("joblock, queue mode", &mut row.queue);
        let race = match row.notifies {
            Some(true) => "joblock, race mode (notified)",
            _ => "joblock, race mode",
        };
        print_joblock(race, &mut row.joblock);
        if let Some(polling) = row.polling.as_mut() {
            print_joblock("joblock, race mode (poll 1 ms)", polling);
        }
        match &mut row.native {
            Ok(c) => {
                let failed = if row.store == "redis" {
                    format!(", {:.2} lost SET NX per pair", c.failed_per_pair)
                } else {
                    String::new()
                };
                println!("    native: {} pairs{failed}", c.pairs);
                print_handoffs(c);
            }
            Err(e) => println!("    native: error: {e}"),
        }
    }
}

fn print_joblock(label: &str, cell: &mut Result<Cell, String>) {
    let c = match cell {
        Ok(c) => c,
        Err(e) => {
            println!("    {label}: error: {e}");
            return;
        }
    };
    println!(
        "    {label}: {} pairs, {:.2} failed attempts per pair",
        c.pairs, c.failed_per_pair
    );
    if let Some(p) = &c.profile {
        let calls = p
            .calls
            .iter()
            .map(|(name, per_pair, us)| format!("{name} {per_pair:.2} x {us:.0} us"))
            .collect::<Vec<_>>()
            .join(", ");
        println!("      calls: {calls}");
        let woke = p
            .woke_share
            .map(|w| format!("; {:.0}% of waits ended by a notice", 100.0 * w))
            .unwrap_or_default();
        println!(
            "      thread time per pair {:.0} us, {:.0} us of it in store calls and waits{woke}",
            p.thread_us_per_pair, p.in_calls_us_per_pair
        );
    }
    print_handoffs(c);
}

fn print_handoffs(c: &mut Cell) {
    let n = c.handoffs.len();
    if n > 0 {
        let to_other = c.cross.len();
        println!(
            "      handoffs {n}, to another thread {to_other} ({:.1}%), those p50/p99 {} ms",
            100.0 * to_other as f64 / n as f64,
            p50_p99(&mut c.cross)
        );
    }
    for e in &c.errors {
        println!("      error: {e}");
    }
}

fn bench_store(
    name: &'static str,
    start: fn() -> Result<Server, String>,
    url_of: fn(String) -> StoreUrl,
    secs: f64,
    rows: &mut Vec<Row>,
    skipped: &mut Vec<(&'static str, String)>,
) {
    eprintln!("{name}: starting a throwaway server");
    let server = match start() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("{name}: skipped: {why}");
            skipped.push((name, why));
            return;
        }
    };
    let url = url_of(server.url().to_string());
    for threads in CONTENDERS {
        eprintln!("{name}: {threads} contender(s): joblock, queue mode");
        let queue = joblock_cell(&url, threads, secs, Mode::Queue).map(|(cell, _)| cell);
        eprintln!("{name}: {threads} contender(s): joblock, race mode");
        let (joblock, notifies) = match joblock_cell(&url, threads, secs, Mode::Race) {
            Ok((cell, notifies)) => (Ok(cell), Some(notifies)),
            Err(e) => (Err(e), None),
        };
        eprintln!("{name}: {threads} contender(s): native");
        let native = native_cell(&url, threads, secs);
        // Only worth a comparison when the first run used notifications.
        let polling = (notifies == Some(true)).then(|| {
            eprintln!("{name}: {threads} contender(s): joblock, race mode polling");
            joblock_cell(&url, threads, secs, Mode::Polling).map(|(cell, _)| cell)
        });
        rows.push(Row {
            store: name,
            threads,
            notifies,
            queue,
            joblock,
            native,
            polling,
        });
    }
    drop(server);
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let secs = measure_secs();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    bench_store(
        "redis",
        start_redis,
        StoreUrl::Redis,
        secs,
        &mut rows,
        &mut skipped,
    );
    bench_store(
        "postgres",
        start_postgres,
        StoreUrl::Postgres,
        secs,
        &mut rows,
        &mut skipped,
    );
    bench_store(
        "sqlite",
        start_sqlite,
        sqlite_url,
        secs,
        &mut rows,
        &mut skipped,
    );
    print_table(&mut rows, &skipped, secs);
}
