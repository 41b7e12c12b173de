//! Argument vectors for the parser properties (`tests/parser_props.rs`): each
//! subcommand's cheap accepted command line, mutated with nasty values, and what
//! a refusal of each mutation may name.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use super::nasty::{NASTY, NASTY_AT, WORDS};

/// A subcommand's cheap accepted command line and the flags it takes.
pub struct Spec {
    /// Before the mutations; `DB` is replaced by a fresh SQLite file.
    base: &'static [&'static str],
    /// After them (`run`'s command).
    tail: &'static [&'static str],
    /// Flags that take a value.
    flags: &'static [&'static str],
    /// Flags that take none.
    switches: &'static [&'static str],
    /// Whether a stray positional is a parse error (for `run` it is the command).
    positional_refused: bool,
}

/// The scenario's flags, shared by the main command and `worker`.
pub const RUN_FLAGS: &[&str] = &[
    "--jobs",
    "--clients",
    "--crash-prob",
    "--speed",
    "--seed",
    "--output",
    "--lease",
    "--retry",
    "--give-up",
    "--db-latency",
    "--op-latency",
    "--chunk-pause",
    "--chunk",
    "--clock",
    "--wait",
    "--events",
    "--store",
    "--namespace",
    "--at",
];

pub const SPECS: &[Spec] = &[
    Spec {
        base: &[
            "--clock",
            "virtual",
            "--headless",
            "--jobs",
            "1",
            "--crash-prob",
            "0",
            "--chunk-pause",
            "0.001",
            "--db-latency",
            "0.001",
            "--output",
            "out.txt",
        ],
        tail: &[],
        flags: RUN_FLAGS,
        switches: &["--headless", "--json", "--verbose"],
        positional_refused: true,
    },
    Spec {
        // A real clock (workers share a store) at 100x: milliseconds per run.
        base: &[
            "worker",
            "--store",
            "DB",
            "--client",
            "c",
            "--jobs",
            "1",
            "--crash-prob",
            "0",
            "--speed",
            "100",
            "--chunk-pause",
            "0.001",
            "--db-latency",
            "0.001",
            "--output",
            "w.txt",
            "--headless",
        ],
        tail: &[],
        flags: &[
            "--client",
            "--jobs",
            "--crash-prob",
            "--speed",
            "--seed",
            "--output",
            "--lease",
            "--retry",
            "--give-up",
            "--db-latency",
            "--op-latency",
            "--chunk-pause",
            "--clock",
            "--wait",
            "--events",
            "--store",
            "--namespace",
            "--at",
        ],
        switches: &["--headless", "--json", "--verbose"],
        positional_refused: true,
    },
    Spec {
        base: &["watch", "--store", "DB", "--once"],
        tail: &[],
        flags: &["--store", "--namespace", "--interval", "--lease"],
        switches: &["--once", "--json"],
        positional_refused: true,
    },
    Spec {
        base: &["torture", "--runs", "1", "--seed", "1", "--json"],
        tail: &[],
        flags: &["--runs", "--seed", "--break-lock"],
        switches: &["--json"],
        positional_refused: true,
    },
    Spec {
        base: &["run", "--store", "DB", "--key", "worker:k"],
        tail: &["--", "true"],
        flags: &[
            "--key",
            "--store",
            "--namespace",
            "--on-conflict",
            "--wait-timeout",
            "--conflict-exit-code",
            "--lease",
            "--grace",
            "--retry",
            "--store-timeout",
            "--events",
            "--log-format",
        ],
        switches: &["--verbose"],
        positional_refused: false,
    },
    Spec {
        base: &["verify", "out.txt"],
        tail: &[],
        flags: &["--expect"],
        switches: &[],
        positional_refused: true,
    },
    Spec {
        base: &["replay", "rec.jsonl", "--headless"],
        tail: &[],
        flags: &["--speed", "--at"],
        switches: &["--headless", "--json", "--verbose"],
        positional_refused: true,
    },
    Spec {
        base: &["timeline", "rec.jsonl", "-o", "t.svg"],
        tail: &[],
        flags: &["-o", "--output", "--width"],
        switches: &[],
        positional_refused: true,
    },
    Spec {
        base: &["locks", "list", "--store", "DB"],
        tail: &[],
        flags: &["--store", "--namespace", "--sample"],
        switches: &["--json"],
        positional_refused: true,
    },
    Spec {
        base: &["locks", "show", "worker:k", "--store", "DB"],
        tail: &[],
        flags: &["--store", "--namespace"],
        switches: &["--json"],
        positional_refused: true,
    },
    Spec {
        base: &[
            "locks", "release", "worker:k", "--fence", "1", "--force", "--store", "DB",
        ],
        tail: &[],
        flags: &["--fence", "--store", "--namespace"],
        switches: &["--force", "--json"],
        positional_refused: true,
    },
    Spec {
        base: &["reseed", "--store", "memory", "--output", "out.txt"],
        tail: &[],
        flags: &["--store", "--namespace", "--client", "--output"],
        switches: &["--force", "--keep-unconfirmed"],
        positional_refused: true,
    },
];

