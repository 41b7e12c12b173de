//! Property test (issue 13, part 1): whatever events and keys arrive, the dashboard's
//! model and view never panic and never draw nonsense.
//!
//! Each case takes an event stream, either real (the engine on a virtual clock with a
//! random scenario and `--at` schedule) or that stream corrupted (events dropped,
//! duplicated, swapped, moved to unknown jobs and clients, odd and backward times, odd
//! numbers and text, random events inserted), and interleaves folding it with key
//! actions, raw key presses and frames drawn in a `TestBackend` of random size at a
//! random `now`, exactly as `Dashboard` does (page and offset fed back after a frame,
//! `Send` ignored, `Restart` a fresh `App`, `Quit` carried on past). After every step
//! the model must be consistent, and after every frame the screen sane (see
//! `check_screen`). Every step runs under `catch_unwind`.
//!
//! Run: `cargo test --test tui_props` (a fresh seed each run, printed on failure).
//! - `JOBLOCK_PROPS_SEED=S` starts at seed S; `JOBLOCK_PROPS_CASES=N` runs N cases
//!   (default [`DEFAULT_CASES`]). Cases come in blocks of [`CASES_PER_STREAM`] over one
//!   engine run: stream `i` uses seed `S + i`, so `SEED=S+i CASES=k+1` replays case
//!   `k` of that stream as the last case. The engine's virtual runs are not
//!   byte-for-byte reproducible (events of one instant from different threads come
//!   in either order, and what a fault hits can differ), so a seed replays the same
//!   scenario and the same kind of case, not always the same steps: the shrunk steps
//!   printed with a failure are the exact reproduction.
//! - `JOBLOCK_PROPS_SHRINK_SECS` (default 4) bounds the search for a minimal case per
//!   distinct failure; `JOBLOCK_PROPS_VERBOSE=1` prints progress.
//!
//! A failure lists every distinct problem (by panic site or check) with how often it
//! was seen, the case that first showed it, and a shrunk list of steps that still
//! shows it (also written under the target directory's `tmp/`).
//!
//! `the_smallest_cases_found_so_far_neither_panic_nor_draw_nonsense` replays each
//! problem found so far as its smallest hand-written case, with no engine and no
//! randomness; each passes once its problem is fixed.

#[path = "support/props/mod.rs"]
mod props;

use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use joblock::events::{Event, Stamped};
use joblock::screen::Input;
use joblock::tui::app::{App, Effect, Overlay};
use joblock::tui::keys::Action;
use joblock::tui::state::JobState;
use joblock::tui::theme::Theme;
use joblock::tui::view::{self, Drawn, MIN_HEIGHT, MIN_WIDTH};
use props::ops::{self, Op};
use props::streams;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

/// Cases per run by default: about 30 s of a debug build on a 2-core machine.
const DEFAULT_CASES: usize = 160;
/// Cases drawn over one engine run (half of them on a corrupted copy).
const CASES_PER_STREAM: usize = 20;

// ---------------------------------------------------------------------------
// Catching panics with where they happened.
// ---------------------------------------------------------------------------

/// A caught panic.
#[derive(Debug, Clone)]
struct Caught {
    message: String,
    /// `file:line:col` of the panic itself (may be in core, e.g. `Ord::clamp`).
    location: String,
    /// The innermost frame in this crate's `src/`: `src/tui/view/timeline.rs:52`.
    site: Option<String>,
    /// The innermost few frames in `src/`, innermost first.
    frames: Vec<String>,
}

