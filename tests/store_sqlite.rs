//! Store contract tests on the SQLite backend, each on a fresh file in a temporary
//! directory.
//!
//! The backend-independent contract runs here exactly as on the memory store; the
//! `sqlite` module tests what only an embedded cross-process store has: opening
//! from a URL, one file shared by separately opened stores and by separate
//! processes (racing inserts and compare-and-sets with exactly one winner), paths
//! that must be refused without hanging, read-only opens that create nothing, a
//! busy file reported rather than waited on forever, change notification by
//! polling, number fidelity through the file, and the lock on top of it all.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use joblock::store::{SqliteStore, Store, StoreError, StoreUrl, open_store_read_only};
use serde_json::{Value, json};
use support::sqlite::TempSqlite;
use support::wakes::assert_update_wakes;

all_conformance_tests!(sqlite_conformance, TempSqlite::new());

/// What only the SQLite backend has.
mod sqlite {
    use super::*;

    /// Bounds every wait that would otherwise hang a broken build forever; far
    /// longer than any of them takes on a loaded machine.
    const GENEROUS: Duration = Duration::from_secs(60);

    fn invalid_message<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
        match r {
            Err(StoreError::Invalid(msg)) => msg,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    /// Runs `open` on its own thread and returns its result, failing the test if
    /// it has not returned within [`GENEROUS`] (an open that blocks, e.g. on a FIFO).
    fn without_hanging<T: Send + 'static>(open: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(open());
        });
        rx.recv_timeout(GENEROUS)
            .expect("the open blocked instead of refusing the path")
    }

    /// The names of the objects in `path`'s schema, read on a connection of our own.
    fn schema_names(path: &Path) -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn is_named_sqlite_and_opens_from_a_store_url() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("url.db").display());
        assert!(url.starts_with("sqlite:///"), "{url}");
        support::engines::opens_from_a_store_url(&url, "sqlite");
    }

    #[test]
    fn a_writable_open_creates_the_file_and_its_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/joblock/locks.db");
        let store = SqliteStore::open(&path, "jobs").unwrap();
        assert!(path.is_file());
        assert_eq!(store.path(), path);
        assert_eq!(store.namespace(), "jobs");
        assert!(schema_names(&path).contains(&"jobs".to_string()));
        // WAL is recorded in the file, so every later connection uses it.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn namespaces_are_tables_of_one_file_and_sqlites_own_names_are_refused() {
        let temp = TempSqlite::new();
        let other = SqliteStore::open(&temp.path(), "other").unwrap();
        temp.insert_one(json!({"_id": "a"})).unwrap();
        assert_eq!(other.count(&json!({})).unwrap(), 0);
        other.insert_one(json!({"_id": "a"})).unwrap();
        let msg = invalid_message(SqliteStore::open(&temp.path(), "sqlite_master"));
        assert!(msg.contains("sqlite_"), "{msg}");
    }

    #[test]
    fn two_stores_opened_separately_share_the_file() {
        const RACERS: u64 = 16;
        let temp = TempSqlite::new();
        let other = SqliteStore::open(&temp.path(), "locks").unwrap();
        temp.insert_one(json!({"_id": "a", "by": "first"})).unwrap();
        assert_eq!(
            other.find_one(&json!({"_id": "a"})).unwrap(),
            Some(json!({"_id": "a", "by": "first"}))
        );
        assert!(matches!(
            other.insert_one(json!({"_id": "a"})),
            Err(StoreError::DuplicateKey(_))
        ));
        // A compare-and-set race between the handles of both stores.
        other.insert_one(json!({"_id": "k", "v": 0})).unwrap();
        let start = Arc::new(Barrier::new(RACERS as usize));
        let racers: Vec<_> = (1..=RACERS)
            .map(|i| {
                let handle = if i % 2 == 0 {
                    temp.for_caller(i)
                } else {
                    other.for_caller(i)
                };
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    start.wait();
                    handle.update_one(&json!({"_id": "k", "v": 0}), &json!({"v": i}))
                })
            })
            .collect();
        let won: Vec<Value> = racers
            .into_iter()
            .filter_map(|t| t.join().unwrap().unwrap())
            .collect();
        assert_eq!(won.len(), 1, "{won:?}");
        assert_eq!(
            temp.find_one(&json!({"_id": "k"})).unwrap(),
            Some(won[0].clone())
        );
    }

    /// Set (to the database path) in a child process this test binary starts.
    const CHILD_ENV: &str = "JOBLOCK_SQLITE_RACE_CHILD";
    /// What a child's lines start with, among libtest's own output.
    const MARK: &str = "JOBLOCK-CHILD ";
    const CHILDREN: usize = 3;
    /// Compare-and-set increments of one counter per child.
    const INCREMENTS: u64 = 100;

    /// The body of a racing child process, started by
    /// `separate_processes_race_with_exactly_one_winner`; a no-op in a normal run.
    #[test]
    fn multiprocess_child() {
        let Some(path) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let me = std::process::id();
        let store = SqliteStore::open(Path::new(&path), "race").unwrap();
        println!("{MARK}ready");
        std::io::stdout().flush().unwrap();
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        let insert = match store.insert_one(json!({"_id": "one", "by": me})) {
            Ok(()) => "won",
            Err(StoreError::DuplicateKey(_)) => "lost",
            Err(e) => panic!("insert: {e}"),
        };
        let cas = match store.update_one(&json!({"_id": "cas", "v": 0}), &json!({"v": me})) {
            Ok(Some(_)) => "won",
            Ok(None) => "lost",
            Err(e) => panic!("update: {e}"),
        };
        // Increments by compare-and-set: a lost update would show in the total.
        for _ in 0..INCREMENTS {
            loop {
                let doc = store.find_one(&json!({"_id": "counter"})).unwrap().unwrap();
                let n = doc["n"].as_u64().unwrap();
                let filter = json!({"_id": "counter", "n": n});
                if store
                    .update_one(&filter, &json!({"n": n + 1}))
                    .unwrap()
                    .is_some()
                {
                    break;
                }
            }
        }
        println!("{MARK}insert={insert} cas={cas}");
    }

    #[test]
    fn separate_processes_race_with_exactly_one_winner() {
        let temp = TempSqlite::new();
        let store = SqliteStore::open(&temp.path(), "race").unwrap();
        store.insert_one(json!({"_id": "cas", "v": 0})).unwrap();
        store.insert_one(json!({"_id": "counter", "n": 0})).unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut children: Vec<_> = (0..CHILDREN)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", "sqlite::multiprocess_child", "--nocapture"])
                    .args(["--test-threads", "1"])
                    .env(CHILD_ENV, temp.path())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Every child has opened the store before any is told to go.
        let mut outputs: Vec<_> = children
            .iter_mut()
            .map(|child| {
                let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
                let ready = lines
                    .by_ref()
                    .map_while(Result::ok)
                    .any(|l| l.contains(MARK));
                assert!(ready, "a child ended before it was ready");
                lines
            })
            .collect();
        for child in &mut children {
            child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        }
        let results: Vec<String> = outputs
            .iter_mut()
            .map(|lines| {
                lines
                    .map_while(Result::ok)
                    .find_map(|l| l.find(MARK).map(|at| l[at + MARK.len()..].to_string()))
                    .unwrap_or_else(|| "no result".to_string())
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success(), "{results:?}");
        }
        let wins = |what: &str| results.iter().filter(|r| r.contains(what)).count();
        assert_eq!(wins("insert=won"), 1, "{results:?}");
        assert_eq!(wins("cas=won"), 1, "{results:?}");
        assert_eq!(store.count(&json!({"_id": "one"})).unwrap(), 1);
        assert_eq!(
            store.find_one(&json!({"_id": "counter"})).unwrap(),
            Some(json!({"_id": "counter", "n": CHILDREN as u64 * INCREMENTS})),
            "every compare-and-set increment of every process counted once"
        );
    }

    #[test]
    fn stores_opened_at_once_on_a_new_file_all_open() {
        // Every worker of a fleet may be the first to open the default store: they
        // race to create the file, switch it to WAL and create the table.
        const OPENERS: usize = 8;
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("new/locks.db");
            let start = Arc::new(Barrier::new(OPENERS));
            let openers: Vec<_> = (0..OPENERS)
                .map(|i| {
                    let (path, start) = (path.clone(), Arc::clone(&start));
                    thread::spawn(move || {
                        start.wait();
                        let store = SqliteStore::open(&path, "jobs")?;
                        store.insert_one(json!({"_id": i}))
                    })
                })
                .collect();
            let results: Vec<_> = openers.into_iter().map(|t| t.join().unwrap()).collect();
            assert!(
                results.iter().all(Result::is_ok),
                "round {round}: {results:?}"
            );
        }
    }

    #[test]
    fn a_directory_a_device_and_a_dangling_link_are_refused_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let msg = invalid_message(SqliteStore::open(dir.path(), "jobs"));
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains("a directory"), "{msg}");
        let msg = invalid_message(SqliteStore::open(Path::new("/dev/null"), "jobs"));
        assert!(msg.contains("/dev/null is a character device"), "{msg}");
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(dir.path().join("nowhere.db"), &link).unwrap();
        let msg = invalid_message(SqliteStore::open(&link, "jobs"));
        assert!(msg.contains("link.db"), "{msg}");
        assert!(!dir.path().join("nowhere.db").exists());
        let url = StoreUrl::Sqlite(dir.path().to_path_buf());
        assert!(matches!(
            open_store_read_only(&url, "jobs"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("locks.db");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success(), "mkfifo failed");
        for read_only in [false, true] {
            let path = fifo.clone();
            let result = without_hanging(move || {
                if read_only {
                    open_store_read_only(&StoreUrl::Sqlite(path), "jobs").map(drop)
                } else {
                    SqliteStore::open(&path, "jobs").map(drop)
                }
            });
            let msg = invalid_message(result);
            assert!(msg.contains("locks.db is a FIFO"), "{msg}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_left_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        let text = "shopping list: milk, eggs, a better lock\n".repeat(40);
        std::fs::write(&path, &text).unwrap();
        let msg = invalid_message(SqliteStore::open(&path, "jobs"));
        assert!(msg.contains("notes.txt is not a SQLite database"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        let url = StoreUrl::Sqlite(path.clone());
        assert!(matches!(
            open_store_read_only(&url, "jobs"),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            ["notes.txt"],
            "no journal or WAL file was left beside it"
        );
    }

    #[test]
    fn a_read_only_open_of_a_missing_file_creates_nothing_and_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not/yet/locks.db");
        let reader = open_store_read_only(&StoreUrl::Sqlite(path.clone()), "jobs").unwrap();
        assert_eq!(reader.name(), "sqlite");
        assert_eq!(reader.count(&json!({})).unwrap(), 0);
        assert_eq!(reader.find_one(&json!({"_id": "a"})).unwrap(), None);
        assert!(reader.find_many(&json!({})).unwrap().is_empty());
        assert!(matches!(
            reader.insert_one(json!({"_id": "a"})),
            Err(StoreError::Invalid(m)) if m.contains("read-only")
        ));
        assert!(
            !dir.path().join("not").exists(),
            "a reader created a directory"
        );

        // Workers create it later: the same reader sees their documents.
        let writer = SqliteStore::open(&path, "jobs").unwrap();
        writer.insert_one(json!({"_id": "a", "n": 1})).unwrap();
        assert_eq!(
            reader.find_many(&json!({})).unwrap(),
            vec![json!({"_id": "a", "n": 1})]
        );
    }

    #[test]
    fn a_read_only_open_of_a_missing_table_creates_no_table() {
        let temp = TempSqlite::new();
        temp.insert_one(json!({"_id": "a"})).unwrap();
        let reader = open_store_read_only(&StoreUrl::Sqlite(temp.path()), "elsewhere").unwrap();
        assert_eq!(reader.count(&json!({})).unwrap(), 0);
        assert!(reader.find_many(&json!({"_id": "a"})).unwrap().is_empty());
        assert!(!schema_names(&temp.path()).contains(&"elsewhere".to_string()));
        // The namespace that has a table reads it.
        let reader = open_store_read_only(&StoreUrl::Sqlite(temp.path()), "locks").unwrap();
        assert_eq!(reader.count(&json!({})).unwrap(), 1);
    }

    #[test]
    fn another_applications_table_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE jobs (id INTEGER, note TEXT); INSERT INTO jobs VALUES (1, 'keep me');",
        )
        .unwrap();
        let line = match SqliteStore::open(&path, "jobs") {
            Err(StoreError::NotJoblocks(line)) => line,
            other => panic!("expected NotJoblocks, got {other:?}"),
        };
        assert!(
            line.starts_with("table jobs in ") && line.ends_with("pick another --namespace"),
            "{line}"
        );
        assert!(matches!(
            open_store_read_only(&StoreUrl::Sqlite(path.clone()), "jobs"),
            Err(StoreError::NotJoblocks(_))
        ));
        let note: String = conn
            .query_row("SELECT note FROM jobs WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(note, "keep me");
        let columns: i64 = conn
            .query_row("SELECT count(*) FROM pragma_table_info('jobs')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(columns, 2);
        // Another namespace in the same file is fine.
        SqliteStore::open(&path, "locks").unwrap();
    }

    #[test]
    fn a_busy_file_is_unavailable_after_the_busy_timeout_not_forever() {
        let temp = TempSqlite::new();
        temp.insert_one(json!({"_id": "a", "n": 0})).unwrap();
        let holder = rusqlite::Connection::open(temp.path()).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        // Readers never wait for the writer (WAL).
        assert_eq!(temp.count(&json!({})).unwrap(), 1);
        let start = Instant::now();
        let result = temp.update_one(&json!({"_id": "a"}), &json!({"n": 1}));
        let took = start.elapsed();
        match result {
            Err(StoreError::Unavailable(msg)) => {
                assert!(msg.contains(&temp.path().display().to_string()), "{msg}");
                assert!(msg.contains("busy"), "{msg}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(took >= Duration::from_secs(4), "gave up after {took:?}");
        assert!(took < GENEROUS, "{took:?}");
        holder.execute_batch("COMMIT").unwrap();
        // The handle works again once the lock is free.
        assert!(
            temp.update_one(&json!({"_id": "a"}), &json!({"n": 1}))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn numbers_round_trip_exactly_through_the_file() {
        let temp = TempSqlite::new();
        let floats = [
            0.1 + 0.2,
            1e-300,
            5e-324,
            f64::MAX,
            -1.0715660391465826e-75,
            1e17,
            2.5,
        ];
        let doc = json!({
            "_id": "n",
            "i63": i64::MAX as u64, "u63": 1u64 << 63, "u63p1": (1u64 << 63) + 1,
            "u64_max": u64::MAX, "i64_min": i64::MIN,
            "floats": floats, "float_one": 1.0, "int_one": 1,
        });
        temp.insert_one(doc.clone()).unwrap();
        // Read back on a store of its own: what the file holds, not a cache.
        let reread = SqliteStore::open(&temp.path(), "locks").unwrap();
        assert_eq!(reread.find_one(&json!({"_id": "n"})).unwrap(), Some(doc));
        for (key, value) in [
            ("u63p1", json!((1u64 << 63) + 1)),
            ("u64_max", json!(u64::MAX)),
            ("i64_min", json!(i64::MIN)),
            ("float_one", json!(1.0)),
            ("int_one", json!(1)),
            ("floats", json!(floats)),
        ] {
            assert_eq!(reread.count(&json!({key: value})).unwrap(), 1, "{key}");
        }
        assert_eq!(reread.count(&json!({"u63p1": 1u64 << 63})).unwrap(), 0);
        assert_eq!(reread.count(&json!({"float_one": 1})).unwrap(), 0);
        assert_eq!(reread.count(&json!({"int_one": 1.0})).unwrap(), 0);
    }

    #[test]
    fn notifies_on_every_handle() {
        let temp = TempSqlite::new();
        assert!(temp.notifies());
        assert!(temp.for_caller(1).notifies());
    }

    #[test]
    fn an_update_by_another_connection_wakes_a_waiter() {
        let temp = TempSqlite::new();
        temp.insert_one(json!({"_id": "k", "n": 0})).unwrap();
        let waiter = temp.for_caller(1);
        let other = SqliteStore::open(&temp.path(), "locks").unwrap();
        assert_update_wakes(waiter.as_ref(), &other, "k", 1);
        // The look is kept: later waits on the same handle wake too.
        assert_update_wakes(waiter.as_ref(), temp.for_caller(2).as_ref(), "k", 2);
    }

    #[test]
    fn the_first_wait_for_an_id_reports_a_possible_change_at_once() {
        let temp = TempSqlite::new();
        temp.insert_one(json!({"_id": "k"})).unwrap();
        assert!(temp.wait_for_change("k", GENEROUS));
        assert!(!temp.wait_for_change("k", Duration::from_millis(50)));
    }

    #[test]
    fn a_wait_does_not_hold_the_handles_operations() {
        let temp = TempSqlite::new();
        temp.insert_one(json!({"_id": "k", "n": 0})).unwrap();
        let handle = temp.for_caller(1);
        handle.wait_for_change("k", Duration::from_millis(1));
        thread::scope(|s| {
            let (started, ready) = mpsc::channel();
            let waiter = Arc::clone(&handle);
            let wait = s.spawn(move || {
                started.send(()).unwrap();
                waiter.wait_for_change("k", GENEROUS)
            });
            ready.recv().unwrap();
            // Reads on the same handle go through while it waits (the wait only
            // ends on a change or after a minute)...
            assert!(handle.find_one(&json!({"_id": "k"})).unwrap().is_some());
            assert!(!wait.is_finished(), "a read woke the waiter");
            // ...and the handle's own write wakes it.
            handle
                .update_one(&json!({"_id": "k"}), &json!({"n": 1}))
                .unwrap();
            assert!(wait.join().unwrap());
        });
    }

    #[test]
    fn inserts_deletes_and_reinserts_wake_but_other_ids_and_reads_do_not() {
        let temp = TempSqlite::new();
        let waiter = temp.for_caller(1);
        waiter.wait_for_change("k", Duration::from_millis(1));
        temp.insert_one(json!({"_id": "k"})).unwrap();
        assert!(waiter.wait_for_change("k", GENEROUS));
        // A delete and a re-insert of the very same document is a change too.
        temp.delete_one(&json!({"_id": "k"})).unwrap();
        temp.insert_one(json!({"_id": "k"})).unwrap();
        assert!(waiter.wait_for_change("k", GENEROUS));
        temp.insert_one(json!({"_id": "other"})).unwrap();
        temp.update_one(&json!({"_id": "other"}), &json!({"n": 1}))
            .unwrap();
        temp.find_one(&json!({"_id": "k"})).unwrap();
        temp.update_one(&json!({"_id": "k", "n": 5}), &json!({"n": 6}))
            .unwrap();
        assert!(!waiter.wait_for_change("k", Duration::from_millis(100)));
        // A backlog of changes while nobody waited is one wake, not one per change.
        for n in 0..10 {
            temp.update_one(&json!({"_id": "k"}), &json!({"n": n}))
                .unwrap();
        }
        assert!(waiter.wait_for_change("k", GENEROUS));
        assert!(!waiter.wait_for_change("k", Duration::from_millis(50)));
    }

    #[test]
    fn a_zero_timeout_does_not_block() {
        let temp = TempSqlite::new();
        temp.wait_for_change("k", Duration::ZERO);
        let start = Instant::now();
        assert!(!temp.wait_for_change("k", Duration::ZERO));
        assert!(start.elapsed() < GENEROUS, "{:?}", start.elapsed());
    }

    #[test]
    fn a_waiting_lock_acquires_as_soon_as_the_holder_releases() {
        let temp = TempSqlite::new();
        support::wakes::a_waiting_lock_acquires_as_soon_as_the_holder_releases(&temp);
    }
}
