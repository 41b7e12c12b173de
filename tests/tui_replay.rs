//! The replay shows what the live dashboard showed: the state is a fold of
//! events, so folding a recording live (event by event, as the loop does) and
//! seeking a replay to the same moment must draw the same screen. Also the new
//! screens (replay, chosen client, labelled header) as snapshots at 80x24 and
//! 120x40, with and without colour.

use std::path::Path;

use joblock::engine::{self, ClockKind, Scenario};
use joblock::events::recording::Recording;
use joblock::events::{Command, Stamped, Target};
use joblock::tui::app::{App, Move};
use joblock::tui::keys::Action;
use joblock::tui::replay::Replay;
use joblock::tui::theme::Theme;
use joblock::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A recorded run with faults: two clients, a kill and a stall, on the virtual
/// clock (deterministic for its seed).
fn recording(dir: &Path, seed: u64) -> Vec<Stamped> {
    let scenario = Scenario {
        jobs: 10,
        clients: 2,
        seed,
        output: dir.join("output.txt"),
        clock: ClockKind::Virtual,
        schedule: vec![
            (9.0, Command::Kill(Target::Holder(Some("client-1".into())))),
            (
                20.0,
                Command::Stall(Target::Holder(Some("client-2".into())), 7.0),
            ),
        ],
        ..Scenario::default()
    };
    let handle = engine::start(scenario).expect("start the run");
    let events: Vec<Stamped> = handle.events().iter().collect();
    handle.join().expect("the run ends");
    // Screens name the outputs: drop the temporary directory so snapshots hold.
    let prefix = format!("{}/", dir.display());
    events
        .into_iter()
        .map(|e| {
            let json = serde_json::to_string(&e).expect("an event serializes");
            serde_json::from_str(&json.replace(&prefix, "")).expect("and reads back")
        })
        .collect()
}

fn screen(app: &App, now: f64, w: u16, h: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    terminal
        .draw(|f| {
            view::render(f, app, now);
        })
        .expect("draw");
    let buf = terminal.backend().buffer();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// The `t=...` piece of a header line.
fn time_in(header: &str) -> Option<&str> {
    header.split_whitespace().find(|w| w.starts_with("t="))
}

fn fold(events: &[Stamped]) -> joblock::tui::state::DashState {
    let mut st = joblock::tui::state::DashState::new();
    for ev in events {
        st.apply(ev);
    }
    st
}

fn replay_of(events: &[Stamped]) -> Replay {
    let rec = Recording {
        header: None,
        events: events.to_vec(),
        truncated_tail: false,
    };
    let (_tx, input) = crossbeam_channel::unbounded();
    Replay::new(rec, input, Theme::mono())
}

#[test]
fn a_replay_seeked_to_any_moment_draws_what_the_live_dashboard_drew_then() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let events = recording(dir.path(), 7);
    assert!(events.len() > 200, "a real run: {} events", events.len());
    // Live: fold event by event as the loop does; draw at the moments some event
    // happened. Replay: seek there, forwards and then backwards.
    let mut live = App::new(Theme::mono());
    let mut moments = Vec::new();
    // About eight moments spread over the run, whatever its length.
    let step = (events.len() / 8).max(1);
    let mut next_pick = 0;
    for (i, ev) in events.iter().enumerate() {
        live.state.apply(ev);
        let next_t = events.get(i + 1).map(|n| n.t);
        // The screen at `t` is drawn once every event of `t` is in.
        if i >= next_pick && next_t.is_none_or(|n| n > ev.t) {
            next_pick = i + step;
            live.after_events();
            moments.push((ev.t, screen(&live, ev.t, 120, 40)));
        }
    }
    assert!(moments.len() >= 3, "{} moments", moments.len());
    let mut replay = replay_of(&events);
    for (t, live_screen) in moments.iter().chain(moments.iter().rev()) {
        replay.apply(Move::Start);
        replay.apply(Move::By(*t));
        assert_eq!(replay.now(), *t);
        let shown = screen(replay.app(), replay.now(), 120, 40);
        // Header and footer differ by design (the replay's badge, its keys); the
        // header still tells the same time, and everything between is equal.
        assert_eq!(time_in(&shown[0]), time_in(&live_screen[0]), "at t={t}");
        assert!(shown[0].contains("REPLAY"), "{}", shown[0]);
        let body = 1..shown.len() - 1;
        let (shown, expected) = (&shown[body.clone()], &live_screen[body]);
        assert_eq!(shown, expected, "at t={t}");
    }
}

