//! Snapshots of the dashboard, drawn in a `TestBackend` from hand-built event
//! streams at a fixed `now`: the same state always draws the same screen.
//!
//! Review a changed snapshot by eye: it is the screen a person would see.

mod support;

use joblock::events::{Event, How, JobId, OutputCheck, SeenLock, Stamped, Summary};
use joblock::store::{OpCounts, OpKind};
use joblock::tui::app::App;
use joblock::tui::keys::Action;
use joblock::tui::state::JobState;
use joblock::tui::theme::Theme;
use joblock::tui::view;
use joblock::verify::RECORD;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use support::events::{LEASE, hash, run_started};

/// Lease length of every hand-built run, seconds.
/// Bytes per chunk (the engine's default).
const CHUNK: usize = 5;

// ---------------------------------------------------------------------------
// Event builders. Every job event names its client: jobs are dealt round-robin
// over the run's clients, as the engine does.
// ---------------------------------------------------------------------------

/// The record's chunks, as the worker cuts them.
fn record_chunks() -> Vec<&'static str> {
    RECORD
        .as_bytes()
        .chunks(CHUNK)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect()
}

/// A front end's view of a stream: stamps events in order and folds them.
struct Dash {
    app: App,
    seq: u64,
    clients: u32,
    /// Events held back to be folded in time order (see `in_time_order`).
    held: Option<Vec<(f64, Event)>>,
}

impl Dash {
    fn new(jobs: u32, clients: u32) -> Dash {
        let mut d = Dash {
            app: App::new(Theme::mono()),
            seq: 0,
            clients,
            held: None,
        };
        d.feed(0.0, run_started(jobs, clients));
        d
    }

    fn client(&self, job: JobId) -> String {
        format!("client-{}", (job - 1) % self.clients + 1)
    }

    fn feed(&mut self, t: f64, event: Event) -> &mut Dash {
        if let Some(held) = &mut self.held {
            held.push((t, event));
            return self;
        }
        self.seq += 1;
        self.app.state.apply(&Stamped {
            seq: self.seq,
            t,
            event,
        });
        self.app.after_events();
        self
    }

