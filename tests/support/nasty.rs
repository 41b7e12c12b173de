//! Nasty inputs for the parser properties (`tests/parser_props.rs`): fixed sets
//! of values that break number parsers somewhere, and a seeded generator of more.

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use joblock::events::schedule::{MAX_SECS, MAX_SPEED, MIN_SECS, MIN_SPEED};

/// Numbers and words that break number parsers somewhere.
pub const NASTY: &[&str] = &[
    "1e300",
    "-1e300",
    "1e-300",
    "-1e-300",
    "0",
    "-0",
    "+0",
    "0.0",
    "-0.0",
    "NaN",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "+inf",
    "infinity",
    "Infinity",
    "18446744073709551615",
    "18446744073709551616",
    "-18446744073709551616",
    "99999999999999999999",
    "4294967296",
    "-1",
    "1",
    "",
    " ",
    " 1 ",
    "0x10",
    "1_000",
    "1e",
    "e5",
    ".",
    "-",
    "--",
    "1.2.3",
    "1,5",
    "１",
    "٣",
    "é",
    "東京",
    "💥",
    "\u{202e}1",
    "\u{1b}[2J",
    "1\n2",
    "1e300\n",
    "\t",
    "0.0009999",
    "1000000.0001",
    "1e7",
];

/// Values in range that would make a run long (a million-second pause, four
/// billion jobs): fine in process, kept out of the binary's runs.
pub const SLOW: &[&str] = &["1000000", "1e6", "0.001", "4294967295", "2", "3", "0.5"];

/// Words that enum flags take, and paths, some of them no regular file.
pub const WORDS: &[&str] = &[
    "real",
    "virtual",
    "race",
    "queue",
    "wait",
    "skip",
    "fail",
    "json",
    "text",
    "blind-acquire",
    "memory",
    "sqlite://",
    "redis://127.0.0.1:1",
    "fifo",
    "dir",
    "/",
    "/dev/zero",
    "/dev/null",
    "worker:k",
    "two words",
];

/// `--at` texts at the edges of the grammar.
pub const NASTY_AT: &[&str] = &[
    "1e300:kill",
    "5:outage=-5",
    "0:kill=3",
    "nan:speed=2",
    "3:speed=1e300",
    ":",
    "5:",
    ":kill",
    "5",
    "",
    "0:kill",
    "-0:crash",
    "0:add",
    "0:clear",
    "0:reset",
    "1:speed=1e6",
    "1:speed=0.001",
    "inf:kill",
    "-inf:kill",
    "1e6:kill",
    "1000000.1:kill",
    "1:explode",
    "1:spike=1e300,1",
    "1:spike=1,",
    "1:spike=",
    "1:spike=,",
    "1:spike=1,2,3",
    "1:stall=1e-300",
    "0:stall=1e300",
    "1:fail=18446744073709551616",
    "1:fail=-1",
    "1:lose=99999999999999999999",
    "1:jitter=nan",
    "1:fail-prob=2",
    "1:lose-prob=-0",
    "1:latency=inf",
    "1:speed=",
    "1:speed",
    "1:outage",
    "1:kill=",
    "1::kill",
    "1:kill:kill",
    " 1:kill",
    "1:kill ",
    "1:KILL",
    "١:kill",
    "1:\nkill",
];

/// Action names of the grammar, and some that are not.
pub const ACTIONS: &[&str] = &[
    "crash",
    "kill",
    "stall",
    "stop",
    "add",
    "pause",
    "resume",
    "speed",
    "latency",
    "spike",
    "jitter",
    "fail",
    "fail-prob",
    "lose",
    "lose-prob",
    "outage",
    "clear",
    "reset",
    "",
    "KILL",
    "explode",
    "kill ",
    "=",
];

/// Characters random text is made of: the grammar's, and trouble.
pub const CHARS: &[char] = &[
    '0', '1', '5', '9', '.', 'e', 'E', '-', '+', ':', '=', ',', ' ', 'n', 'a', 'i', 'f', 'x', '_',
    'é', '٣', '１', '💥', '\n', '\t', '\u{0}', '\u{1b}', '\u{202e}',
];

/// A number as text: any f64 (NaN and infinities included), a long decimal with
/// an exponent, an integer, or one near a range's edge.
pub fn random_number(rng: &mut StdRng) -> String {
    match rng.random_range(0..5) {
        0 => f64::from_bits(rng.random()).to_string(),
        1 => format!("{:e}", f64::from_bits(rng.random())),
        2 => {
            let sign = ["", "-", "+"].choose(rng).copied().unwrap_or("");
            let int: String = (0..rng.random_range(1..25))
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect();
            let frac = if rng.random_bool(0.5) {
                format!(".{}", rng.random_range(0..1_000_000u32))
            } else {
                String::new()
            };
            let exp = if rng.random_bool(0.5) {
                format!("e{}", rng.random_range(-400..400))
            } else {
                String::new()
            };
            format!("{sign}{int}{frac}{exp}")
        }
        3 => rng.random::<i64>().to_string(),
        _ => {
            let edges = [MIN_SECS, MAX_SECS, 0.0, 1.0, MIN_SPEED, MAX_SPEED];
            let edge = edges.choose(rng).copied().unwrap_or(0.0);
            let nudge = [1.0, 1.0 + 1e-12, 1.0 - 1e-12, -1.0];
            (edge * nudge.choose(rng).copied().unwrap_or(1.0)).to_string()
        }
    }
}

/// Up to ten characters of trouble.
pub fn random_text(rng: &mut StdRng) -> String {
    (0..rng.random_range(0..10))
        .map(|_| CHARS.choose(rng).copied().unwrap_or('x'))
        .collect()
}

/// A value for a number flag: random, nasty, or text.
pub fn random_value(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 | 1 => random_number(rng),
        2 => NASTY.choose(rng).copied().unwrap_or("").to_string(),
        _ => random_text(rng),
    }
}

/// An `--at` text: an edge case, or a time, an action and maybe a value (or two).
pub fn random_at(rng: &mut StdRng) -> String {
    if rng.random_bool(0.2) {
        return NASTY_AT.choose(rng).copied().unwrap_or("").to_string();
    }
    let t = random_value(rng);
    let action = ACTIONS.choose(rng).copied().unwrap_or("kill");
    let value = match rng.random_range(0..4) {
        0 => String::new(),
        1 => format!("={},{}", random_value(rng), random_value(rng)),
        _ => format!("={}", random_value(rng)),
    };
    format!("{t}:{action}{value}")
}
