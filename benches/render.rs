//! `cargo bench --bench render`: how long the dashboard takes to draw one frame at
//! 120x40 with 25, 1,000 and 10,000 jobs in the table, and how fast events fold into
//! its model.
//!
//! The model is built the way the live loop builds it, by folding events through
//! `DashState::apply`: a run start, N queued jobs, most of them waiting with a few
//! attempts each, some finished or crashed, one holder mid-record. Each frame is a full
//! `terminal.draw` (layout, every panel, the buffer diff) into a `TestBackend`. A frame
//! should stay under 5 ms at 10,000 jobs so a 30 fps redraw never backs up the
//! event drain. Below the table, the per-frame pieces that scan every job are timed
//! alone, so a regression points at its cause.
//!
//! Set `JOBLOCK_BENCH_FRAMES` to change the frames per row (default 200).

use std::hint::black_box;
use std::time::{Duration, Instant};

use joblock::events::{Event, How, SeenLock, Stamped};
use joblock::tui::app::{App, SortKey};
use joblock::tui::theme::Theme;
use joblock::tui::view;
use joblock::verify::RECORD;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Bytes per chunk, as in the default scenario.
const CHUNK: usize = 5;

fn frames() -> usize {
    std::env::var("JOBLOCK_BENCH_FRAMES")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(200)
}

/// One benchmarked dashboard.
struct Case {
    jobs: u32,
    clients: u32,
    sort: SortKey,
}

impl Case {
    fn label(&self) -> String {
        let sort = match self.sort {
            SortKey::Number => String::new(),
            k => format!(", by {}", k.title()),
        };
        let clients = if self.clients == 1 {
            String::new()
        } else {
            format!(", {} clients", self.clients)
        };
        format!("{}{clients}{sort}", group(self.jobs as u64))
    }
}

/// Synthetic events of a run with `n` jobs on `clients` clients, stamped in order;
/// returns them with the scenario time they end at.
fn events(n: u32, clients: u32) -> (Vec<Stamped>, f64) {
    let names: Vec<String> = (1..=clients).map(|i| format!("client-{i}")).collect();
    let client = |job: u32| names[((job - 1) % clients) as usize].clone();
    let mut out = Vec::new();
    let mut t = 0.0;
    let mut push = |t: f64, event: Event| {
        let seq = out.len() as u64 + 1;
        out.push(Stamped { seq, t, event });
    };
    push(
        t,
        Event::RunStarted {
            jobs: n,
            clients,
            store: "memory".into(),
            speed: 1.0,
            seed: 1,
            clock: "virtual".into(),
            lease: 3.0,
            wait: "race".into(),
            latency: 1.0,
            floor: 0.2,
            client_names: names.clone(),
            outputs: names.iter().map(|c| format!("output.{c}.txt")).collect(),
        },
    );
    for job in 1..=n {
        push(
            t,
            Event::Queued {
                job,
                client: client(job),
                hash: format!(
                    "{:016x}",
                    u64::from(job).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ),
                will_crash: job % 7 == 0,
            },
        );
    }
    // Everyone asks once; the first job takes the lock.
    for job in 2..=n {
        push(t, attempt(job, client(job), 1, 1, 1));
    }
    // Ended jobs: about one in twenty (at least four), finishing in turn, every
    // seventh crashing instead of writing.
    let ended = (n / 20).max(4).min(n - 1);
    let mut fence = 0;
    let mut committed = 0u64;
    for job in 1..=ended {
        fence += 1;
        let c = client(job);
        let how = if job == 1 { How::Created } else { How::Handoff };
        push(t, acquired(job, c.clone(), fence, how, t, committed));
        if job % 7 == 0 {
            t += 0.5;
            push(
                t,
                Event::Crashed {
                    job,
                    client: c.clone(),
                    reason: "crash draw".into(),
                },
            );
        } else {
            committed = write_record(&mut push, &mut t, job, &c, fence, committed, 6);
            push(
                t,
                Event::Released {
                    job,
                    client: c.clone(),
                    fence,
                    committed,
                },
            );
            push(t, Event::Finished { job, client: c });
        }
        // The waiters see the new holder once (what the log shows of retries).
        for w in (ended + 2..=n).step_by(((n - ended) as usize / 50).max(1)) {
            push(t, attempt(w, client(w), job + 1, job + 1, fence));
        }
    }
    // One holder mid-record.
    let holder = ended + 1;
    fence += 1;
    let c = client(holder);
    push(
        t,
        acquired(holder, c.clone(), fence, How::Handoff, t, committed),
    );
    write_record(&mut push, &mut t, holder, &c, fence, committed, 3);
    push(
        t,
        Event::Heartbeat {
            job: holder,
            client: c,
            fence,
            beat: 3,
        },
    );
    (out, t + 0.5)
}