/// Flags that take a value starting with `-` (numbers, `--at`, `--fence`) and so
/// refuse `-inf` by name. After any other flag clap reads such a value as flags
/// (`--store -inf` is "unexpected argument '-i'"), so that message names it.
pub const TAKES_HYPHEN: &[&str] = &[
    "--jobs",
    "--clients",
    "--crash-prob",
    "--speed",
    "--seed",
    "--lease",
    "--retry",
    "--give-up",
    "--db-latency",
    "--op-latency",
    "--chunk-pause",
    "--chunk",
    "--at",
    "--interval",
    "--expect",
    "--sample",
    "--fence",
    "--runs",
    "--wait-timeout",
    "--conflict-exit-code",
    "--grace",
    "--store-timeout",
    "--width",
];

/// How clap names a value that starts with `-` when it reads it as flags: by its
/// first flag (`'-i'` for `-inf`), or by itself if it starts with `--`.
pub fn as_flags(value: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(value);
    if text.starts_with("--") {
        let name = text.split_once('=').map_or(&*text, |(n, _)| n);
        return Some(format!("'{name}'"));
    }
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some('-'), Some(c)) => Some(format!("'-{c}")),
        _ => None,
    }
}

/// Flags no subcommand knows.
pub const UNKNOWN: &[&str] = &[
    "--bogus", "--lease2", "-x", "---", "--ünï", "--=", "--jobs\n", "-",
];

/// One argument vector and what its mutations brought in.
pub struct Case {
    /// The arguments, after the binary's name.
    pub args: Vec<OsString>,
    /// The flags and values the mutations added: an exit 2 names one of them.
    pub named: Vec<String>,
}

/// A value for the binary: nasty, a word, or an `--at` text for `--at`; none
/// that would make an accepted run long.
pub fn bin_value(rng: &mut StdRng, flag: &str) -> String {
    let pool = if flag == "--at" && rng.random_bool(0.7) {
        NASTY_AT
    } else if rng.random_bool(0.7) {
        NASTY
    } else {
        WORDS
    };
    pool.choose(rng).copied().unwrap_or("").to_string()
}

/// What an exit 2 may name for `flag` given `value`: the flag, the value, and
/// how clap names a hyphen value it read as flags.
pub fn value_names(flag: &str, value: &[u8]) -> Vec<String> {
    let mut names = vec![flag.to_string()];
    match std::str::from_utf8(value) {
        Ok("") => names.extend(["''".to_string(), "\"\"".to_string()]),
        Ok(v) => names.push(v.to_string()),
        Err(_) => names.push("UTF-8".to_string()),
    }
    if !TAKES_HYPHEN.contains(&flag) {
        names.extend(as_flags(value));
    }
    names
}

/// The spec's base with up to three mutations.
pub fn mutate(rng: &mut StdRng, spec: &Spec, db: &str) -> Case {
    let os = |s: &str| OsString::from(s);
    let mut args: Vec<OsString> = spec
        .base
        .iter()
        .map(|a| os(if *a == "DB" { db } else { a }))
        .collect();
    let mut named = Vec::new();
    let all_flags: Vec<&str> = SPECS.iter().flat_map(|s| s.flags.iter().copied()).collect();
    // None at all a quarter of the time: the base itself must run (an exit 2 then
    // names nothing, and fails).
    let mutations = if rng.random_bool(0.25) {
        0
    } else {
        rng.random_range(1..=3)
    };
    for m in 0..mutations {
        let flag = spec.flags.choose(rng).copied().unwrap_or("--bogus");
        let v = bin_value(rng, flag);
        match rng.random_range(0..9) {
            0 | 1 => {
                // A value in the base replaced.
                let at: Vec<usize> = (1..args.len())
                    .filter(|&i| spec.flags.iter().any(|f| args[i - 1] == *f))
                    .collect();
                if let Some(&i) = at.choose(rng) {
                    let replaced = args[i - 1].to_string_lossy().into_owned();
                    named.extend(value_names(&replaced, v.as_bytes()));
                    args[i] = os(&v);
                }
            }
            2 => {
                args.extend([os(flag), os(&v)]);
                named.extend(value_names(flag, v.as_bytes()));
            }
            3 => {
                args.push(os(&format!("{flag}={v}")));
                named.extend([flag.to_string(), v]);
            }
            4 => {
                if let Some(switch) = spec.switches.choose(rng) {
                    args.push(os(&format!("{switch}={v}")));
                    named.extend([switch.to_string(), v]);
                }
            }
            5 => {
                let foreign = all_flags.choose(rng).copied().unwrap_or("--bogus");
                if !spec.flags.contains(&foreign) {
                    args.extend([os(foreign), os(&v)]);
                    named.extend(value_names(foreign, v.as_bytes()));
                }
            }
            6 => {
                let unknown = UNKNOWN.choose(rng).copied().unwrap_or("--bogus");
                args.push(os(unknown));
                named.push(unknown.to_string());
                named.extend(as_flags(unknown.as_bytes()));
            }
            7 => {
                if m + 1 == mutations {
                    // The last flag, with its value missing.
                    args.push(os(flag));
                    named.push(flag.to_string());
                } else if spec.positional_refused {
                    args.push(os(&v));
                    named.push(if v.is_empty() { "''".into() } else { v.clone() });
                    named.extend(as_flags(v.as_bytes()));
                }
            }
            _ => {
                let mut bytes = v.into_bytes();
                bytes.push(0xff);
                named.extend(value_names(flag, &bytes));
                args.extend([os(flag), OsString::from_vec(bytes)]);
            }
        }
    }
    args.extend(spec.tail.iter().map(|a| os(a)));
    named.retain(|n| !n.is_empty());
    Case { args, named }
}