    /// Builds the events of several jobs one job at a time, then folds them merged
    /// in time order, as the engine would have emitted them.
    fn in_time_order(&mut self, build: impl FnOnce(&mut Dash)) {
        self.held = Some(Vec::new());
        build(self);
        let mut held = self.held.take().unwrap_or_default();
        held.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, event) in held {
            self.feed(t, event);
        }
    }

    fn queued(&mut self, t: f64, job: JobId, will_crash: bool) {
        let client = self.client(job);
        self.feed(
            t,
            Event::Queued {
                job,
                client,
                hash: hash(job),
                will_crash,
            },
        );
    }

    fn attempt(&mut self, t: f64, job: JobId, n: u32, holder: JobId, fence: u64) {
        let client = self.client(job);
        self.feed(
            t,
            Event::LockAttempt {
                job,
                client,
                attempt: n,
                seen: SeenLock::Held {
                    holder: Some(holder),
                    fence,
                    heartbeat: 0,
                },
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn acquired(
        &mut self,
        t: f64,
        job: JobId,
        fence: u64,
        how: How,
        attempts: u32,
        from: Option<JobId>,
        committed: u64,
    ) {
        let client = self.client(job);
        let queued_at = self.app.state.job(job).map_or(0.0, |j| j.queued_at);
        self.feed(
            t,
            Event::Acquired {
                job,
                client,
                fence,
                attempts,
                waited: t - queued_at,
                how,
                from_job: from,
                from_fence: from.map(|_| fence - 1),
                committed,
                wseq: 0,
            },
        );
    }

    /// Writes chunks `from..=to` (1-based) of a record that starts at byte
    /// `committed`, one every 0.2s from `t`; returns the time after the last.
    fn write(&mut self, t: f64, job: JobId, fence: u64, committed: u64, from: u32, to: u32) -> f64 {
        let client = self.client(job);
        let chunks = record_chunks();
        let mut t = t;
        for n in from..=to {
            let before: usize = chunks[..n as usize - 1].iter().map(|c| c.len()).sum();
            self.feed(
                t,
                Event::ChunkWritten {
                    job,
                    client: client.clone(),
                    fence,
                    chunk: n,
                    of: chunks.len() as u32,
                    offset: committed + before as u64,
                    text: chunks[n as usize - 1].to_string(),
                    wseq: 0,
                },
            );
            t += 0.2;
        }
        t
    }

    fn released(&mut self, t: f64, job: JobId, fence: u64, committed: u64) {
        let client = self.client(job);
        self.feed(
            t,
            Event::Released {
                job,
                client,
                fence,
                committed,
            },
        );
    }

    fn finished(&mut self, t: f64, job: JobId) {
        let client = self.client(job);
        self.feed(t, Event::Finished { job, client });
    }

    fn repair(&mut self, t: f64, job: JobId, fence: u64, from_len: u64, to_len: u64, why: &str) {
        let client = self.client(job);
        self.feed(
            t,
            Event::Repair {
                job,
                client,
                fence,
                from_len,
                to_len,
                bytes: from_len - to_len,
                reason: why.into(),
                wseq: 0,
            },
        );
    }

    fn heartbeat(&mut self, t: f64, job: JobId, fence: u64, beat: u64) {
        let client = self.client(job);
        self.feed(
            t,
            Event::Heartbeat {
                job,
                client,
                fence,
                beat,
            },
        );
    }

    fn killed(&mut self, t: f64, job: JobId) {
        let client = self.client(job);
        self.feed(
            t,
            Event::Killed {
                job,
                client,
                held: true,
            },
        );
    }

    /// A whole turn: acquire by handoff, write the record, release, finish.
    fn whole_turn(&mut self, t: f64, job: JobId, fence: u64, committed: u64) -> f64 {
        self.acquired(t, job, fence, How::Handoff, 12, None, committed);
        let t = self.write(t + 0.2, job, fence, committed, 1, 6);
        self.released(t, job, fence, committed + RECORD.len() as u64);
        self.finished(t, job);
        t + 0.1
    }

    fn press(&mut self, action: Action, now: f64) {
        self.app.handle(action, now);
    }
}

// ---------------------------------------------------------------------------
// Scenes.
// ---------------------------------------------------------------------------

/// When the `mid_run` scene is drawn.
const MID_NOW: f64 = 6.2;

/// 25 jobs on one client: 3 finished, job 4 crashed (its torn chunks repaired), job 5
/// holds the lock and has written chunk 3 of 6, the other 20 wait.
fn mid_run() -> Dash {
    let mut d = Dash::new(25, 1);
    for j in 1..=25 {
        d.queued(0.01 * j as f64, j, j == 4);
    }
    d.acquired(0.3, 1, 1, How::Created, 1, None, 0);
    for j in 2..=25 {
        d.attempt(0.3 + 0.001 * j as f64, j, 1, 1, 1);
    }
    let rec = RECORD.len() as u64;
    let t = d.write(0.5, 1, 1, 0, 1, 6);
    d.released(t, 1, 1, rec);
    d.finished(t, 1);
    let t = d.whole_turn(t + 0.1, 2, 2, rec);
    let t = d.whole_turn(t, 3, 3, 2 * rec);
    // Job 4 crashes after two chunks: its 10 bytes are cut, then it releases.
    d.acquired(t, 4, 4, How::Handoff, 44, None, 3 * rec);
    let t = d.write(t + 0.2, 4, 4, 3 * rec, 1, 2);
    d.repair(t, 4, 4, 3 * rec + 10, 3 * rec, "crash");
    d.released(t, 4, 4, 3 * rec);
    let client = d.client(4);
    d.feed(
        t,
        Event::Crashed {
            job: 4,
            client,
            reason: "crash draw: failed while writing".into(),
        },
    );
    // Job 5 holds the lock and is in the middle of its record.
    d.acquired(t + 0.1, 5, 5, How::Handoff, 51, None, 3 * rec);
    d.write(t + 0.3, 5, 5, 3 * rec, 1, 3);
    d.heartbeat(MID_NOW - 0.5, 5, 5, 4);
    for j in 6..=25 {
        d.attempt(MID_NOW - 0.05, j, 55 + j % 5, 5, 5);
    }
    d
}

/// `mid_run`, played to the end: every other job takes its whole turn.
fn ended_run() -> (Dash, f64) {
    let mut d = mid_run();
    let rec = RECORD.len() as u64;
    let mut t = d.write(MID_NOW, 5, 5, 3 * rec, 4, 6);
    d.released(t, 5, 5, 4 * rec);
    d.finished(t, 5);
    t += 0.1;
    for (n, j) in (6..=25).enumerate() {
        t = d.whole_turn(t, j, j as u64, (4 + n as u64) * rec);
    }
    let mut ops = OpCounts::default();
    ops.0.insert(OpKind::InsertOne, 1);
    ops.0.insert(OpKind::FindOne, 1312);
    ops.0.insert(OpKind::UpdateOne, 420);
    let summary = Summary {
        jobs: 25,
        finished: 24,
        crashed: 1,
        handoffs: 24,
        repairs: 1,
        repaired_bytes: 10,
        store_ops: ops,
        mean_wait: 15.25,
        max_wait: 33.8,
        total_time: t,
        serial_time: t - 0.4,
        outputs: vec![OutputCheck {
            client: "client-1".into(),
            path: "output.txt".into(),
            records: 24,
            expected: 24,
            passed: true,
            verdict: "ok: output.txt: 24 whole records (handout and strict rules pass)".into(),
        }],
        ..Summary::default()
    };
    d.feed(
        t,
        Event::RunFinished {
            summary: Box::new(summary),
        },
    );
    (d, t + 0.5)
}

// ---------------------------------------------------------------------------
// Drawing.
// ---------------------------------------------------------------------------

fn draw(app: &App, width: u16, height: u16, now: f64) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| {
            view::render(f, app, now);
        })
        .unwrap();
    terminal
}

