//! The whole command line under nasty input: parsing never panics or hangs, what
//! it accepts is in range, and every refusal is exit 2 with one line naming what
//! was refused.
//!
//! What this proves, and how:
//!
//! 1. **In process, thousands of values.** Every number parser the flags use
//!    (`joblock::events::schedule`: `seconds`, `seconds_or_zero`, `speed`,
//!    `probability`, `non_negative`, `positive`, `number`) and the `--at` grammar
//!    (`parse_at`) get a fixed nasty set (1e300, -1e300, 1e-300, 0, -0, NaN, inf,
//!    u64::MAX, 2^64, 99999999999999999999, empty and unicode strings, line breaks,
//!    `1e300:kill`, `5:outage=-5`, `0:kill=3`, `nan:speed=2`, `:`, `5:`, ...) and
//!    thousands of values from a seeded generator. None panics. An accepted value
//!    is finite, is what was typed (not clamped), lies in the documented range and
//!    is safe to turn into a `Duration` (also divided by the slowest speed); an
//!    accepted `--at` formats back (`format_at`) to text that parses as the same
//!    command, and its numbers are in their ranges. A refusal names the value, and
//!    its own text is one line (a line break in it comes only from the value it
//!    echoes, which the binary escapes when it prints; part 2 checks that).
//! 2. **Through the real binary, a few hundred argument vectors.** clap's parser
//!    lives in the binary crate (`src/cli.rs`), so it is reached by running the
//!    debug binary: each subcommand (the scenario, `worker`, `watch`, `torture`,
//!    `run`, `verify`, `replay`, `timeline`, `locks list|show|release`, `reseed`)
//!    starts from a cheap accepted command line (virtual clock or a sped-up real
//!    one, one job, millisecond pauses, a fresh SQLite file, files in a temporary
//!    directory), run as it is or with one to three mutations: a value replaced by a nasty one,
//!    a flag added with one (`--flag v` or `--flag=v`), a switch given a value, a
//!    flag of another subcommand, an unknown flag, a flag without its value, a
//!    stray positional, a value that is not UTF-8. Every child ends within its
//!    deadline (it is killed and the case fails otherwise), by an exit code and
//!    not a signal, never 101 (a panic) and never with a panic message; an exit 2
//!    is one stderr line, starting `error:`, that names one of the mutated flags
//!    or values.
//!
//! The seed is fixed so a failure is reproducible (PROPS_SEED picks another,
//! PROPS_CASES another number of binary runs); each failure prints its vector.

#[path = "support/argv.rs"]
mod argv;
#[path = "support/bounded.rs"]
mod bounded;
#[path = "support/nasty.rs"]
mod nasty;

use std::ffi::{OsStr, OsString};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use argv::{Case, SPECS, mutate};
use nasty::{NASTY, NASTY_AT, SLOW, random_at, random_value};

use joblock::events::schedule::{self, MAX_SECS, MAX_SPEED, MIN_SECS, MIN_SPEED, format_at};
use joblock::events::{Command, StoreFault, Target, parse_at};
use joblock::sanitize::printable;

