//! `joblock torture`: randomized scenarios with random fault schedules, every run
//! checked, so anyone can attack the lock for as long as they like.
//!
//! Run `i` of a campaign with seed `S` uses seed `S + i` for everything: the
//! scenario's shape, its fault schedule (fault moments are in scenario time) and
//! every draw inside the run. Runs use the virtual clock, so `--seed S+i --runs 1`
//! replays the same schedule.

use std::collections::BTreeMap;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::engine::{self, ClockKind, EngineError, Scenario};
use crate::events::{Command, StoreFault, Summary, Target};
use crate::lock::Broken;

/// What a campaign is asked to do.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Runs to make.
    pub runs: u32,
    /// Seed of the first run; run `i` uses `seed + i`.
    pub seed: u64,
    /// A deliberately broken lock (to prove the campaign catches one).
    pub broken: Option<Broken>,
}

/// One failing run.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Its seed.
    pub seed: u64,
    /// What broke.
    pub problems: Vec<String>,
    /// The command that replays it.
    pub replay: String,
}

/// What a campaign found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Runs completed.
    pub runs: u32,
    /// Jobs run in all.
    pub jobs: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Checks made (per run: the invariants, the strict output check per client,
    /// and "no lock left held").
    pub checks: u64,
    /// The first failing run, if any (the campaign stops there).
    pub failure: Option<Failure>,
}

impl Report {
    /// Violations found (0 or the failing run's count).
    pub fn violations(&self) -> usize {
        self.failure.as_ref().map_or(0, |f| f.problems.len())
    }
}

/// Invariant categories checked per run by the engine.
const INVARIANT_CHECKS: u64 = 5;

/// The scenario of one run, drawn from its seed: the base draw below plus, drawn
/// from a stream of their own (so that every earlier seed still replays its base
/// schedule), the faults that end a run's progress: a store reset (documents lost:
/// the run must halt and lose nothing) and a stop order, each in about one run in
/// eight, at any moment, including right after a takeover.
pub fn scenario_for(seed: u64, output: &Path, broken: Option<Broken>) -> Scenario {
    let mut s = base_scenario_for(seed, output, broken);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_7e5e_7a11_0001);
    let horizon = f64::from(s.jobs.div_ceil(s.clients)) * 12.0 + 10.0;
    if rng.random_bool(0.125) {
        s.schedule.push((
            rng.random_range(0.0..horizon),
            Command::Fault(StoreFault::Reset),
        ));
    }
    if rng.random_bool(0.125) {
        s.schedule
            .push((rng.random_range(0.0..horizon), Command::Stop));
    }
    s
}

/// The scenario as campaigns before store resets drew it (regression seeds replay this).
pub fn base_scenario_for(seed: u64, output: &Path, broken: Option<Broken>) -> Scenario {
    let mut rng = StdRng::seed_from_u64(seed);
    let clients: u32 = rng.random_range(1..=3);
    let jobs: u32 = rng.random_range(clients..=clients * 6);
    let lease = 3.0;
    let per_client = jobs.div_ceil(clients) as f64;
    // Roughly when the last job would end without faults: faults land before that.
    let horizon = per_client * 12.0 + 10.0;
    let faults = rng.random_range(3..=10);
    let schedule = (0..faults)
        .map(|_| {
            (
                rng.random_range(0.0..horizon),
                random_fault(&mut rng, jobs, lease),
            )
        })
        .collect();
    Scenario {
        jobs,
        clients,
        crash_prob: rng.random_range(0.0..0.4),
        seed,
        output: output.to_path_buf(),
        lease,
        db_latency: rng.random_range(0.0..1.0),
        op_latency: if rng.random_bool(0.5) {
            rng.random_range(0.0..0.05)
        } else {
            0.0
        },
        clock: ClockKind::Virtual,
        schedule,
        broken,
        ..Scenario::default()
    }
}

