//! The dashboard's real main loop ([`Dashboard::step`]) driven in a `TestBackend`:
//! keys go in on the input channel exactly as the input thread would send them, and
//! the tests read the model (`app()`) and the drawn screen.
//!
//! Nothing here sleeps: every `step` blocks on the engine's events, the input or the
//! frame ticker (at most one frame, 33 ms), so stepping advances by itself. Waits are
//! bounded by a number of steps, never by wall time.
//!
//! Runs that must be caught mid-run use the real clock at speed 100: a virtual run
//! ends in a fraction of a second of CPU, before a key could land where it is meant
//! to. Where a key must hit one precise moment (the kill), the run is paused first:
//! a paused clock freezes every job, so what the model shows is what the key hits.

use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;
use joblock::engine::{ClockKind, Scenario};
use joblock::events::Summary;
use joblock::screen::Input;
use joblock::tui::app::Overlay;
use joblock::tui::state::{JobRow, JobState, MarkKind};
use joblock::tui::theme::Theme;
use joblock::tui::{Dashboard, Flow};
use joblock::verify;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tempfile::TempDir;

/// Steps allowed for any one wait. While a run is live a step lasts at most a frame
/// (33 ms) and the waits below take a few hundred. But once a run has ended, the
/// loop currently spins (the engine's disconnected event channel is always ready),
/// so a step can take a microsecond: the cap must cover a frame of spinning before
/// the next redraw is due.
const STEP_CAP: usize = 1_000_000;
/// Steps a condition may still take to hold once the run has ended (a step then
/// waits for the next frame tick, so this is under two minutes, not hours).
const AFTER_END_CAP: usize = 3_000;

/// A real-clock run at speed 100: a chunk pause is 20 ms, the lease 0.4 s of wall
/// time (above the lease floor, so no warning takes the header's room), so a
/// loaded machine cannot make a lease expire spuriously.
fn real_run(dir: &Path, jobs: u32, seed: u64) -> Scenario {
    Scenario {
        jobs,
        crash_prob: 0.0,
        speed: 100.0,
        lease: 40.0,
        db_latency: 0.1,
        seed,
        output: dir.join("output.txt"),
        clock: ClockKind::Real,
        ..Scenario::default()
    }
}

/// The real loop on a 120x40 test terminal, with a sender standing in for the keyboard.
struct Harness {
    dashboard: Dashboard,
    terminal: Terminal<TestBackend>,
    keys: Sender<Input>,
    output: PathBuf,
    steps: usize,
    _dir: TempDir,
}

impl Harness {
    fn start(dir: TempDir, scenario: Scenario) -> Harness {
        let output = scenario.output.clone();
        let (keys, input) = crossbeam_channel::unbounded::<Input>();
        let dashboard = Dashboard::start(scenario, input, Theme::mono()).expect("start the run");
        let terminal = Terminal::new(TestBackend::new(120, 40)).expect("a test terminal");
        Harness {
            dashboard,
            terminal,
            keys,
            output,
            steps: 0,
            _dir: dir,
        }
    }

    fn real(jobs: u32, seed: u64) -> Harness {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let scenario = real_run(dir.path(), jobs, seed);
        Harness::start(dir, scenario)
    }