#[test]
fn going_back_folds_again_and_equals_a_fresh_fold() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let events = recording(dir.path(), 11);
    let mut r = replay_of(&events);
    r.apply(Move::End);
    let end = r.now();
    assert!(r.app().state.summary.is_some(), "the end folds the summary");
    r.apply(Move::By(-end / 2.0));
    let cursor = r.player().cursor();
    assert!(cursor < events.len());
    let fresh = fold(&events[..cursor]);
    assert_eq!(r.app().state.jobs, fresh.jobs);
    assert_eq!(r.app().state.clients, fresh.clients);
    assert!(
        r.app().state.summary.is_none(),
        "back before the end: no summary"
    );
    // One event forward and back again.
    r.apply(Move::Step);
    assert_eq!(r.player().cursor(), cursor + 1);
    r.apply(Move::StepBack);
    assert_eq!(r.player().cursor(), cursor);
    assert_eq!(r.app().state.jobs, fresh.jobs);
}

#[test]
fn next_mark_stops_at_each_fault_and_takeover_in_order() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let events = recording(dir.path(), 5);
    let mut r = replay_of(&events);
    let mut seen = Vec::new();
    loop {
        let before = r.player().cursor();
        r.apply(Move::NextMark);
        if r.player().cursor() == before {
            break;
        }
        let last = &events[r.player().cursor() - 1];
        assert!(joblock::replay::is_mark(&last.event), "{last:?}");
        seen.push(r.now());
    }
    assert!(seen.len() >= 2, "the kill and the stall at least: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}

#[test]
fn a_replay_refuses_fault_keys_and_says_so() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let events = recording(dir.path(), 3);
    let mut app = App::replay(Theme::mono());
    for ev in &events {
        app.state.apply(ev);
    }
    for a in [
        Action::KillHolder,
        Action::CrashHolder,
        Action::StallHolder,
        Action::AddJob,
    ] {
        assert_eq!(app.handle(a, 1.0), joblock::tui::app::Effect::None);
        assert!(
            app.ui
                .notice
                .as_deref()
                .is_some_and(|n| n.contains("replay"))
        );
    }
    assert_eq!(
        app.handle(Action::TogglePause, 1.0),
        joblock::tui::app::Effect::Replay(Move::TogglePlay)
    );
}

// ---------------------------------------------------------------------------
// Snapshots of the new screens.
// ---------------------------------------------------------------------------

fn styled(app: &App, now: f64, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    terminal
        .draw(|f| {
            view::render(f, app, now);
        })
        .expect("draw");
    format!("{:?}", terminal.backend().buffer())
}

/// A committed recording (`tests/fixtures/replay.jsonl`: 8 jobs, 2 clients, a
/// kill at 9 s and a stall at 20 s, seed 7), so the snapshots never depend on how
/// a run happens to interleave.
fn mid_replay(theme: Theme) -> Replay {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay.jsonl");
    let rec = joblock::events::recording::load(&path).expect("the fixture loads");
    assert!(rec.header.is_some(), "the fixture has its header");
    let (_tx, input) = crossbeam_channel::unbounded();
    let mut r = Replay::new(rec, input, theme);
    r.apply(Move::By(24.0));
    r
}

#[test]
fn snapshot_replay_screens() {
    for (w, h) in [(80, 24), (120, 40)] {
        let r = mid_replay(Theme::mono());
        insta::assert_snapshot!(
            format!("replay_{w}x{h}"),
            screen(r.app(), r.now(), w, h).join("\n")
        );
    }
    let r = mid_replay(Theme::colored());
    insta::assert_snapshot!("replay_120x40_colour", styled(r.app(), r.now(), 120, 40));
    insta::assert_snapshot!("replay_80x24_colour", styled(r.app(), r.now(), 80, 24));
}

#[test]
fn snapshot_the_chosen_client_and_the_labelled_header() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut r = mid_replay(Theme::mono());
        let mut app = App::new(Theme::mono());
        app.state = fold(&r.player().events()[..r.player().cursor()]);
        app.after_events();
        app.handle(Action::NextClient, r.now());
        assert_eq!(app.chosen_client(), Some("client-2"));
        let lines = screen(&app, r.now(), w, h);
        assert!(
            lines[0].contains("running"),
            "labelled counts: {}",
            lines[0]
        );
        assert!(lines[0].contains("invariants ok"), "{}", lines[0]);
        insta::assert_snapshot!(format!("client_picker_{w}x{h}"), lines.join("\n"));
        r.apply(Move::End);
    }
    let mut r = mid_replay(Theme::colored());
    r.apply(Move::By(0.0));
    let mut app = App::new(Theme::colored());
    app.state = fold(&r.player().events()[..r.player().cursor()]);
    app.after_events();
    app.handle(Action::NextClient, r.now());
    insta::assert_snapshot!(
        "client_picker_120x40_colour",
        styled(&app, r.now(), 120, 40)
    );
    insta::assert_snapshot!("client_picker_80x24_colour", styled(&app, r.now(), 80, 24));
}