fn random_fault(rng: &mut StdRng, jobs: u32, lease: f64) -> Command {
    let holder = Target::Holder(None);
    match rng.random_range(0..14) {
        0 => Command::Crash(holder),
        1 => Command::Kill(holder),
        // Stalls both shorter and longer than the lease.
        2 => Command::Stall(holder, rng.random_range(0.2..lease * 3.0)),
        3 => Command::Crash(Target::Job(rng.random_range(1..=jobs))),
        4 => Command::Kill(Target::Job(rng.random_range(1..=jobs))),
        5 => Command::Fault(StoreFault::Latency(rng.random_range(0.0..0.2))),
        6 => Command::Fault(StoreFault::Spike {
            max: rng.random_range(0.2..2.0),
            secs: rng.random_range(1.0..8.0),
        }),
        7 => Command::Fault(StoreFault::Jitter(rng.random_range(0.1..0.6))),
        8 => Command::Fault(StoreFault::FailNext(rng.random_range(1..6))),
        9 => Command::Fault(StoreFault::FailProbability(rng.random_range(0.0..0.2))),
        10 => Command::Fault(StoreFault::LoseNext(rng.random_range(1..4))),
        11 => Command::Fault(StoreFault::LoseProbability(rng.random_range(0.0..0.15))),
        12 => Command::Fault(StoreFault::Outage(rng.random_range(0.5..lease * 2.0))),
        _ => Command::Fault(StoreFault::Clear),
    }
}

/// Runs one seeded scenario to its end; returns its summary.
pub fn run_one(seed: u64, dir: &Path, broken: Option<Broken>) -> Result<Summary, EngineError> {
    let output = dir.join(format!("torture-{seed}.txt"));
    let handle = engine::start(scenario_for(seed, &output, broken))?;
    // Nobody needs the events here: the engine checks them itself.
    for _ in handle.events().iter() {}
    let summary = handle.join()?;
    for client in 1..=3 {
        let path = dir.join(format!("torture-{seed}.client-{client}.txt"));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(format!("{}.fence", path.display()));
    }
    let _ = std::fs::remove_file(&output);
    let _ = std::fs::remove_file(format!("{}.fence", output.display()));
    Ok(summary)
}

/// What a summary says is wrong (empty when the run was sound).
pub fn problems(summary: &Summary) -> Vec<String> {
    let mut p = summary.violations.clone();
    for o in summary.outputs.iter().filter(|o| !o.passed) {
        p.push(o.verdict.clone());
    }
    p
}

/// Runs the campaign, calling `progress(done, report)` after every run; stops at
/// the first failing run.
pub fn campaign(
    c: &Campaign,
    dir: &Path,
    mut progress: impl FnMut(u32, &Report),
) -> Result<Report, EngineError> {
    let mut report = Report::default();
    for i in 0..c.runs {
        let seed = c.seed.wrapping_add(u64::from(i));
        let summary = run_one(seed, dir, c.broken)?;
        report.runs += 1;
        report.jobs += u64::from(summary.jobs);
        report.checks += INVARIANT_CHECKS + summary.outputs.len() as u64 + 1;
        for (kind, n) in &summary.faults {
            *report.faults.entry(kind.clone()).or_insert(0) += n;
        }
        let found = problems(&summary);
        progress(report.runs, &report);
        if !found.is_empty() {
            let flag = match c.broken {
                Some(Broken::BlindAcquire) => " --break-lock blind-acquire",
                Some(Broken::UncheckedRelease) => " --break-lock unchecked-release",
                None => "",
            };
            report.failure = Some(Failure {
                seed,
                problems: found,
                replay: format!("joblock torture --seed {seed} --runs 1{flag}"),
            });
            break;
        }
    }
    Ok(report)
}

/// The campaign's table, for people.
pub fn write_report(r: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(out, "runs        {}", r.runs)?;
    writeln!(out, "jobs        {}", r.jobs)?;
    writeln!(out, "checks      {}", r.checks)?;
    writeln!(out, "faults      {}", r.faults.values().sum::<u64>())?;
    for (kind, n) in &r.faults {
        writeln!(out, "  {kind:<18} {n}")?;
    }
    writeln!(out, "violations  {}", r.violations())?;
    if let Some(f) = &r.failure {
        for p in &f.problems {
            writeln!(out, "  {p}")?;
        }
        writeln!(out, "failing seed {}: replay with `{}`", f.seed, f.replay)?;
    }
    Ok(())
}