thread_local! {
    /// Frames drawn on this thread, and the time they took.
    static FRAMES: Cell<(usize, Duration)> = const { Cell::new((0, Duration::ZERO)) };
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

/// Routes panics on threads inside [`guarded`] to [`CAUGHT`] (silently); every other
/// panic goes to the previous hook as usual.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CAPTURING.with(Cell::get) {
                previous(info);
                return;
            }
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a non-string panic)".into());
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let frames = crate_frames(&Backtrace::force_capture().to_string());
            let site = frames.first().and_then(|f| {
                let at = f.rsplit(" at ").next()?;
                // Drop the column: the line names the site.
                Some(at.rsplit_once(':').map_or(at, |(l, _)| l).to_string())
            });
            CAUGHT.with(|c| {
                *c.borrow_mut() = Some(Caught {
                    message,
                    location,
                    site,
                    frames,
                })
            });
        }));
    });
}

/// The frames of a backtrace that are in this crate's `src/`, as `function at
/// src/file.rs:line:col`, innermost first.
fn crate_frames(bt: &str) -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let mut out = Vec::new();
    let mut function = "";
    for line in bt.lines() {
        let line = line.trim();
        if let Some(path) = line.strip_prefix("at ") {
            let path = path
                .strip_prefix(root)
                .or_else(|| path.strip_prefix("./"))
                .unwrap_or(path);
            if path.starts_with("src/") {
                out.push(format!("{function} at {path}"));
            }
        } else if let Some((_, f)) = line.split_once(": ") {
            function = f;
        }
    }
    out.truncate(6);
    out
}

/// Runs `f`, turning a panic into a [`Caught`].
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Caught> {
    CAPTURING.with(|c| c.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.with(|c| c.set(false));
    r.map_err(|_| {
        CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or(Caught {
            message: "a panic the hook did not see".into(),
            location: String::new(),
            site: None,
            frames: Vec::new(),
        })
    })
}

// ---------------------------------------------------------------------------
// Running a case.
// ---------------------------------------------------------------------------

/// Something wrong, found at step `op` of a case.
#[derive(Debug, Clone)]
struct Failure {
    /// What kind of problem: the panic's site, or which check failed. Failures with
    /// the same signature count as one.
    sig: String,
    /// The particulars.
    detail: String,
    /// The step.
    op: usize,
}

fn panicked(during: &str, c: Caught) -> Failure {
    let site = c.site.clone().unwrap_or_else(|| c.location.clone());
    let mut detail = format!(
        "panicked during {during}: {}\n  at {}",
        c.message, c.location
    );
    for f in &c.frames {
        let _ = write!(detail, "\n  in {f}");
    }
    // The same line can fail for different reasons (a clamp, an overflow): the
    // message, numbers blanked, tells them apart.
    let mut why: String = c
        .message
        .chars()
        .map(|ch| if ch.is_ascii_digit() { 'N' } else { ch })
        .take(60)
        .collect();
    while why.contains("NN") {
        why = why.replace("NN", "N");
    }
    Failure {
        sig: format!("panic at {site}: {why}"),
        detail,
        op: 0,
    }
}

/// Which panel cell (`x`, `y`) belongs to, from the title of the box around it.
fn panel_at(buf: &Buffer, x: u16, y: u16) -> &'static str {
    let sym = |x: u16, y: u16| buf[(x, y)].symbol();
    let h = buf.area.height;
    let mut top = None;
    for bx in (0..=x).rev() {
        match sym(bx, y) {
            "┌" => top = Some((bx, y)),
            "│" => {
                top = (0..y)
                    .rev()
                    .find(|by| sym(bx, *by) == "┌")
                    .map(|by| (bx, by))
            }
            _ => continue,
        }
        break;
    }
    let Some((bx, by)) = top else {
        return if y == 0 {
            "header"
        } else if y + 1 == h {
            "footer"
        } else {
            "unboxed rows"
        };
    };
    let title: String = (bx + 1..buf.area.width)
        .map(|x| sym(x, by))
        .collect::<String>()
        .trim_start_matches([' ', '─'])
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string();
    match title.as_str() {
        "lock" => "lock panel",
        "timeline" => "timeline",
        "jobs" => "jobs table",
        "events" => "event log",
        "help" => "help overlay",
        "job" => "detail overlay",
        "summary" => "summary overlay",
        _ => "output panel",
    }
}