    /// Sends a key press as the input thread would (an uppercase letter carries SHIFT).
    fn press(&self, code: KeyCode) {
        let modifiers = match code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
            _ => KeyModifiers::NONE,
        };
        self.keys
            .send(Input::Key(KeyEvent::new(code, modifiers)))
            .expect("the dashboard holds the input receiver");
    }

    fn step(&mut self) -> Flow {
        self.steps += 1;
        self.dashboard
            .step(&mut self.terminal)
            .expect("a step of the loop")
    }

    /// The screen as drawn last, one string per row (a wide symbol is followed by
    /// the blank cell it covers; the checks below only look for plain substrings).
    fn rows(&self) -> Vec<String> {
        let buffer = self.terminal.backend().buffer();
        buffer
            .content
            .chunks(buffer.area.width as usize)
            .map(|cells| cells.iter().map(|c| c.symbol()).collect())
            .collect()
    }

    fn screen(&self) -> String {
        self.rows().join("\n")
    }

    /// What a failed wait prints: the model's gist and the last screen.
    fn report(&self) -> String {
        let st = &self.dashboard.app().state;
        let jobs: Vec<String> = st
            .jobs
            .iter()
            .map(|j| format!("{}:{}({}/{})", j.id, j.state.word(), j.chunks, j.of))
            .collect();
        format!(
            "after {} steps, now={:.2}, paused={}, done={}, seed={}, jobs=[{}]\nscreen:\n{}",
            self.steps,
            self.dashboard.now(),
            st.paused,
            st.summary.is_some(),
            st.info.seed,
            jobs.join(" "),
            self.screen()
        )
    }

    /// Steps until `done` holds; fails (with the screen) after [`STEP_CAP`] steps or
    /// if the dashboard exits first.
    fn until(&mut self, what: &str, done: impl Fn(&Harness) -> bool) {
        // Once the run is over nothing more will happen by itself: a condition
        // still false after a few thousand more steps never will be (fail now,
        // rather than after STEP_CAP steps).
        let mut after_end = 0;
        for _ in 0..STEP_CAP {
            if done(self) {
                return;
            }
            if self.dashboard.app().state.summary.is_some() {
                after_end += 1;
                if after_end > AFTER_END_CAP {
                    panic!("the run ended without {what}\n{}", self.report());
                }
            }
            if let Flow::Exit(_) = self.step() {
                panic!(
                    "the dashboard exited while waiting for {what}\n{}",
                    self.report()
                );
            }
        }
        panic!("gave up waiting for {what}\n{}", self.report());
    }

    /// Steps until the loop says to leave; returns the run's summary.
    fn exit(&mut self) -> Summary {
        for _ in 0..STEP_CAP {
            if let Flow::Exit(summary) = self.step() {
                let report = self.report();
                return *summary.unwrap_or_else(|| panic!("exited without a summary\n{report}"));
            }
        }
        panic!("the dashboard did not exit\n{}", self.report());
    }

    /// Presses `q` and checks the run left a strictly valid output.
    fn quit_and_verify(&mut self) -> Summary {
        self.press(KeyCode::Char('q'));
        let summary = self.exit();
        assert!(summary.passed(), "{summary:#?}");
        assert_strictly_valid(&self.output, &summary);
        summary
    }

    fn jobs(&self) -> &[JobRow] {
        &self.dashboard.app().state.jobs
    }

    fn is_paused(&self) -> bool {
        self.dashboard.app().state.paused
    }
}

/// The output holds exactly `finished` whole records (handout and strict rules).
fn assert_strictly_valid(path: &Path, summary: &Summary) {
    let v = verify::check_file(path, Some(summary.finished as usize)).expect("read the output");
    assert!(v.passed(), "{}", v.line(path));
}

/// A job holding the lock that has written some of its record but not all of it.
fn mid_write(h: &Harness, most: u32) -> Option<u32> {
    h.jobs()
        .iter()
        .find(|j| j.state == JobState::Running && (1..=most).contains(&j.chunks))
        .map(|j| j.id)
}

#[test]
fn pressing_k_while_a_job_writes_leads_to_a_takeover_and_a_repair() {
    let mut h = Harness::real(4, 7);
    // Freeze the run with a job mid-record, so the kill hits that job and not the
    // next holder: at most one more chunk can land after the pause (an append takes
    // no scenario time), and the chunk pause after it cannot elapse while paused.
    let victim = loop {
        h.until("a job writing its record", |h| mid_write(h, 4).is_some());
        h.press(KeyCode::Char(' '));
        h.until("the run to pause", Harness::is_paused);
        if let Some(job) = mid_write(&h, 4) {
            break job;
        }
        h.press(KeyCode::Char(' '));
        h.until("the run to resume", |h| !h.is_paused());
    };
    h.press(KeyCode::Char('9'));
    h.press(KeyCode::Char(' '));
    h.until("the kill, a takeover and a repair, on screen", |h| {
        let st = &h.dashboard.app().state;
        let Some(client) = st.clients.first() else {
            return false;
        };
        let killed = st.job(victim).is_some_and(|j| j.state == JobState::Killed);
        let repaired = client.output.last_repair.is_some()
            && client.marks.iter().any(|m| m.kind == MarkKind::Repair);
        if !(killed && client.takeovers == 1 && repaired) {
            return false;
        }
        let rows = h.rows();
        let strip = rows
            .iter()
            .position(|r| r.contains(" timeline "))
            .and_then(|i| rows.get(i + 1));
        let marked = strip.is_some_and(|r| r.contains('K') && r.contains('T'));
        let screen = rows.join("\n");
        marked && screen.contains("killed") && screen.contains("takeovers 1")
    });
    let summary = h.quit_and_verify();
    assert_eq!((summary.killed, summary.takeovers), (1, 1), "{summary:#?}");
    assert!(summary.repairs >= 1, "{summary:#?}");
}

