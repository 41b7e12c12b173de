//! joblock never alters a table that is not its own, and read-only means read-only,
//! on the PostgreSQL backend, through the real binary and the library.
//!
//! Each test works in a schema of its own (the URL's search_path names it, so it is
//! the connection's `current_schema()`), so that a dump of that schema before and
//! after a command shows everything the command created or changed, whatever the
//! other tests of this binary do on the shared server. One test uses `public`, as a
//! user would.

mod support;

use std::process::{Command, Output};

use joblock::store::{PostgresStore, Store, StoreError, StoreUrl, open_store_read_only};
use postgres::{Client, NoTls};
use serde_json::json;
use support::pg_server::{shared, unique_namespace};

/// A fresh schema on the shared server, and a URL whose connections resolve to it.
fn own_schema(tag: &str) -> (String, String) {
    let schema = unique_namespace(tag);
    admin()
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let url = format!("{}?options=-csearch_path%3D{schema}", shared().url);
    (schema, url)
}

fn admin() -> Client {
    Client::connect(&shared().url, NoTls).unwrap()
}

/// Everything in `schema` a command could create or change: its relations, their
/// columns (from information_schema), the triggers on them, its functions (with
/// their bodies), and the rows of `table` if it exists.
fn dump(schema: &str, table: &str) -> String {
    let mut c = admin();
    let mut out = String::new();
    let mut lines = |sql: &str| {
        for row in c.query(sql, &[&schema]).unwrap() {
            let cells: Vec<String> = (0..row.len())
                .map(|i| row.get::<_, Option<String>>(i).unwrap_or_default())
                .collect();
            out.push_str(&cells.join(" | "));
            out.push('\n');
        }
    };
    lines(
        "SELECT c.relname::text, c.relkind::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1",
    );
    lines(
        "SELECT table_name::text, ordinal_position::text, column_name::text, data_type::text,
                is_nullable::text, column_default::text
         FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1, 2",
    );
    lines(
        "SELECT c.relname::text, t.tgname::text, t.tgfoid::regprocedure::text, t.tgenabled::text
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1, 2",
    );
    lines(
        "SELECT p.proname::text, p.prosrc FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1",
    );
    let exists: bool = c
        .query_one(
            "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) IS NOT NULL",
            &[&schema, &table],
        )
        .unwrap()
        .get(0);
    if exists {
        let sql = format!("SELECT row_to_json(t)::text FROM \"{schema}\".\"{table}\" t ORDER BY 1");
        for row in c.query(sql.as_str(), &[]).unwrap() {
            out.push_str(row.get::<_, &str>(0));
            out.push('\n');
        }
    }
    out
}