fn nonsense(what: &str, detail: String) -> Failure {
    Failure {
        sig: format!("nonsense: {what}"),
        detail,
        op: 0,
    }
}

/// What `Dashboard` does with a key's action: handle it, apply the effect (here:
/// drop commands, restart with a fresh model, carry on past a quit), then let the
/// model catch up with events that arrived meanwhile.
fn act(app: &mut App, action: Action, now: f64) {
    match app.handle(action, now) {
        Effect::None | Effect::Send(_) | Effect::Quit | Effect::Replay(_) => {}
        Effect::Restart => *app = App::new(app.theme),
    }
    app.after_events();
}

/// One frame, as `Dashboard::draw` draws it.
fn draw(app: &App, w: u16, h: u16, now: f64) -> (Buffer, Drawn) {
    let started = Instant::now();
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    let mut drawn = Drawn::default();
    terminal
        .draw(|f| drawn = view::render(f, app, now))
        .expect("a test backend draws");
    FRAMES.with(|f| {
        let (n, t) = f.get();
        f.set((n + 1, t + started.elapsed()));
    });
    (terminal.backend().buffer().clone(), drawn)
}

/// Runs a case's steps; returns the first failure of each signature. Stops at a
/// panic that may have left the model half-changed (fold, key handling), or as soon
/// as a failure with signature `until` is found. A panic while drawing leaves the
/// model as it was (render borrows it), so the case goes on.
fn run_ops(ops: &[Op], until: Option<&str>) -> Vec<Failure> {
    install_hook();
    let mut app = App::new(Theme::mono());
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, op) in ops.iter().enumerate() {
        let mut fails = Vec::new();
        let mut fatal = false;
        match op {
            Op::Event(s) => {
                if let Err(c) = guarded(|| {
                    app.state.apply(s);
                    app.after_events();
                }) {
                    fails.push(panicked("the fold of an event", c));
                    fatal = true;
                }
            }
            Op::Action(a, now) => {
                if let Err(c) = guarded(|| act(&mut app, *a, *now)) {
                    fails.push(panicked("a key action", c));
                    fatal = true;
                }
            }
            Op::Key(k, now) => {
                if let Err(c) = guarded(|| {
                    if let Effect::Restart = app.handle_key(*k, *now) {
                        app = App::new(app.theme);
                    }
                    app.after_events();
                }) {
                    fails.push(panicked("a key press", c));
                    fatal = true;
                }
            }
            Op::Mouse(wheel, col, row, now) => {
                let input = if *wheel {
                    Input::Wheel(*col % 2 == 0, *col, *row)
                } else {
                    Input::Click(*col, *row)
                };
                if let Err(c) = guarded(|| {
                    app.on_input(input.clone(), *now);
                    app.after_events();
                }) {
                    fails.push(panicked("a mouse event", c));
                    fatal = true;
                }
            }
            Op::Draw { w, h, now } => match guarded(|| draw(&app, *w, *h, *now)) {
                Ok((buffer, drawn)) => {
                    app.ui.remember(&drawn);
                    match guarded(|| check_screen(&app, &buffer, *now, drawn)) {
                        Ok(f) => fails.extend(f),
                        Err(c) => fails.push(panicked("the screen checks", c)),
                    }
                }
                Err(c) => fails.push(panicked("render", c)),
            },
        }
        if !fatal {
            fails.extend(check_model(&app));
        }
        for mut f in fails {
            f.op = i;
            let stop = until == Some(f.sig.as_str());
            if seen.insert(f.sig.clone()) {
                found.push(f);
            }
            if stop {
                return found;
            }
        }
        if fatal {
            break;
        }
    }
    found
}

// ---------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------

