//! The layering of `src/` stays true: every `crate::` and `super::` path in the
//! library's sources is resolved to the module it names, and
//!
//! 1. each top-level module imports only the modules `ALLOWED` lists for it (the
//!    table docs/ARCHITECTURE.md explains), and
//! 2. no two sibling modules import each other, directly or around a loop, at any
//!    level (`engine::run` -> `engine::dispatch` -> `engine::run` is a cycle; a
//!    child using its own parent's items is not, they are one unit).
//!
//! Paths inside an in-file `#[cfg(test)] mod tests` block count as their file's
//! imports (their `super::` is the file's own module).

#[path = "support/layers.rs"]
mod layers;

use std::path::Path;

use layers::{Source, check, module_graph, read_sources};

/// Who may import whom, one top-level module of the library each.
const ALLOWED: &[(&str, &[&str])] = &[
    // Leaves: plain data and helpers, importing nothing of the crate.
    ("paths", &[]),
    ("clock", &[]),
    ("sanitize", &[]),
    ("screen", &[]),
    // Leaves that read or write user files check them through paths.
    ("events", &["paths"]),
    ("verify", &["paths"]),
    ("output", &["paths"]),
    // The store counts operations in the vocabulary's kinds; SQLite's file is
    // checked like every user file.
    ("store", &["clock", "events", "paths"]),
    ("lock", &["clock", "store"]),
    ("worker", &["clock", "events", "lock", "output"]),
    (
        "engine",
        &[
            "clock", "events", "lock", "output", "paths", "store", "verify", "worker",
        ],
    ),
    ("describe", &["events", "sanitize"]),
    ("headless", &["describe", "engine", "events", "sanitize"]),
    // Replay is pure logic over the vocabulary: no engine, no terminal.
    ("replay", &["events"]),
    // The dashboard asks lock::state's pure rules (how much lease is left).
    (
        "tui",
        &[
            "describe", "engine", "events", "lock", "replay", "sanitize", "screen", "verify",
        ],
    ),
    // Watch also checks each lock's output file by the fence-in's own rule.
    ("watch", &["lock", "output", "sanitize", "screen", "store"]),
    // The operator's view: reads and revokes through lock; clock only to open a store.
    ("locks", &["clock", "lock", "sanitize", "store"]),
    ("torture", &["engine", "events", "lock"]),
    ("reseed", &["lock", "output", "store"]),
    (
        "run",
        &["clock", "events", "lock", "sanitize", "store", "worker"],
    ),
    // A recording drawn as a picture: the events alone, store text made printable.
    ("timeline", &["events", "paths", "sanitize"]),
];

fn library() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    match read_sources(&src) {
        Ok(s) => s,
        Err(e) => panic!("cannot read {}: {e}", src.display()),
    }
}

#[test]
fn the_library_keeps_its_layers_and_has_no_import_cycles() {
    let sources = library();
    assert!(
        sources.iter().any(|s| s.module == "worker"),
        "the source walk found no worker module: {:?}",
        sources.iter().map(|s| &s.module).collect::<Vec<_>>()
    );
    let problems = check(&sources, ALLOWED);
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_row_in_the_table() {
    let graph = module_graph(&library());
    for module in graph.keys().filter(|m| !m.contains("::")) {
        assert!(
            ALLOWED.iter().any(|(name, _)| name == module),
            "src/{module} has no row in ALLOWED: say which modules it may import"
        );
    }
}

fn planted(path: &str, module: &str, text: &str) -> Source {
    Source {
        path: path.into(),
        module: module.into(),
        text: text.into(),
    }
}

/// Plants `text` as module `module` (file `src/<path>`) into the library and
/// asserts the check names that file and each of `targets`.
fn assert_caught(module: &str, text: &str, targets: &[&str]) {
    let path = format!("src/{}.rs", module.replace("::", "/"));
    let mut sources = library();
    sources.push(planted(&path, module, text));
    let problems = check(&sources, ALLOWED);
    for target in targets {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(&path) && p.contains(target)),
            "{target} not caught in {path}: {problems:?}"
        );
    }
}

#[test]
fn a_planted_upward_import_is_caught() {
    assert_caught(
        "worker::planted",
        "use crate::engine::registry::Registry;\n",
        &["engine"],
    );
}

#[test]
fn a_planted_import_in_a_use_group_or_a_path_is_caught() {
    assert_caught(
        "lock::planted",
        "use crate::{\n    clock::Clock,\n    tui::{self, app::App},\n};\nfn f() { crate::watch::once; }\n",
        &["tui", "watch"],
    );
}

#[test]
fn a_planted_sibling_cycle_is_caught() {
    let sources = vec![
        planted("src/a/mod.rs", "a", "mod x;\nmod y;\n"),
        planted("src/a/x.rs", "a::x", "use super::y::Y;\npub struct X;\n"),
        planted("src/a/y.rs", "a::y", "use crate::a::x::X;\npub struct Y;\n"),
    ];
    let problems = check(&sources, &[("a", &[])]);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("cycle") && p.contains("a::x")),
        "{problems:?}"
    );
}

#[test]
fn a_child_using_its_parent_is_not_a_cycle_and_a_test_blocks_super_is_its_file() {
    let sources = vec![
        planted(
            "src/a/mod.rs",
            "a",
            "mod x;\npub use x::X;\npub struct P;\n",
        ),
        planted(
            "src/a/x.rs",
            "a::x",
            "use super::P;\npub struct X;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::P;\n}\n",
        ),
        planted("src/b.rs", "b", "use crate::a::X;\npub struct B;\n"),
    ];
    let problems = check(&sources, &[("a", &[]), ("b", &["a"])]);
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn an_import_planted_in_a_test_block_is_caught() {
    assert_caught(
        "lock::planted",
        "pub struct X;\n#[cfg(test)]\nmod tests {\n    use super::X;\n    use crate::engine::Registry;\n}\n",
        &["engine"],
    );
}

/// The top-level import graph as the table docs/ARCHITECTURE.md shows.
fn graph_table(sources: &[Source]) -> String {
    let mut tops: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (module, imports) in module_graph(sources) {
        let top = module.split("::").next().unwrap_or("").to_string();
        let entry = tops.entry(top.clone()).or_default();
        for to in imports {
            let to_top = to.split("::").next().unwrap_or("").to_string();
            if to_top != top && !to_top.is_empty() {
                entry.insert(to_top);
            }
        }
    }
    let mut table = String::from("| module | imports |\n|---|---|\n");
    for (module, imports) in tops.iter().filter(|(m, _)| !m.is_empty()) {
        let list: Vec<&str> = imports.iter().map(String::as_str).collect();
        let shown = if list.is_empty() {
            "nothing of the crate".to_string()
        } else {
            list.join(", ")
        };
        table.push_str(&format!("| {module} | {shown} |\n"));
    }
    table
}

#[test]
fn the_architecture_document_shows_the_graph_as_it_is() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md");
    let doc = match std::fs::read_to_string(&doc_path) {
        Ok(d) => d,
        Err(e) => panic!("cannot read {}: {e}", doc_path.display()),
    };
    let (begin, end) = ("<!-- layers:begin -->\n", "<!-- layers:end -->");
    let shown = doc
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(table, _)| table.to_string())
        .unwrap_or_default();
    let actual = graph_table(&library());
    assert_eq!(
        shown, actual,
        "docs/ARCHITECTURE.md's import table (between {begin:?} and {end:?}) is out of date; the code's graph is:\n{actual}"
    );
}