fn joblock(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_joblock"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The one line a refused command printed on stderr (exit code 3 checked).
fn refusal(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "stderr: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    err.trim().to_string()
}

/// Runs every command on `url`/`ns` (watch --once, --once --json, worker, the main
/// run, locks list and release), each of which must refuse with exit 3 and a line
/// containing `expect`,
/// creating no output file; returns the lines. (The main run uses the real clock:
/// `--clock virtual` on a server is a usage error, exit 2, before any connection.)
fn every_command_refuses(url: &str, ns: &str, expect: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let watch = ["watch", "--store", url, "--namespace", ns, "--once"];
    let locks = ["--store", url, "--namespace", ns];
    let runs: [Vec<&str>; 6] = [
        watch.to_vec(),
        [&["locks", "list"][..], &locks[..]].concat(),
        [
            &["locks", "release", "acme", "--fence", "1", "--force"][..],
            &locks[..],
        ]
        .concat(),
        [&watch[..], &["--json"]].concat(),
        vec![
            "worker",
            "--store",
            url,
            "--namespace",
            ns,
            "--client",
            "acme",
            "--jobs",
            "1",
            "--output",
            "out.txt",
        ],
        vec![
            "--headless",
            "--store",
            url,
            "--namespace",
            ns,
            "--jobs",
            "1",
        ],
    ];
    let mut lines = Vec::new();
    for args in runs {
        let line = refusal(&joblock(dir.path(), &args));
        assert!(line.contains(expect), "{args:?}: {line}");
        lines.push(line);
    }
    let virtual_clock = joblock(
        dir.path(),
        &[
            "--headless",
            "--store",
            url,
            "--namespace",
            ns,
            "--jobs",
            "1",
            "--clock",
            "virtual",
        ],
    );
    assert_eq!(virtual_clock.status.code(), Some(2));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no output files: {left:?}");
    lines
}

#[test]
fn another_applications_table_is_refused_by_every_command_and_left_unchanged() {
    let (schema, url) = own_schema("foreign");
    let ns = "orders";
    admin()
        .batch_execute(&format!(
            "CREATE TABLE {schema}.{ns} (id int PRIMARY KEY, note text);
             INSERT INTO {schema}.{ns} VALUES (1, 'keep me');"
        ))
        .unwrap();
    let before = dump(&schema, ns);
    let lines = every_command_refuses(&url, ns, "is not a joblock table");
    assert_eq!(
        lines[0],
        format!(
            "error: table {schema}.{ns} exists but is not a joblock table \
             (columns id integer, note text): pick another --namespace"
        )
    );
    assert_eq!(dump(&schema, ns), before);
    // The application can still insert: no trigger of joblock's is in its way.
    admin()
        .execute(
            &format!("INSERT INTO {schema}.{ns} VALUES (2, 'still works')"),
            &[],
        )
        .unwrap();
}

#[test]
fn a_foreign_table_in_public_is_refused_and_keeps_its_rows_triggers_and_functions() {
    // No other test of this binary creates anything in public (each has its own
    // schema), so a dump of public is this test's alone.
    let ns = unique_namespace("app");
    admin()
        .batch_execute(&format!(
            "CREATE TABLE public.{ns} (id int PRIMARY KEY, note text);
             INSERT INTO public.{ns} VALUES (1, 'keep me');"
        ))
        .unwrap();
    let before = dump("public", &ns);
    let lines = every_command_refuses(&shared().url, &ns, "is not a joblock table");
    let line = format!(
        "error: table public.{ns} exists but is not a joblock table \
         (columns id integer, note text): pick another --namespace"
    );
    assert!(lines.iter().all(|l| *l == line), "{lines:?}");
    assert_eq!(dump("public", &ns), before);
}

#[test]
fn a_lookalike_table_or_a_view_by_the_namespaces_name_is_refused() {
    for (tag, create, expect) in [
        (
            "lookalike",
            "CREATE TABLE {s}.jobs (id text PRIMARY KEY, seq bigserial UNIQUE, doc json NOT NULL)",
            "table {s}.jobs exists but is not a joblock table (columns id text, seq bigint, doc json)",
        ),
        (
            "view",
            "CREATE VIEW {s}.jobs AS SELECT 1 AS one",
            "view {s}.jobs exists but is not a joblock table (columns one integer)",
        ),
    ] {
        let (schema, url) = own_schema(tag);
        admin()
            .batch_execute(&create.replace("{s}", &schema))
            .unwrap();
        let before = dump(&schema, "jobs");
        every_command_refuses(&url, "jobs", &expect.replace("{s}", &schema));
        assert_eq!(dump(&schema, "jobs"), before);
    }
}

#[test]
fn watch_on_a_namespace_that_does_not_exist_creates_nothing() {
    let (schema, url) = own_schema("absent");
    let dir = tempfile::tempdir().unwrap();
    let before = dump(&schema, "typo");
    let watch = ["watch", "--store", &url, "--namespace", "typo", "--once"];
    let text = joblock(dir.path(), &watch);
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&text.stdout),
        "no locks yet in namespace typo\n"
    );
    let json = joblock(dir.path(), &[&watch[..], &["--json"]].concat());
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&json.stdout).trim(), "[]");
    assert_eq!(dump(&schema, "typo"), before);
    assert_eq!(before, "", "the schema is still empty");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn locks_on_a_namespace_that_does_not_exist_create_nothing() {
    let (schema, url) = own_schema("absentlocks");
    let dir = tempfile::tempdir().unwrap();
    let store = ["--store", url.as_str(), "--namespace", "typo"];
    let list = joblock(dir.path(), &[&["locks", "list"][..], &store[..]].concat());
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&list.stdout), "no locks\n");
    // Release looks the key up read-only first: no table is made for the typo.
    let release = ["locks", "release", "worker:acme", "--fence", "1", "--force"];
    let out = joblock(dir.path(), &[&release[..], &store[..]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: no lock worker:acme in this store"
    );
    assert_eq!(dump(&schema, "typo"), "", "the schema is still empty");
}

#[test]
fn a_read_only_store_reads_an_absent_table_as_empty_and_finds_it_once_created() {
    let (schema, url) = own_schema("later");
    let store_url = StoreUrl::Postgres(url.clone());
    let reader = open_store_read_only(&store_url, "jobs").unwrap();
    assert_eq!(reader.count(&json!({})).unwrap(), 0);
    assert_eq!(reader.find_one(&json!({"_id": "a"})).unwrap(), None);
    assert!(!reader.notifies(), "no trigger to listen to");
    assert!(matches!(
        reader.insert_one(json!({"_id": "a"})),
        Err(StoreError::Invalid(m)) if m.contains("read-only")
    ));
    assert_eq!(dump(&schema, "jobs"), "");
    let writer = PostgresStore::connect(&url, "jobs").unwrap();
    writer.insert_one(json!({"_id": "a", "n": 1})).unwrap();
    assert_eq!(
        reader.find_many(&json!({})).unwrap(),
        vec![json!({"_id": "a", "n": 1})]
    );
    // A read-only open of the existing table listens: joblock's trigger is there.
    let reader = open_store_read_only(&store_url, "jobs").unwrap();
    assert!(reader.notifies());
    assert!(reader.delete_many(&json!({})).is_err());
    assert_eq!(writer.count(&json!({})).unwrap(), 1);
}