/// What the model must always satisfy, after any step.
fn check_model(app: &App) -> Vec<Failure> {
    let st = &app.state;
    let mut out = Vec::new();
    if let Some((i, j)) = st
        .jobs
        .iter()
        .enumerate()
        .find(|(i, j)| j.id as usize != i + 1)
    {
        out.push(nonsense(
            "a job row is not at its number's place",
            format!("row {i} holds job {}", j.id),
        ));
    }
    for s in JobState::ALL {
        let rows = st.jobs.iter().filter(|j| j.state == s).count();
        if st.count(s) != rows {
            out.push(nonsense(
                "the per-state counts disagree with the rows",
                format!("count({s:?}) = {} but {rows} rows are {s:?}", st.count(s)),
            ));
            break;
        }
    }
    if let Some(id) = app.ui.selected
        && st.job(id).is_none()
    {
        out.push(nonsense(
            "the selected job is not a folded job",
            format!("selected {id} of {} jobs", st.jobs.len()),
        ));
    }
    if let Overlay::Detail(id) = app.ui.overlay
        && st.job(id).is_none()
    {
        out.push(nonsense(
            "the detail overlay is of an unknown job",
            format!("detail of {id} of {} jobs", st.jobs.len()),
        ));
    }
    if app.ui.log_scroll > st.log.len().saturating_sub(1) {
        out.push(nonsense(
            "the log is scrolled past its end",
            format!("log_scroll {} of {} lines", app.ui.log_scroll, st.log.len()),
        ));
    }
    out
}

