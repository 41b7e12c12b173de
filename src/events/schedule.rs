//! The `--at` grammar: `SECS:ACTION[=VALUE]`, a command at a scenario time, e.g.
//! `40.5:kill`, `30:outage=5`, `10:lose=2`. Scripts, the CLI and recordings share it.

use super::command::{Command, StoreFault, Target};

/// Parses `SECS:ACTION[=VALUE]`, one `--at`: a command at a scenario time.
pub fn parse_at(s: &str) -> Result<(f64, Command), String> {
    let (t, action) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not SECS:ACTION (e.g. 40.5:kill)"))?;
    let t = seconds_or_zero(t).map_err(|e| format!("{s:?}: the time {e}"))?;
    let (name, value) = match action.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (action, None),
    };
    // An action without a value refuses one, rather than ignoring it.
    let bare = [
        "crash", "kill", "stop", "add", "pause", "resume", "clear", "reset",
    ];
    if bare.contains(&name) && value.is_some() {
        return Err(format!("{s:?}: {name} takes no value"));
    }
    let secs = |v: &str| seconds_or_zero(v).map_err(|e| format!("{s:?}: {name} {e}"));
    let prob = |v: &str| probability(v).map_err(|e| format!("{s:?}: {name} {e}"));
    let need = |what: &str| value.ok_or_else(|| format!("{s:?}: {name} needs ={what}"));
    let count = |what: &str| -> Result<u64, String> {
        need(what)?
            .parse()
            .map_err(|_| format!("{s:?}: {name} needs a whole number"))
    };
    let cmd = match name {
        "crash" => Command::Crash(Target::Holder(None)),
        "kill" => Command::Kill(Target::Holder(None)),
        "stall" => Command::Stall(
            Target::Holder(None),
            value
                .map(|v| seconds(v).map_err(|e| format!("{s:?}: stall {e}")))
                .transpose()?
                .unwrap_or(6.0),
        ),
        "stop" => Command::Stop,
        "add" => Command::AddJob(None),
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "speed" => Command::SetSpeed(speed(need("X")?).map_err(|e| format!("{s:?}: speed {e}"))?),
        "latency" => Command::Fault(StoreFault::Latency(secs(need("SECS")?)?)),
        "spike" => {
            let v = need("MAX,SECS")?;
            let (max, duration) = v
                .split_once(',')
                .ok_or_else(|| format!("{s:?}: spike needs =MAX,SECS"))?;
            Command::Fault(StoreFault::Spike {
                max: secs(max)?,
                secs: secs(duration)?,
            })
        }
        "jitter" => Command::Fault(StoreFault::Jitter(prob(need("P")?)?)),
        "fail" => Command::Fault(StoreFault::FailNext(count("N")?)),
        "fail-prob" => Command::Fault(StoreFault::FailProbability(prob(need("P")?)?)),
        "lose" => Command::Fault(StoreFault::LoseNext(count("N")?)),
        "lose-prob" => Command::Fault(StoreFault::LoseProbability(prob(need("P")?)?)),
        "outage" => Command::Fault(StoreFault::Outage(secs(need("SECS")?)?)),
        "clear" => Command::Fault(StoreFault::Clear),
        "reset" => Command::Fault(StoreFault::Reset),
        other => {
            return Err(format!(
                "{other:?} is not an action: use crash, kill, stall[=SECS], stop, add, pause, resume, speed=X, latency=SECS, spike=MAX,SECS, jitter=P, fail=N, fail-prob=P, lose=N, lose-prob=P, outage=SECS, reset, clear"
            ));
        }
    };
    Ok((t, cmd))
}

/// `SECS:ACTION[=VALUE]` for a command at scenario time `t`: what [`parse_at`]
/// reads back as the same command (a recording's schedule can be run again). A
/// command the grammar cannot say (a job by number, a named client) reads
/// `SECS:` and its description.
pub fn format_at(t: f64, cmd: &Command) -> String {
    let action = match cmd {
        Command::Crash(Target::Holder(None)) => "crash".to_string(),
        Command::Kill(Target::Holder(None)) => "kill".to_string(),
        Command::Stall(Target::Holder(None), s) => format!("stall={s}"),
        Command::Stop => "stop".to_string(),
        Command::AddJob(None) => "add".to_string(),
        Command::Pause => "pause".to_string(),
        Command::Resume => "resume".to_string(),
        Command::SetSpeed(x) => format!("speed={x}"),
        Command::Fault(fault) => match fault {
            StoreFault::Latency(s) => format!("latency={s}"),
            StoreFault::Spike { max, secs } => format!("spike={max},{secs}"),
            StoreFault::Jitter(p) => format!("jitter={p}"),
            StoreFault::FailNext(n) => format!("fail={n}"),
            StoreFault::FailProbability(p) => format!("fail-prob={p}"),
            StoreFault::LoseNext(n) => format!("lose={n}"),
            StoreFault::LoseProbability(p) => format!("lose-prob={p}"),
            StoreFault::Outage(s) => format!("outage={s}"),
            StoreFault::Clear => "clear".to_string(),
            StoreFault::Reset => "reset".to_string(),
        },
        other => other.to_string(),
    };
    format!("{t}:{action}")
}