fn attempt(job: u32, client: String, attempt: u32, holder: u32, fence: u64) -> Event {
    Event::LockAttempt {
        job,
        client,
        attempt,
        seen: SeenLock::Held {
            holder: Some(holder),
            fence,
            heartbeat: 1,
        },
    }
}

fn acquired(job: u32, client: String, fence: u64, how: How, t: f64, committed: u64) -> Event {
    Event::Acquired {
        job,
        client,
        fence,
        attempts: job,
        waited: t,
        how,
        from_job: None,
        from_fence: None,
        committed,
        wseq: fence,
    }
}

/// Writes `chunks` chunks of the record, two seconds apart; returns the new length.
fn write_record(
    push: &mut impl FnMut(f64, Event),
    t: &mut f64,
    job: u32,
    client: &str,
    fence: u64,
    mut offset: u64,
    chunks: u32,
) -> u64 {
    let of = RECORD.len().div_ceil(CHUNK) as u32;
    for (i, text) in RECORD
        .as_bytes()
        .chunks(CHUNK)
        .take(chunks as usize)
        .enumerate()
    {
        *t += 2.0;
        let text = String::from_utf8_lossy(text).into_owned();
        let len = text.len() as u64;
        push(
            *t,
            Event::ChunkWritten {
                job,
                client: client.into(),
                fence,
                chunk: i as u32 + 1,
                of,
                offset,
                text,
                wseq: fence,
            },
        );
        offset += len;
    }
    offset
}

fn fold(events: &[Stamped], sort: SortKey) -> App {
    let mut app = App::new(Theme::colored());
    for ev in events {
        app.state.apply(ev);
    }
    app.after_events();
    app.ui.sort = sort;
    app
}

/// Events folded per second (best of a few passes).
fn fold_rate(events: &[Stamped]) -> f64 {
    let passes = 5;
    let best = (0..passes)
        .map(|_| {
            let t0 = Instant::now();
            black_box(fold(black_box(events), SortKey::Number));
            t0.elapsed()
        })
        .min()
        .unwrap_or(Duration::MAX);
    events.len() as f64 / best.as_secs_f64().max(1e-9)
}