/// The screen as lines of text.
fn screen_lines(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buf = terminal.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Snapshots.
// ---------------------------------------------------------------------------

#[test]
fn start() {
    let mut d = Dash::new(25, 1);
    for j in 1..=25 {
        d.queued(0.01 * j as f64, j, false);
    }
    let terminal = draw(&d.app, 120, 40, 0.3);
    insta::assert_snapshot!("start", terminal.backend());
}

#[test]
fn the_header_names_queue_mode_and_only_queue_mode() {
    let header = |wait: &str| {
        let mut d = Dash {
            app: App::new(Theme::mono()),
            seq: 0,
            clients: 1,
            held: None,
        };
        let mut started = run_started(3, 1);
        if let Event::RunStarted { wait: w, .. } = &mut started {
            *w = wait.to_string();
        }
        d.feed(0.0, started);
        screen_lines(&draw(&d.app, 120, 40, 0.1))[0].clone()
    };
    let queue = header("queue");
    assert!(
        queue.contains("1 client · memory · queue mode · "),
        "{queue}"
    );
    let race = header("race");
    assert!(!race.contains("mode"), "{race}");
}

#[test]
fn the_header_warns_of_a_lease_under_the_floor() {
    let header = |speed: f64, width: u16| {
        let mut d = Dash {
            app: App::new(Theme::mono()),
            seq: 0,
            clients: 1,
            held: None,
        };
        let mut started = run_started(3, 1);
        if let Event::RunStarted {
            clock, speed: s, ..
        } = &mut started
        {
            *clock = "real".into();
            *s = speed;
        }
        d.feed(0.0, started);
        for j in 1..=3 {
            d.queued(0.001 * j as f64, j, false);
        }
        screen_lines(&draw(&d.app, width, 24, 0.01))[0].clone()
    };
    insta::assert_snapshot!("header_below_floor_120", header(1000.0, 120));
    // At the minimum width the warning outlasts the job counts.
    insta::assert_snapshot!("header_below_floor_80", header(1000.0, 80));
    assert!(!header(1.0, 120).contains("floor"));
}

#[test]
fn mid_run_120x40() {
    let d = mid_run();
    let terminal = draw(&d.app, 120, 40, MID_NOW);
    insta::assert_snapshot!("mid_run", terminal.backend());
}

#[test]
fn mid_run_at_the_minimum_size() {
    let d = mid_run();
    let terminal = draw(&d.app, 80, 24, MID_NOW);
    insta::assert_snapshot!("mid_run_80x24", terminal.backend());
}

#[test]
fn help() {
    let mut d = mid_run();
    d.press(Action::Help, MID_NOW);
    let terminal = draw(&d.app, 120, 40, MID_NOW);
    insta::assert_snapshot!("help", terminal.backend());
}

#[test]
fn help_at_the_minimum_size() {
    let mut d = mid_run();
    d.press(Action::Help, MID_NOW);
    let terminal = draw(&d.app, 80, 24, MID_NOW);
    insta::assert_snapshot!("help_80x24", terminal.backend());
}

#[test]
fn job_detail() {
    let mut d = mid_run();
    for _ in 0..4 {
        d.press(Action::Down, MID_NOW);
    }
    d.press(Action::Detail, MID_NOW);
    assert_eq!(d.app.ui.overlay, joblock::tui::app::Overlay::Detail(5));
    let terminal = draw(&d.app, 120, 40, MID_NOW);
    insta::assert_snapshot!("job_detail", terminal.backend());
}

#[test]
fn end_summary() {
    let (d, now) = ended_run();
    assert_eq!(d.app.state.count(JobState::Finished), 24);
    let terminal = draw(&d.app, 120, 40, now);
    insta::assert_snapshot!("end_summary", terminal.backend());
}

#[test]
fn too_small() {
    let d = mid_run();
    let terminal = draw(&d.app, 79, 23, MID_NOW);
    let text = screen_lines(&terminal).join("\n");
    assert!(text.contains("terminal too small: need 80x24"), "{text}");
    insta::assert_snapshot!("too_small", terminal.backend());
}

#[test]
fn one_column_short_of_the_minimum_is_too_small() {
    let d = mid_run();
    let narrow = screen_lines(&draw(&d.app, 79, 24, MID_NOW)).join("\n");
    let short = screen_lines(&draw(&d.app, 80, 23, MID_NOW)).join("\n");
    assert!(narrow.contains("terminal too small"), "{narrow}");
    assert!(short.contains("terminal too small"), "{short}");
    let fits = screen_lines(&draw(&d.app, 80, 24, MID_NOW)).join("\n");
    assert!(!fits.contains("terminal too small"), "{fits}");
}

/// Three clients, 12 jobs dealt round-robin: client-1's holder writes, client-2's
/// holder died holding the lock, client-3's holder took over from a dead one.
#[test]
fn multi_client() {
    let mut d = Dash::new(12, 3);
    for j in 1..=12 {
        d.queued(0.01 * j as f64, j, false);
    }
    let rec = RECORD.len() as u64;
    // Each client's first job acquires its lock at once.
    for j in 1..=3 {
        d.acquired(0.2, j, 1, How::Created, 1, None, 0);
    }
    for j in 4..=12 {
        let holder = (j - 1) % 3 + 1;
        d.attempt(0.25, j, 1, holder, 1);
    }
    d.in_time_order(|d| {
        // client-1: job 1 finishes, job 4 writes.
        let t = d.write(0.4, 1, 1, 0, 1, 6);
        d.released(t, 1, 1, rec);
        d.finished(t, 1);
        d.acquired(t + 0.1, 4, 2, How::Handoff, 9, None, rec);
        d.write(t + 0.3, 4, 2, rec, 1, 2);
        d.heartbeat(4.2, 4, 2, 3);
        // client-2: job 2 dies holding the lock after two chunks.
        d.write(0.4, 2, 1, 0, 1, 2);
        d.killed(0.9, 2);
        // client-3: job 3 dies, job 6 takes over and repairs, then writes.
        d.write(0.4, 3, 1, 0, 1, 1);
        d.killed(0.5, 3);
        let client = d.client(6);
        d.feed(
            3.5,
            Event::LeaseExpired {
                job: 6,
                client,
                holder: Some(3),
                fence: 1,
                unchanged_for: LEASE,
            },
        );
        d.acquired(3.5, 6, 2, How::Takeover, 31, Some(3), 0);
        d.repair(3.5, 6, 2, 5, 0, "takeover from a dead holder");
        d.write(3.7, 6, 2, 0, 1, 4);
        d.heartbeat(4.4, 6, 2, 1);
    });
    for j in [5, 7, 8, 9, 10, 11, 12] {
        let holder = [4, 2, 6][(j as usize - 1) % 3];
        d.attempt(4.4, j, 40 + j, holder, 2);
    }
    let terminal = draw(&d.app, 120, 40, 4.5);
    insta::assert_snapshot!("multi_client", terminal.backend());
}

/// A holder killed while writing: the lock panel shows it DEAD while its lease drains.
#[test]
fn dead_holder_while_paused() {
    let mut d = Dash::new(5, 1);
    for j in 1..=5 {
        d.queued(0.01 * j as f64, j, false);
    }
    d.acquired(0.1, 1, 1, How::Created, 1, None, 0);
    for j in 2..=5 {
        d.attempt(0.12, j, 1, 1, 1);
    }
    d.write(0.3, 1, 1, 0, 1, 2);
    d.killed(0.7, 1);
    d.feed(2.0, Event::Paused);
    let terminal = draw(&d.app, 120, 40, 2.0);
    insta::assert_snapshot!("dead_holder_while_paused", terminal.backend());
}

/// A stalled holder outlives its lease: a waiter takes over, the stalled job's late
/// write is rejected by the fence and it ends fenced. Two warnings.
#[test]
fn stalled_holder_fenced_after_takeover() {
    let mut d = Dash::new(3, 1);
    for j in 1..=3 {
        d.queued(0.01 * j as f64, j, false);
    }
    d.acquired(0.1, 1, 1, How::Created, 1, None, 0);
    d.attempt(0.12, 2, 1, 1, 1);
    d.attempt(0.12, 3, 1, 1, 1);
    d.write(0.3, 1, 1, 0, 1, 2);
    d.feed(
        0.6,
        Event::Stalled {
            job: 1,
            client: "client-1".into(),
            secs: 2.0 * LEASE,
        },
    );
    d.feed(
        3.6,
        Event::LeaseExpired {
            job: 2,
            client: "client-1".into(),
            holder: Some(1),
            fence: 1,
            unchanged_for: LEASE,
        },
    );
    d.acquired(3.6, 2, 2, How::Takeover, 35, Some(1), 0);
    d.repair(3.6, 2, 2, 10, 0, "takeover from a dead holder");
    d.write(3.8, 2, 2, 0, 1, 3);
    d.heartbeat(6.5, 2, 2, 3);
    d.feed(
        6.6,
        Event::WriteRejected {
            job: 1,
            client: "client-1".into(),
            fence: 1,
            highest: 2,
        },
    );
    d.feed(
        6.6,
        Event::Fenced {
            job: 1,
            client: "client-1".into(),
            reason: "lock taken over (renewal matched nothing)".into(),
        },
    );
    let terminal = draw(&d.app, 120, 40, 6.8);
    // The stall was injected: the expiry and the fenced write it causes are the
    // lock doing its job, not warnings.
    assert_eq!(d.app.state.warnings.len(), 0);
    insta::assert_snapshot!("stalled_holder_fenced", terminal.backend());
}

// ---------------------------------------------------------------------------
// NO_COLOR.
// ---------------------------------------------------------------------------

fn colored_cells(terminal: &Terminal<TestBackend>) -> Vec<(u16, u16, Color, Color)> {
    let buf = terminal.backend().buffer();
    let mut out = Vec::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            if c.fg != Color::Reset || c.bg != Color::Reset {
                out.push((x, y, c.fg, c.bg));
            }
        }
    }
    out
}