/// Shortest duration a scenario flag takes, in seconds (a millisecond: below it a
/// lease or a retry is nothing a clock can keep).
pub const MIN_SECS: f64 = 0.001;
/// Longest duration a scenario flag takes, in seconds (about 11.6 days): longer
/// would only overflow the clocks' arithmetic.
pub const MAX_SECS: f64 = 1e6;
/// Slowest scenario speed.
pub const MIN_SPEED: f64 = 0.001;
/// Fastest scenario speed.
pub const MAX_SPEED: f64 = 1e6;

/// A duration flag above 0: from [`MIN_SECS`] to [`MAX_SECS`].
pub fn seconds(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !(MIN_SECS..=MAX_SECS).contains(&v) {
        return Err(format!(
            "must be between {MIN_SECS} and {MAX_SECS} seconds, got {s}"
        ));
    }
    Ok(v)
}

/// A duration flag that may be 0: up to [`MAX_SECS`].
pub fn seconds_or_zero(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !(0.0..=MAX_SECS).contains(&v) {
        return Err(format!("must be between 0 and {MAX_SECS} seconds, got {s}"));
    }
    Ok(v)
}

/// A scenario speed: from [`MIN_SPEED`] to [`MAX_SPEED`].
pub fn speed(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !(MIN_SPEED..=MAX_SPEED).contains(&v) {
        return Err(format!(
            "must be between {MIN_SPEED} and {MAX_SPEED}, got {s}"
        ));
    }
    Ok(v)
}

/// A finite number (the grammar's number rules; the CLI's flags use them too).
pub fn number(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{s:?} is not a finite number"));
    }
    Ok(v)
}

/// A finite number above 0.
pub fn positive(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v <= 0.0 {
        return Err(format!("must be greater than 0, got {s}"));
    }
    Ok(v)
}

/// A finite number of at least 0.
pub fn non_negative(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v < 0.0 {
        return Err(format!("must not be negative, got {s}"));
    }
    Ok(v)
}

/// A probability in [0, 1].
pub fn probability(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("must be between 0 and 1, got {s}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_with_their_values() {
        assert_eq!(
            parse_at("40.5:kill"),
            Ok((40.5, Command::Kill(Target::Holder(None))))
        );
        assert_eq!(
            parse_at("30:outage=5"),
            Ok((30.0, Command::Fault(StoreFault::Outage(5.0))))
        );
        assert_eq!(
            parse_at("1:spike=0.5,2"),
            Ok((
                1.0,
                Command::Fault(StoreFault::Spike {
                    max: 0.5,
                    secs: 2.0
                })
            ))
        );
        assert_eq!(
            parse_at("0:stall"),
            Ok((0.0, Command::Stall(Target::Holder(None), 6.0)))
        );
    }

    #[test]
    fn every_action_formats_back_to_what_parses_as_it() {
        for text in [
            "40.5:kill",
            "0:crash",
            "1:stall=6",
            "2:stop",
            "3:add",
            "4:pause",
            "5:resume",
            "6:speed=2.5",
            "7:latency=0.5",
            "8:spike=0.5,2",
            "9:jitter=0.1",
            "10:fail=3",
            "11:fail-prob=0.2",
            "12:lose=2",
            "13:lose-prob=0.3",
            "14:outage=5",
            "15:clear",
            "16:reset",
        ] {
            let (t, cmd) = parse_at(text).unwrap();
            assert_eq!(format_at(t, &cmd), text);
        }
        assert_eq!(
            format_at(1.0, &Command::Kill(Target::Job(4))),
            "1:kill job 4"
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert!(parse_at("kill").unwrap_err().contains("\"kill\""));
        assert!(parse_at("1e300x:kill").unwrap_err().contains("1e300x"));
        assert!(parse_at("inf:kill").unwrap_err().contains("inf"));
        assert!(parse_at("-1:kill").unwrap_err().contains("-1"));
        assert!(parse_at("1:fail=x").unwrap_err().contains("whole number"));
        assert!(
            parse_at("1:jitter=2")
                .unwrap_err()
                .contains("between 0 and 1")
        );
        assert!(parse_at("1:explode").unwrap_err().contains("\"explode\""));
        // A probability out of range names the whole --at, as every other value does.
        assert!(
            parse_at("1:fail-prob=2")
                .unwrap_err()
                .starts_with("\"1:fail-prob=2\": fail-prob must be between 0 and 1")
        );
    }
}