/// The generator's seed: fixed, or PROPS_SEED.
fn seed() -> u64 {
    std::env::var("PROPS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(14)
}

/// Whether `message` names `value`, as typed or quoted.
fn names(message: &str, value: &str) -> bool {
    message.contains(&format!("{value:?}")) || (!value.is_empty() && message.contains(value))
}

/// A refusal's own text (the echoed value taken out) is one line.
fn one_line_apart_from(message: &str, value: &str) -> bool {
    let own = message.replace(value, "");
    !own.contains(['\n', '\r'])
}

/// One number parser of the flags and what it promises.
struct NumberParser {
    name: &'static str,
    parse: fn(&str) -> Result<f64, String>,
    /// What it may accept.
    accepts: fn(f64) -> bool,
    /// Whether what it accepts is a duration or speed the clocks turn into a
    /// `Duration`.
    timed: bool,
}

const PARSERS: &[NumberParser] = &[
    NumberParser {
        name: "seconds",
        parse: schedule::seconds,
        accepts: |x| (MIN_SECS..=MAX_SECS).contains(&x),
        timed: true,
    },
    NumberParser {
        name: "seconds_or_zero",
        parse: schedule::seconds_or_zero,
        accepts: |x| (0.0..=MAX_SECS).contains(&x),
        timed: true,
    },
    NumberParser {
        name: "speed",
        parse: schedule::speed,
        accepts: |x| (MIN_SPEED..=MAX_SPEED).contains(&x),
        timed: true,
    },
    NumberParser {
        name: "probability",
        parse: schedule::probability,
        accepts: |x| (0.0..=1.0).contains(&x),
        timed: true,
    },
    NumberParser {
        name: "non_negative",
        parse: schedule::non_negative,
        accepts: |x| x >= 0.0,
        timed: false,
    },
    NumberParser {
        name: "positive",
        parse: schedule::positive,
        accepts: |x| x > 0.0,
        timed: false,
    },
    NumberParser {
        name: "number",
        parse: schedule::number,
        accepts: f64::is_finite,
        timed: false,
    },
];

/// What is wrong with one number parser's answer to `s`, if anything.
fn judge_number(p: &NumberParser, s: &str) -> Option<String> {
    let name = p.name;
    let answer = match catch_unwind(AssertUnwindSafe(|| (p.parse)(s))) {
        Ok(a) => a,
        Err(_) => return Some(format!("{name}({s:?}) panicked")),
    };
    match answer {
        Ok(x) => {
            if !x.is_finite() || !(p.accepts)(x) {
                return Some(format!("{name}({s:?}) accepted {x}, out of its range"));
            }
            if s.trim().parse::<f64>().ok() != Some(x) {
                return Some(format!("{name}({s:?}) accepted {x}, not what was typed"));
            }
            let durations = || {
                let _ = Duration::from_secs_f64(x);
                let _ = Duration::from_secs_f64(x / MIN_SPEED);
                let _ = Duration::from_secs_f64(MAX_SECS / x.max(MIN_SPEED));
            };
            if p.timed && catch_unwind(durations).is_err() {
                return Some(format!("{name}({s:?}) = {x} panics as a Duration"));
            }
            None
        }
        Err(m) if m.is_empty() || !names(&m, s) => {
            Some(format!("{name}({s:?}) refused without naming it: {m:?}"))
        }
        Err(m) if !one_line_apart_from(&m, s) => Some(format!(
            "{name}({s:?}) refused on more than one line: {m:?}"
        )),
        Err(_) => None,
    }
}

/// Every number inside a command the grammar accepted is in its range.
fn in_range(cmd: &Command) -> bool {
    let secs = |v: f64| (0.0..=MAX_SECS).contains(&v);
    let prob = |p: f64| (0.0..=1.0).contains(&p);
    match cmd {
        Command::Stall(Target::Holder(None), s) => (MIN_SECS..=MAX_SECS).contains(s),
        Command::SetSpeed(x) => (MIN_SPEED..=MAX_SPEED).contains(x),
        Command::Fault(f) => match f {
            StoreFault::Latency(s) | StoreFault::Outage(s) => secs(*s),
            StoreFault::Spike { max, secs: d } => secs(*max) && secs(*d),
            StoreFault::Jitter(p) | StoreFault::FailProbability(p) => prob(*p),
            StoreFault::LoseProbability(p) => prob(*p),
            StoreFault::FailNext(_)
            | StoreFault::LoseNext(_)
            | StoreFault::Clear
            | StoreFault::Reset => true,
        },
        _ => true,
    }
}

/// What is wrong with the grammar's answer to `s`, if anything.
fn judge_at(s: &str) -> Option<String> {
    let answer = match catch_unwind(|| parse_at(s)) {
        Ok(a) => a,
        Err(_) => return Some(format!("parse_at({s:?}) panicked")),
    };
    match answer {
        Ok((t, cmd)) => {
            if !(0.0..=MAX_SECS).contains(&t) || !in_range(&cmd) {
                return Some(format!(
                    "parse_at({s:?}) accepted {t}, {cmd:?}: out of range"
                ));
            }
            let again = format_at(t, &cmd);
            match parse_at(&again) {
                Ok(back) if back == (t, cmd.clone()) => None,
                other => Some(format!(
                    "parse_at({s:?}) = {cmd:?} formats as {again:?}, which parses as {other:?}"
                )),
            }
        }
        Err(m) => {
            let action = s
                .split_once(':')
                .map(|(_, a)| a.split_once('=').map_or(a, |(n, _)| n))
                .unwrap_or(s);
            let named = names(&m, s) || m.contains(&format!("{action:?}"));
            if !named {
                Some(format!("parse_at({s:?}) refused without naming it: {m:?}"))
            } else if m.contains(['\n', '\r']) && !s.contains(['\n', '\r']) {
                Some(format!(
                    "parse_at({s:?}) refused on more than one line: {m:?}"
                ))
            } else {
                None
            }
        }
    }
}

/// Fails with every problem found (the first fifty).
fn report(what: &str, tried: usize, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} of {tried} {what} went wrong (seed {}):\n{}",
        problems.len(),
        seed(),
        problems
            .iter()
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn number_parsers_never_panic_keep_their_ranges_and_name_what_they_refuse() {
    let mut rng = StdRng::seed_from_u64(seed());
    let mut values: Vec<String> = NASTY.iter().chain(SLOW).map(|s| s.to_string()).collect();
    values.extend((0..5000).map(|_| random_value(&mut rng)));
    let mut problems = Vec::new();
    for s in &values {
        for p in PARSERS {
            problems.extend(judge_number(p, s));
        }
    }
    report("number values", values.len() * PARSERS.len(), &problems);
}

#[test]
fn the_at_grammar_never_panics_keeps_its_ranges_and_round_trips() {
    let mut rng = StdRng::seed_from_u64(seed());
    let mut texts: Vec<String> = NASTY_AT.iter().map(|s| s.to_string()).collect();
    texts.extend((0..5000).map(|_| random_at(&mut rng)));
    let problems: Vec<String> = texts.iter().filter_map(|s| judge_at(s)).collect();
    let accepted = texts.iter().filter(|s| parse_at(s).is_ok()).count();
    report("--at texts", texts.len(), &problems);
    // The generator must reach the accepting side too, or the round trip proves nothing.
    assert!(
        accepted > 200,
        "only {accepted} of {} --at texts parsed",
        texts.len()
    );
}

/// What is wrong with how one run of the binary ended, if anything.
fn judge_run(case: &Case, ended: Result<bounded::Ended, String>) -> Option<String> {
    let shown = case
        .args
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let ended = match ended {
        Ok(e) => e,
        Err(e) => return Some(format!("joblock {shown}: {e}")),
    };
    let bad = |why: &str| Some(format!("joblock {shown}: {why}\n{}", ended.show()));
    if ended.signal.is_some() {
        return bad("killed by a signal");
    }
    if ended.code == Some(101) || ended.stderr.contains("panicked") {
        return bad("panicked");
    }
    if ended.code != Some(2) {
        return None;
    }
    let err = ended.stderr.trim_end();
    if err.lines().count() != 1 || !err.starts_with("error:") {
        return bad("exit 2 without exactly one error: line");
    }
    // As typed, escaped for the terminal, or quoted the way Rust quotes strings.
    let named = case.named.iter().any(|n| {
        err.contains(n.as_str())
            || err.contains(printable(n).as_ref())
            || err.contains(&format!("{n:?}"))
    });
    if !named {
        return bad(&format!("exit 2 naming none of {:?}", case.named));
    }
    None
}

/// The directory the binary runs in: a recording to replay and draw, a FIFO and
/// a directory among the values, and the default store kept inside.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    std::fs::create_dir(d.join("dir")).expect("mkdir");
    let made = std::process::Command::new("mkfifo")
        .arg(d.join("fifo"))
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo");
    let event =
        r#"{"seq":1,"t":0.0,"type":"queued","job":1,"client":"c","hash":"h","will_crash":false}"#;
    std::fs::write(d.join("rec.jsonl"), format!("{event}\n")).expect("write rec.jsonl");
    dir
}