#[test]
fn the_mono_theme_draws_no_colour_at_all_and_the_coloured_one_does() {
    let mut d = mid_run();
    d.app.theme = Theme::mono();
    let mono = draw(&d.app, 120, 40, MID_NOW);
    let stray = colored_cells(&mono);
    assert!(
        stray.is_empty(),
        "coloured cells under the mono theme (x, y, fg, bg): {:?}",
        &stray[..stray.len().min(10)]
    );

    d.app.theme = Theme::colored();
    let colored = draw(&d.app, 120, 40, MID_NOW);
    assert!(!colored_cells(&colored).is_empty());
}

#[test]
fn overlays_under_the_mono_theme_draw_no_colour_either() {
    let mut d = mid_run();
    d.press(Action::Help, MID_NOW);
    assert!(colored_cells(&draw(&d.app, 120, 40, MID_NOW)).is_empty());
    d.press(Action::Close, MID_NOW);
    d.press(Action::Detail, MID_NOW);
    assert!(colored_cells(&draw(&d.app, 120, 40, MID_NOW)).is_empty());
    let (d, now) = ended_run();
    assert!(colored_cells(&draw(&d.app, 120, 40, now)).is_empty());
}

#[test]
fn every_job_rows_state_is_readable_without_colour() {
    let d = mid_run();
    for (w, h) in [(120, 40), (80, 24)] {
        let terminal = draw(&d.app, w, h, MID_NOW);
        let lines = screen_lines(&terminal);
        let text = lines.join("\n");
        for s in [
            JobState::Running,
            JobState::Waiting,
            JobState::Finished,
            JobState::Crashed,
        ] {
            let shown = format!("{} {}", s.symbol(), s.word());
            assert!(text.contains(&shown), "{w}x{h}: no {shown:?} in\n{text}");
        }
        // Each table row that is drawn names its job's state in words.
        let mut rows_seen = 0;
        for job in &d.app.state.jobs {
            let row = lines.iter().find(|l| {
                l.trim_start_matches('│').split_whitespace().next() == Some(&job.id.to_string())
            });
            if let Some(row) = row {
                rows_seen += 1;
                let shown = format!("{} {}", job.state.symbol(), job.state.word());
                assert!(row.contains(&shown), "{w}x{h}: job {}: {row}", job.id);
            }
        }
        assert!(rows_seen >= 5, "{w}x{h}: only {rows_seen} job rows found");
    }
}

#[test]
fn store_text_with_escape_sequences_is_drawn_escaped() {
    let mut d = mid_run();
    let client = d.client(6);
    let nasty = "\u{1b}]2;pwned\u{7}\u{1b}[2J\u{202e}";
    d.feed(
        MID_NOW - 0.01,
        Event::Crashed {
            job: 6,
            client,
            reason: format!("lock error: {nasty}"),
        },
    );
    for _ in 0..5 {
        d.press(Action::Down, MID_NOW);
    }
    for detail in [false, true] {
        if detail {
            d.press(Action::Detail, MID_NOW);
        }
        let terminal = draw(&d.app, 120, 40, MID_NOW);
        let cells = terminal.backend().buffer().content();
        assert!(
            cells.iter().all(|c| !c
                .symbol()
                .chars()
                .any(|ch| ch.is_control() || ('\u{202a}'..='\u{202e}').contains(&ch))),
            "a control character reached the screen:\n{}",
            screen_lines(&terminal).join("\n")
        );
        assert!(
            screen_lines(&terminal).join("\n").contains("\\e]2;pwned"),
            "the escaped text is not shown:\n{}",
            screen_lines(&terminal).join("\n")
        );
    }
}