/// Frame times in milliseconds, sorted.
fn frame_times(app: &App, now: f64, frames: usize) -> Result<Vec<f64>, String> {
    let mut terminal =
        Terminal::new(TestBackend::new(120, 40)).map_err(|e| format!("terminal: {e}"))?;
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames + frames / 10 {
        let t0 = Instant::now();
        terminal
            .draw(|f| {
                black_box(view::render(f, app, now));
            })
            .map_err(|e| format!("draw: {e}"))?;
        // The first tenth warms caches and allocations.
        if i >= frames / 10 {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Mean time of `f` in microseconds over `n` calls.
fn micros(n: usize, mut f: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    for _ in 0..n {
        f();
    }
    t0.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// `12345` as `12,345`.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let frames = frames();
    let cases = [
        Case {
            jobs: 25,
            clients: 1,
            sort: SortKey::Number,
        },
        Case {
            jobs: 1_000,
            clients: 1,
            sort: SortKey::Number,
        },
        Case {
            jobs: 10_000,
            clients: 1,
            sort: SortKey::Number,
        },
        Case {
            jobs: 10_000,
            clients: 1,
            sort: SortKey::Wait,
        },
        Case {
            jobs: 10_000,
            clients: 8,
            sort: SortKey::Number,
        },
        Case {
            jobs: 10_000,
            clients: 100,
            sort: SortKey::Number,
        },
        Case {
            jobs: 100_000,
            clients: 100,
            sort: SortKey::Number,
        },
    ];
    println!("dashboard frame at 120x40, {frames} frames per row (release; budget 5 ms)");
    println!(
        "{:<26} {:>9} {:>10} {:>10} {:>10} {:>14}",
        "jobs", "events", "mean ms", "p99 ms", "max ms", "fold ev/s"
    );
    let mut pieces = Vec::new();
    for case in &cases {
        let (evs, now) = events(case.jobs, case.clients);
        let rate = fold_rate(&evs);
        let app = fold(&evs, case.sort);
        let times = match frame_times(&app, now, frames) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: {e}", case.label());
                continue;
            }
        };
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        println!(
            "{:<26} {:>9} {:>10.3} {:>10.3} {:>10.3} {:>14}",
            case.label(),
            group(evs.len() as u64),
            mean,
            percentile(&times, 0.99),
            percentile(&times, 1.0),
            group(rate as u64)
        );
        // What scans every job each frame: the table's row order, and the lock
        // panel's waiter count (once per client).
        let visible = micros(50, || {
            black_box(app.visible_jobs(black_box(now)));
        });
        let waiters = micros(50, || {
            for c in &app.state.clients {
                black_box(app.state.waiters(black_box(&c.name)));
            }
        });
        pieces.push((case.label(), visible, waiters));
    }
    println!();
    println!("per frame, of which (µs)");
    println!(
        "{:<26} {:>14} {:>16}",
        "jobs", "visible_jobs", "waiters (all)"
    );
    for (label, visible, waiters) in pieces {
        println!("{label:<26} {visible:>14.1} {waiters:>16.1}");
    }
    keys_answered(frames);
}

/// A key is answered within one frame: the time from a key press to the frame
/// that shows its effect (the key's handling plus one draw), for the keys that
/// touch every row (move, filter, search, client choice), at 10,000 jobs and 100
/// clients.
fn keys_answered(frames: usize) {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let (evs, now) = events(10_000, 100);
    let mut app = fold(&evs, SortKey::Number);
    let Ok(mut terminal) = Terminal::new(TestBackend::new(120, 40));
    let keys = [
        ("down", KeyCode::Down),
        ("page down", KeyCode::PageDown),
        ("end", KeyCode::End),
        ("next client", KeyCode::Char(']')),
        ("filter", KeyCode::Char('f')),
        ("search 7", KeyCode::Char('7')),
    ];
    println!();
    println!("key to frame at 10,000 jobs, 100 clients (ms; one frame is 33 ms)");
    println!("{:<14} {:>10} {:>10}", "key", "mean", "max");
    for (name, code) in keys {
        let mut times = Vec::with_capacity(frames);
        for _ in 0..frames.min(100) {
            let start = Instant::now();
            if name.starts_with("search") {
                app.ui.search.editing = true;
            }
            let key = KeyEvent::new(code, KeyModifiers::NONE);
            black_box(app.handle_key(key, now));
            if terminal
                .draw(|f| {
                    let drawn = view::render(f, &app, now);
                    black_box(drawn);
                })
                .is_err()
            {
                return;
            }
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            app.ui.search = Default::default();
        }
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        println!("{name:<14} {mean:>10.3} {:>10.3}", percentile(&times, 1.0));
    }
}