#[test]
fn space_pauses_and_resumes_and_the_header_says_paused() {
    let mut h = Harness::real(6, 11);
    h.until("a job writing its record", |h| mid_write(h, 6).is_some());
    h.press(KeyCode::Char(' '));
    h.until("PAUSED in the header", |h| {
        h.is_paused() && h.rows()[0].contains("PAUSED")
    });
    let frozen = h.dashboard.now();
    let chunks: Vec<u32> = h.jobs().iter().map(|j| j.chunks).collect();
    // Several frames' worth of steps: scenario time and the jobs stand still.
    for _ in 0..10 {
        assert!(matches!(h.step(), Flow::Continue));
    }
    assert_eq!(
        h.dashboard.now(),
        frozen,
        "scenario time moved while paused"
    );
    let still: Vec<u32> = h.jobs().iter().map(|j| j.chunks).collect();
    assert_eq!(still, chunks, "a job wrote while paused");
    assert!(h.screen().contains("PAUSED"));

    h.press(KeyCode::Char(' '));
    h.until("the run to resume and the header to drop PAUSED", |h| {
        !h.is_paused() && !h.rows()[0].contains("PAUSED")
    });
    h.until("scenario time to move again", |h| {
        h.dashboard.now() > frozen
    });
    h.quit_and_verify();
}

#[test]
fn quitting_mid_run_leaves_a_strictly_valid_output() {
    let mut h = Harness::real(3, 5);
    h.until("a job writing its record", |h| mid_write(h, 5).is_some());
    h.quit_and_verify();
}

#[test]
fn r_restarts_with_a_new_seed() {
    let mut h = Harness::real(3, 42);
    h.until("a job writing its record", |h| mid_write(h, 6).is_some());
    assert_eq!(h.dashboard.app().state.info.seed, 42);
    h.press(KeyCode::Char('r'));
    h.until("a new run with a new seed and its jobs queued", |h| {
        let st = &h.dashboard.app().state;
        st.info.seed != 42 && st.jobs.len() == 3 && st.summary.is_none()
    });
    h.until("the new seed in the header", |h| {
        let seed = h.dashboard.app().state.info.seed;
        h.rows()[0].contains(&format!("seed {seed}"))
    });
    h.quit_and_verify();
}

#[test]
fn question_mark_opens_help_and_esc_closes_it() {
    // Enough jobs that the run is still going when the keys land (about 6 s of wall
    // time at speed 20): once it ends, the summary overlay would take the screen.
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let scenario = Scenario {
        speed: 20.0,
        ..real_run(dir.path(), 10, 3)
    };
    let mut h = Harness::start(dir, scenario);
    h.until("the header", |h| h.rows()[0].contains("joblock"));
    assert!(!h.screen().contains("closes this help"));

    h.press(KeyCode::Char('?'));
    h.until("the help overlay", |h| {
        let screen = h.screen();
        screen.contains(" help ")
            && screen.contains("closes this help")
            && screen.contains("the chosen client's holder")
    });
    assert_eq!(h.dashboard.app().ui.overlay, Overlay::Help);

    h.press(KeyCode::Esc);
    h.until("the help overlay to close", |h| {
        h.dashboard.app().ui.overlay == Overlay::None && !h.screen().contains("closes this help")
    });
    h.quit_and_verify();
}

#[test]
fn a_sigterm_takes_the_same_clean_path_as_q() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let scenario = real_run(dir.path(), 3, 9);
    let output = scenario.output.clone();
    let (_keys, input) = crossbeam_channel::unbounded::<Input>();
    let (signal, signals) = crossbeam_channel::unbounded::<i32>();
    let dashboard = Dashboard::start(scenario, input, Theme::mono())
        .expect("start the run")
        .with_signals(signals);
    let mut h = Harness {
        dashboard,
        terminal: Terminal::new(TestBackend::new(120, 40)).expect("a test terminal"),
        keys: crossbeam_channel::unbounded().0,
        output,
        steps: 0,
        _dir: dir,
    };
    h.until("a job writing its record", |h| mid_write(h, 5).is_some());
    signal.send(15).expect("the dashboard listens");
    let summary = h.exit();
    assert!(summary.passed(), "{summary:#?}");
    assert_strictly_valid(&h.output, &summary);
}

#[test]
fn the_end_screen_stands_still() {
    let mut h = Harness::real(2, 3);
    h.until("the run to end", |h| {
        h.dashboard.app().state.summary.is_some()
    });
    let ended = h.dashboard.now();
    assert_eq!(Some(ended), h.dashboard.app().state.ended_at());
    h.until("the end drawn", |h| h.rows()[0].contains("DONE"));
    let header = h.rows()[0].clone();
    for _ in 0..5 {
        h.step();
    }
    assert_eq!(
        h.dashboard.now(),
        ended,
        "scenario time stopped with the run"
    );
    assert_eq!(h.rows()[0], header);
}