#[test]
fn a_joblock_shaped_table_without_the_trigger_is_read_as_is_and_completed_by_a_writer() {
    let (schema, url) = own_schema("bare");
    admin()
        .batch_execute(&format!(
            "CREATE TABLE {schema}.jobs (id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL);
             INSERT INTO {schema}.jobs (id, doc) VALUES ('\"a\"', '{{\"_id\": \"a\"}}');"
        ))
        .unwrap();
    let before = dump(&schema, "jobs");
    let reader = open_store_read_only(&StoreUrl::Postgres(url.clone()), "jobs").unwrap();
    assert!(!reader.notifies(), "no trigger, so no LISTEN");
    assert_eq!(
        reader.find_many(&json!({})).unwrap(),
        vec![json!({"_id": "a"})]
    );
    let dir = tempfile::tempdir().unwrap();
    let out = joblock(
        dir.path(),
        &["watch", "--store", &url, "--namespace", "jobs", "--once"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(dump(&schema, "jobs"), before, "read-only added no trigger");
    let writer = PostgresStore::connect(&url, "jobs").unwrap();
    assert!(
        writer.notifies(),
        "the writable open added joblock's trigger"
    );
    assert_eq!(writer.count(&json!({})).unwrap(), 1);
}

#[test]
fn somebody_elses_function_or_trigger_by_joblocks_names_stops_writers_only() {
    let (schema, url) = own_schema("names");
    admin()
        .batch_execute(&format!(
            "CREATE FUNCTION {schema}.joblock_notify_jobs() RETURNS int LANGUAGE sql AS 'SELECT 1';
             CREATE TABLE {schema}.other (id text PRIMARY KEY, seq bigserial UNIQUE, doc jsonb NOT NULL);
             CREATE FUNCTION {schema}.audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
             CREATE TRIGGER joblock_notify AFTER INSERT ON {schema}.other
                 FOR EACH ROW EXECUTE FUNCTION {schema}.audit();"
        ))
        .unwrap();
    let before = dump(&schema, "jobs");
    let msg = |r: Result<PostgresStore, StoreError>| match r {
        Err(StoreError::NotJoblocks(m)) => m,
        other => panic!("expected NotJoblocks, got {other:?}"),
    };
    let function = msg(PostgresStore::connect(&url, "jobs"));
    assert_eq!(
        function,
        format!(
            "function {schema}.joblock_notify_jobs() exists but is not joblock's notify function: \
             pick another --namespace"
        )
    );
    let trigger = msg(PostgresStore::connect(&url, "other"));
    assert!(
        trigger.starts_with(&format!(
            "trigger joblock_notify on {schema}.other does not call"
        )),
        "{trigger}"
    );
    // Readers create nothing, so neither stops them; the foreign trigger is not
    // joblock's, so the reader does not listen.
    let reader = open_store_read_only(&StoreUrl::Postgres(url.clone()), "other").unwrap();
    assert!(!reader.notifies());
    assert_eq!(reader.count(&json!({})).unwrap(), 0);
    assert_eq!(dump(&schema, "jobs"), before);
}

#[test]
fn a_table_of_the_same_name_later_on_the_search_path_is_not_used() {
    let (alpha, _) = own_schema("alpha");
    let (beta, beta_url) = own_schema("beta");
    let other = PostgresStore::connect(&beta_url, "jobs").unwrap();
    other.insert_one(json!({"_id": "theirs"})).unwrap();
    let before = dump(&beta, "jobs");
    // alpha comes first and exists, so it is the current schema: an unqualified
    // `jobs` would have found beta's table; joblock's statements name alpha's.
    let url = format!("{}?options=-csearch_path%3D{alpha},{beta}", shared().url);
    let reader = open_store_read_only(&StoreUrl::Postgres(url.clone()), "jobs").unwrap();
    assert_eq!(
        reader.count(&json!({})).unwrap(),
        0,
        "beta's row is not read"
    );
    let store = PostgresStore::connect(&url, "jobs").unwrap();
    assert_eq!(store.count(&json!({})).unwrap(), 0);
    store.insert_one(json!({"_id": "ours"})).unwrap();
    assert_eq!(dump(&beta, "jobs"), before, "beta is untouched");
    assert!(dump(&alpha, "jobs").contains("{\"id\":\"\\\"ours\\\"\""));
    // The reader found alpha's table once it was created, not beta's.
    assert_eq!(
        reader.find_many(&json!({})).unwrap(),
        vec![json!({"_id": "ours"})]
    );
}

#[test]
fn a_search_path_naming_no_existing_schema_is_one_line_and_creates_nothing() {
    let url = format!("{}?options=-csearch_path%3Dno_such_schema", shared().url);
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["watch", "--store", &url, "--namespace", "jobs", "--once"],
        vec![
            "worker",
            "--store",
            &url,
            "--namespace",
            "jobs",
            "--jobs",
            "1",
        ],
    ] {
        let line = refusal(&joblock(dir.path(), &args));
        assert!(
            line.contains("the search_path names no existing schema"),
            "{line}"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