/// The screen as text, one string per row.
fn screen_rows(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

fn bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `jobs N/M` from the jobs panel's title (`┌ jobs N/M ...`).
fn jobs_title(rows: &[String]) -> Option<(usize, usize)> {
    rows.iter().find_map(|r| {
        let rest = &r[r.find("┌ jobs ")? + "┌ jobs ".len()..];
        let (n, rest) = rest.split_once('/')?;
        let m: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((n.parse().ok()?, m.parse().ok()?))
    })
}

/// `secs(now)` as the header writes it.
fn header_secs(now: f64) -> String {
    if !now.is_finite() || now.abs() >= 1e7 {
        // One decimal, cut toward zero, so f64::MAX never reads as infinite.
        let e = now.abs().log10().floor();
        let m = (now / 10f64.powf(e) * 10.0).trunc() / 10.0;
        format!("{m:.1}e{e}")
    } else if now >= 100.0 {
        format!("{now:.0}")
    } else {
        format!("{now:.1}")
    }
}

/// What a drawn frame must satisfy.
fn check_screen(app: &App, buf: &Buffer, now: f64, drawn: Drawn) -> Vec<Failure> {
    let mut out = Vec::new();
    let (w, h) = (buf.area.width, buf.area.height);
    let rows = screen_rows(buf);
    let cell = |pred: fn(char) -> bool| {
        buf.content().iter().enumerate().find_map(|(i, c)| {
            c.symbol().chars().any(pred).then(|| {
                let (x, y) = ((i % w as usize) as u16, (i / w as usize) as u16);
                let d = format!(
                    "cell ({x},{y}) holds {:?}; row {y}: {:?}",
                    c.symbol(),
                    rows[y as usize]
                );
                (panel_at(buf, x, y), d)
            })
        })
    };
    if let Some((panel, d)) = cell(char::is_control) {
        out.push(nonsense(
            &format!("a cell holds a control character (in the {panel})"),
            d,
        ));
    }
    if let Some((panel, d)) = cell(bidi) {
        out.push(nonsense(
            &format!("a cell holds a bidi override (in the {panel})"),
            d,
        ));
    }
    if w < MIN_WIDTH || h < MIN_HEIGHT {
        // Only the notice, wrapped into whatever room there is.
        let want: String = format!(
            "terminal too small: need {MIN_WIDTH}x{MIN_HEIGHT}, have {w}x{h}\
             enlarge the window, or press q to quit"
        )
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
        let got: String = rows
            .concat()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if got.is_empty() || !want.starts_with(&got) {
            out.push(nonsense(
                "a too-small terminal does not show the too-small notice",
                format!("{w}x{h} shows {rows:?}"),
            ));
        }
        if drawn != Drawn::default() {
            out.push(nonsense(
                "a too-small terminal reports a table",
                format!("{w}x{h}: {drawn:?}"),
            ));
        }
        return out;
    }
    let top = &rows[0];
    // An overlay as tall as the screen covers the header.
    let covered = app.ui.overlay != Overlay::None && top.contains('┌');
    if !covered {
        if !top.contains("joblock") {
            out.push(nonsense(
                "the header does not name joblock",
                format!("row 0: {top:?}"),
            ));
        }
        match top.find(" t=").map(|i| &top[i + 3..]) {
            None => out.push(nonsense(
                "the header shows no t=",
                format!("row 0: {top:?}"),
            )),
            Some(rest) => match rest.split_once('s') {
                None => out.push(nonsense(
                    "the header's t= value is cut off",
                    format!("now {now:?}; row 0: {top:?}"),
                )),
                Some((v, _)) => {
                    let parsed: Option<f64> = v.parse().ok();
                    if !parsed.is_some_and(f64::is_finite) {
                        out.push(nonsense(
                            "the header's t= is not a finite number",
                            format!("now {now:?}; t={v:?}"),
                        ));
                    } else if v != header_secs(now) {
                        out.push(nonsense(
                            "the header's t= is not now",
                            format!("now {now:?}; t={v:?}"),
                        ));
                    }
                    if top.contains("PAUSED") != app.state.paused {
                        out.push(nonsense(
                            "the PAUSED badge disagrees with the state",
                            format!("paused {}; row 0: {top:?}", app.state.paused),
                        ));
                    }
                    if top.contains(" DONE ") != app.state.summary.is_some() {
                        out.push(nonsense(
                            "the DONE badge disagrees with the state",
                            format!("summary {}; row 0: {top:?}", app.state.summary.is_some()),
                        ));
                    }
                }
            },
        }
    }
    let visible = app.visible_jobs(now);
    let total = app.state.jobs.len();
    if app.ui.overlay == Overlay::None {
        match jobs_title(&rows) {
            None => out.push(nonsense(
                "the jobs panel has no `jobs N/M` title",
                format!("{w}x{h}, {} clients: {rows:#?}", app.state.clients.len()),
            )),
            Some((n, m)) if n > m || m != total || n != visible.len() => out.push(nonsense(
                "the jobs title disagrees with the folded jobs",
                format!(
                    "title jobs {n}/{m}; {} shown of {total} folded",
                    visible.len()
                ),
            )),
            Some(_) => {}
        }
    }
    let (offset, page) = (drawn.offset, drawn.page);
    if offset > visible.len().saturating_sub(page) {
        out.push(nonsense(
            "the table's offset is past its last page",
            format!("offset {offset}, page {page}, {} rows", visible.len()),
        ));
    }
    if let Some(p) = app
        .ui
        .selected
        .and_then(|id| visible.iter().position(|i| app.state.jobs[*i].id == id))
        && page > 0
        && !(offset <= p && p < offset + page)
    {
        out.push(nonsense(
            "the selected row is off screen",
            format!("selected row {p}, offset {offset}, page {page}"),
        ));
    }
    out
}

// ---------------------------------------------------------------------------
// Shrinking and reporting.
// ---------------------------------------------------------------------------

/// The step at which `ops` shows `sig`, if it does.
fn shows(ops: &[Op], sig: &str) -> Option<usize> {
    run_ops(ops, Some(sig))
        .into_iter()
        .find(|f| f.sig == sig)
        .map(|f| f.op)
}

/// Removes steps (big runs first, then single ones) while the case still shows `sig`.
fn shrink(mut ops: Vec<Op>, sig: &str, budget: Duration) -> Vec<Op> {
    let deadline = Instant::now() + budget;
    if let Some(at) = shows(&ops, sig) {
        ops.truncate(at + 1);
    }
    let mut chunk = ops.len().div_ceil(2);
    while chunk >= 1 {
        let mut i = 0;
        while i < ops.len() {
            if Instant::now() > deadline {
                return ops;
            }
            let end = (i + chunk).min(ops.len());
            let mut candidate = ops[..i].to_vec();
            candidate.extend_from_slice(&ops[end..]);
            match shows(&candidate, sig) {
                Some(at) if !candidate.is_empty() => {
                    candidate.truncate(at + 1);
                    ops = candidate;
                }
                _ => i += chunk,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2).max(1).min(chunk - 1);
    }
    ops
}

/// A distinct problem and the case that first showed it.
struct Found {
    failure: Failure,
    seen: usize,
    stream_seed: u64,
    case: usize,
    ops: Vec<Op>,
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

/// SplitMix64, to derive independent seeds.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Keep it short enough to type.
    mix(nanos ^ u64::from(std::process::id())) % 1_000_000_000_000
}

fn report(found: &BTreeMap<String, Found>, seed: u64, cases: usize, shrink_secs: f64) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tui_props");
    let _ = std::fs::create_dir_all(&dir);
    let mut text = format!(
        "{} distinct problem(s) in {cases} cases from JOBLOCK_PROPS_SEED={seed}\n",
        found.len()
    );
    for (n, (sig, f)) in found.iter().enumerate() {
        let small = shrink(f.ops.clone(), sig, Duration::from_secs_f64(shrink_secs));
        let mut steps = String::new();
        for (i, op) in small.iter().enumerate() {
            let _ = writeln!(steps, "    {i:>3}: {op:?}");
        }
        let shown = shows(&small, sig).unwrap_or(small.len().saturating_sub(1));
        let detail = run_ops(&small, Some(sig))
            .into_iter()
            .find(|x| x.sig == *sig)
            .map_or_else(|| f.failure.detail.clone(), |x| x.detail);
        let mut one = format!(
            "\n[{}] {sig}\n  seen in {} case(s); first: stream seed {}, case {} \
             (replay: JOBLOCK_PROPS_SEED={} JOBLOCK_PROPS_CASES={}), at step {} of {}\n  {}\n  \
             shrunk to {} steps (fails at step {shown}):\n{steps}",
            n + 1,
            f.seen,
            f.stream_seed,
            f.case,
            f.stream_seed,
            f.case + 1,
            f.failure.op,
            f.ops.len(),
            detail.replace('\n', "\n  "),
            small.len(),
        );
        let path = dir.join(format!("{seed}-{}.txt", n + 1));
        if std::fs::write(&path, &one).is_ok() {
            let _ = writeln!(one, "  (written to {})", path.display());
        }
        text.push_str(&one);
    }
    text
}

#[test]
fn the_dashboard_never_panics_nor_draws_nonsense_whatever_arrives() {
    install_hook();
    let fixed: Option<u64> = env_num("JOBLOCK_PROPS_SEED");
    let seed = fixed.unwrap_or_else(fresh_seed);
    let cases: usize = env_num("JOBLOCK_PROPS_CASES").unwrap_or(DEFAULT_CASES);
    let shrink_secs: f64 = env_num("JOBLOCK_PROPS_SHRINK_SECS").unwrap_or(4.0);
    let verbose = std::env::var_os("JOBLOCK_PROPS_VERBOSE").is_some();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    let (mut engine_time, mut events_seen, mut ops_run) = (Duration::ZERO, 0usize, 0usize);
    let streams = cases.div_ceil(CASES_PER_STREAM);
    for stream in 0..streams {
        let stream_seed = seed.wrapping_add(stream as u64);
        let mut rng = StdRng::seed_from_u64(mix(stream_seed));
        let scenario = streams::scenario(&mut rng, &dir.path().join("output.txt"));
        let t0 = Instant::now();
        let real = streams::run(scenario.clone());
        engine_time += t0.elapsed();
        let here = CASES_PER_STREAM.min(cases - stream * CASES_PER_STREAM);
        if verbose {
            eprintln!(
                "stream {stream} (seed {stream_seed}): {} jobs, {} clients, {} at, {} events in {:?}",
                scenario.jobs,
                scenario.clients,
                scenario.schedule.len(),
                real.len(),
                t0.elapsed()
            );
        }
        for case in 0..here {
            let mut rng = StdRng::seed_from_u64(mix(stream_seed ^ mix(case as u64 + 1)));
            let events: Vec<Stamped> = if rng.random_bool(0.5) {
                real.clone()
            } else {
                streams::corrupt(&mut rng, &real)
            };
            let ops = ops::case(&mut rng, &events);
            events_seen += ops.iter().filter(|o| matches!(o, Op::Event(_))).count();
            ops_run += ops.len();
            for failure in run_ops(&ops, None) {
                let entry = found.entry(failure.sig.clone()).or_insert_with(|| Found {
                    failure: failure.clone(),
                    seen: 0,
                    stream_seed,
                    case,
                    ops: ops.clone(),
                });
                entry.seen += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    let (frames, frame_time) = FRAMES.with(Cell::get);
    println!(
        "tui_props: {cases} cases over {streams} engine runs from seed {seed}: {ops_run} steps \
         ({events_seen} events folded, {frames} frames drawn in {frame_time:.1?}) in \
         {elapsed:.1?} (engine {engine_time:.1?}); {} distinct problem(s)",
        found.len()
    );
    if !found.is_empty() {
        let text = report(&found, seed, cases, shrink_secs);
        panic!("{text}");
    }
}

/// The harness itself: a panic inside a step is caught and named with its message
/// and the step; a control character or a missing header on screen is reported.
#[test]
fn the_harness_reports_panics_and_bad_screens() {
    install_hook();
    let caught = guarded(|| -> u8 { panic!("deliberate {}", 7) }).expect_err("it panics");
    assert_eq!(caught.message, "deliberate 7");
    assert!(caught.location.contains("tui_props.rs"), "{caught:?}");
    let f = panicked("a test", caught);
    assert!(f.sig.starts_with("panic at "), "{f:?}");
    assert!(f.detail.contains("deliberate 7"), "{f:?}");

    // A fine screen passes; the same screen with an escape in it does not.
    let mut app = App::new(Theme::mono());
    app.state.apply(&Stamped {
        seq: 1,
        t: 0.0,
        event: Event::Paused,
    });
    let (mut buf, drawn) = draw(&app, 80, 24, 1.0);
    let sigs = |fails: Vec<Failure>| fails.into_iter().map(|f| f.sig).collect::<Vec<_>>();
    assert_eq!(
        sigs(check_screen(&app, &buf, 1.0, drawn)),
        Vec::<String>::new()
    );
    buf[(3, 5)].set_symbol("\u{1b}");
    assert_eq!(
        sigs(check_screen(&app, &buf, 1.0, drawn)),
        vec!["nonsense: a cell holds a control character (in the lock panel)".to_string()]
    );
    buf[(3, 5)].set_symbol(" ");
    buf[(2, 0)].set_symbol("X");
    assert_eq!(
        sigs(check_screen(&app, &buf, 1.0, drawn)),
        vec!["nonsense: the header does not name joblock".to_string()]
    );
    // The header's time must be the frame's now.
    let (buf, drawn) = draw(&app, 80, 24, 1.0);
    assert_eq!(
        sigs(check_screen(&app, &buf, 2.0, drawn)),
        vec!["nonsense: the header's t= is not now".to_string()]
    );
}

// ---------------------------------------------------------------------------
// The problems found so far, each as the smallest case that shows it. They fail
// on the code as it is; each passes once its problem is fixed.
// ---------------------------------------------------------------------------

fn at(t: f64, event: Event) -> Op {
    Op::Event(Stamped { seq: 1, t, event })
}

fn frame(w: u16, h: u16, now: f64) -> Op {
    Op::Draw { w, h, now }
}

/// `run_started` of one client, `client-1`, writing to `output`.
fn one_client(output: &str) -> Event {
    Event::RunStarted {
        jobs: 1,
        clients: 1,
        store: "memory".into(),
        speed: 1.0,
        seed: 1,
        clock: "virtual".into(),
        lease: 3.0,
        wait: "race".into(),
        latency: 1.0,
        floor: 0.2,
        client_names: vec!["client-1".into()],
        outputs: vec![output.into()],
    }
}

fn queued(job: u32, hash: &str) -> Event {
    Event::Queued {
        job,
        client: "client-1".into(),
        hash: hash.into(),
        will_crash: false,
    }
}

fn acquired(job: u32) -> Event {
    Event::Acquired {
        job,
        client: "client-1".into(),
        fence: 1,
        attempts: 1,
        waited: 0.0,
        how: joblock::events::How::Created,
        from_job: None,
        from_fence: None,
        committed: 0,
        wseq: 1,
    }
}

fn repros() -> Vec<(&'static str, Vec<Op>)> {
    let start = || at(0.0, one_client("output.txt"));
    // At 120 columns the timeline strip is 108 wide, so at now = 108 a column is
    // exactly one second and an acquisition at 108 starts at column 108 = width.
    let frozen = vec![start(), at(108.0, acquired(1)), frame(120, 40, 108.0)];
    let early = vec![start(), at(13.4, acquired(1)), frame(120, 40, 0.05)];
    let far = vec![start(), at(1e300, acquired(1)), frame(120, 40, 1.0)];
    let offset = vec![
        start(),
        at(
            0.5,
            Event::ChunkWritten {
                job: 1,
                client: "client-1".into(),
                fence: 1,
                chunk: 1,
                of: 6,
                offset: u64::MAX - 1,
                text: "abc".into(),
                wseq: 1,
            },
        ),
    ];
    let bidi_output = vec![
        at(0.0, one_client("iso\u{2066}late\u{2069}")),
        frame(120, 40, 1.0),
    ];
    let bidi_hash = vec![
        start(),
        at(0.0, queued(1, "iso\u{2066}late\u{2069}")),
        frame(120, 40, 1.0),
    ];
    let huge_now = vec![frame(120, 40, 1e300)];
    // The detail box's height is `lines as u16 + 2`: a job with 65 534 lines of story.
    let mut story = vec![start(), at(0.0, queued(1, "h"))];
    story.extend((0..65_526).map(|_| at(0.0, acquired(1))));
    story.extend([Op::Action(Action::Detail, 1.0), frame(120, 40, 1.0)]);
    vec![
        ("an acquisition stamped at the frozen now", frozen),
        ("a frame drawn before an acquisition's time", early),
        ("an acquisition stamped 1e300", far),
        ("a chunk written at offset u64::MAX - 1", offset),
        ("an output path with a bidi isolate", bidi_output),
        ("a worker hash with a bidi isolate", bidi_hash),
        ("a frame at now = 1e300", huge_now),
        ("a job whose detail has 65 534 lines", story),
    ]
}

#[test]
fn the_smallest_cases_found_so_far_neither_panic_nor_draw_nonsense() {
    let mut bad = String::new();
    for (name, ops) in repros() {
        for f in run_ops(&ops, None) {
            let _ = writeln!(
                bad,
                "{name}: {} at step {}\n  {}",
                f.sig,
                f.op,
                f.detail.replace('\n', "\n  ")
            );
        }
    }
    assert!(bad.is_empty(), "{bad}");
}