#[test]
fn the_binary_never_panics_or_hangs_and_refuses_in_one_line_naming_the_input() {
    let cases: usize = std::env::var("PROPS_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let dir = workdir();
    let d: &Path = dir.path();
    let state = d.join("state");
    let store = OsString::from(format!("sqlite://{}/default.db", d.display()));
    let env: [(&str, &OsStr); 3] = [
        ("XDG_STATE_HOME", state.as_os_str()),
        ("HOME", state.as_os_str()),
        ("JOBLOCK_STORE", store.as_os_str()),
    ];
    let mut rng = StdRng::seed_from_u64(seed());
    let mut problems = Vec::new();
    let mut refused = 0;
    for i in 0..cases {
        let spec = &SPECS[i % SPECS.len()];
        let case = mutate(&mut rng, spec, &format!("sqlite://s{i}.db"));
        let ended = bounded::joblock_within(d, &case.args, &env, Duration::from_secs(60));
        refused += usize::from(ended.as_ref().is_ok_and(|e| e.code == Some(2)));
        problems.extend(judge_run(&case, ended));
    }
    report("runs of the binary", cases, &problems);
    eprintln!("{refused} of {cases} vectors refused with exit 2");
    // Most mutations are refusals; some must get through, or the bases are broken.
    assert!(
        refused < cases - cases / 10,
        "{refused} of {cases} vectors were refused: do the bases still parse?"
    );
}
