//! What each key does to the dashboard's view, on a real recorded run
//! (`tests/fixtures/replay.jsonl`: 8 jobs, 2 clients, a kill and a stall): faults
//! hit the chosen client, the log holds still when scrolled back and pages by what
//! it showed, a filter or search never lets a key act on a hidden job, and the
//! mouse selects what it clicks.

use std::path::Path;

use joblock::events::recording;
use joblock::events::{Command, Stamped, Target};
use joblock::screen::Input;
use joblock::tui::app::{App, Effect, Focus, MAX_SPEED, MIN_SPEED, Overlay};
use joblock::tui::keys::Action;
use joblock::tui::state::JobState;
use joblock::tui::theme::Theme;
use joblock::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn events() -> Vec<Stamped> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay.jsonl");
    recording::load(&path).expect("the fixture loads").events
}

/// The app with the first `n` events folded, drawn once at 120x40 (so paging and
/// the mouse know the layout), and the time of the last one.
fn app_after(n: usize) -> (App, f64) {
    let evs = events();
    let mut app = App::new(Theme::mono());
    for ev in &evs[..n.min(evs.len())] {
        app.state.apply(ev);
    }
    app.after_events();
    let now = app.state.last_t;
    draw(&mut app, now);
    (app, now)
}

fn draw(app: &mut App, now: f64) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("a test terminal");
    let mut drawn = view::Drawn::default();
    terminal
        .draw(|f| drawn = view::render(f, app, now))
        .expect("draw");
    app.ui.remember(&drawn);
    let buf = terminal.backend().buffer();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn fault_keys_hit_the_client_of_the_selected_job_or_the_one_picked() {
    let (mut app, now) = app_after(400);
    assert_eq!(app.chosen_client(), Some("client-1"));
    // Job 2 belongs to client-2: selecting it chooses its client.
    app.handle(Action::Down, now);
    assert_eq!(app.ui.selected, Some(2));
    assert_eq!(
        app.handle(Action::KillHolder, now),
        Effect::Send(Command::Kill(Target::Holder(Some("client-2".into()))))
    );
    // [ and ] pick a client directly, wrapping around.
    app.handle(Action::NextClient, now);
    assert_eq!(app.chosen_client(), Some("client-1"));
    app.handle(Action::PrevClient, now);
    assert_eq!(app.chosen_client(), Some("client-2"));
    assert_eq!(
        app.handle(Action::AddJob, now),
        Effect::Send(Command::AddJob(Some("client-2".into())))
    );
}

#[test]
fn caps_lock_letters_move_and_never_kill() {
    let (mut app, now) = app_after(400);
    let shifted = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT);
    assert_eq!(app.handle_key(shifted('J'), now), Effect::None);
    assert_eq!(app.ui.selected, Some(2));
    assert_eq!(app.handle_key(shifted('K'), now), Effect::None);
    assert_eq!(app.ui.selected, Some(1));
    assert!(matches!(
        app.handle_key(key('9'), now),
        Effect::Send(Command::Kill(_))
    ));
}

#[test]
fn a_scrolled_back_log_holds_still_while_events_arrive() {
    let evs = events();
    let (mut app, now) = app_after(300);
    app.handle(Action::FocusNext, now);
    assert_eq!(app.ui.focus, Focus::Log);
    app.handle(Action::Down, now);
    app.handle(Action::Down, now);
    let top = |app: &App| {
        app.state
            .log
            .iter()
            .rev()
            .nth(app.ui.log_scroll)
            .map(|l| l.text.clone())
    };
    let before = top(&app);
    let pushed = app.state.log_pushed();
    for ev in &evs[300..600] {
        app.state.apply(ev);
    }
    app.after_events();
    assert!(app.state.log_pushed() > pushed, "new lines arrived");
    assert_eq!(top(&app), before, "the line at the top stays the same");
    // g follows the newest again.
    app.handle(Action::Top, now);
    assert_eq!(app.ui.log_scroll, 0);
}

#[test]
fn page_down_in_the_log_moves_by_what_it_showed_and_end_goes_to_the_oldest() {
    let (mut app, now) = app_after(900);
    app.handle(Action::FocusNext, now);
    let page = app.ui.log_page;
    assert!(page >= 1 && page < app.state.log.len(), "page {page}");
    app.handle(Action::PageDown, now);
    assert_eq!(app.ui.log_scroll, page);
    app.handle(Action::Bottom, now);
    assert_eq!(app.ui.log_scroll, app.state.log.len() - 1);
    app.handle(Action::PageDown, now);
    assert_eq!(
        app.ui.log_scroll,
        app.state.log.len() - 1,
        "stops at the end"
    );
}

#[test]
fn home_and_end_move_the_table_to_its_ends() {
    let (mut app, now) = app_after(400);
    app.handle_key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE), now);
    assert_eq!(app.ui.selected, Some(8));
    app.handle_key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE), now);
    assert_eq!(app.ui.selected, Some(1));
}

#[test]
fn a_filter_that_hides_the_selected_job_moves_the_selection_to_a_shown_one() {
    let (mut app, now) = app_after(900);
    app.ui.selected = Some(1);
    // Cycle to a state job 1 is not in, with some job in it.
    let state1 = app.state.job(1).expect("job 1").state;
    while app
        .ui
        .filter
        .is_none_or(|f| f == state1 || app.state.count(f) == 0)
    {
        app.handle(Action::CycleFilter, now);
        assert!(app.ui.filter.is_some(), "some other state has jobs");
    }
    let shown = app.visible_jobs(now);
    let selected = app.ui.selected.expect("a selection");
    assert!(
        shown.iter().any(|i| app.state.jobs[*i].id == selected),
        "the selection is a shown job"
    );
    assert_eq!(
        app.handle(Action::CrashSelected, now),
        Effect::Send(Command::Crash(Target::Job(selected)))
    );
    // A filter with no job at all: x and Enter do nothing.
    app.ui.filter = Some(JobState::GaveUp);
    assert_eq!(app.state.count(JobState::GaveUp), 0);
    app.ui.selected = Some(1);
    assert_eq!(app.handle(Action::CrashSelected, now), Effect::None);
    app.handle(Action::Detail, now);
    assert_eq!(app.ui.overlay, Overlay::None);
}

#[test]
fn search_narrows_jobs_and_log_and_esc_clears_it() {
    let (mut app, now) = app_after(900);
    app.handle_key(key('/'), now);
    assert!(app.ui.search.editing);
    for c in "client-2".chars() {
        // Keys go to the box: 'c' does not crash anything while typing.
        assert_eq!(app.handle_key(key(c), now), Effect::None);
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), now);
    assert!(!app.ui.search.editing);
    let shown = app.visible_jobs(now);
    assert_eq!(shown.len(), 4);
    assert!(
        shown
            .iter()
            .all(|i| app.state.jobs[*i].client == "client-2")
    );
    let screen = draw(&mut app, now).join("\n");
    assert!(screen.contains("search: client-2"), "{screen}");
    app.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), now);
    assert!(!app.ui.search.active());
    assert_eq!(app.visible_jobs(now).len(), 8);
}

#[test]
fn a_click_selects_the_job_row_or_client_under_it_and_focuses_its_panel() {
    let (mut app, now) = app_after(900);
    let areas = app.ui.areas;
    // The third job row.
    let effect = app.on_input(
        Input::Click(areas.jobs.x + 3, areas.jobs_first_row + 2),
        now,
    );
    assert_eq!(effect, Effect::None);
    assert_eq!(app.ui.selected, Some(3));
    // The second client's timeline strip.
    app.on_input(
        Input::Click(areas.timeline.x + 3, areas.timeline_first_row + 1),
        now,
    );
    assert_eq!(app.chosen_client(), Some("client-2"));
    // The log panel takes focus.
    app.on_input(Input::Click(areas.log.x + 3, areas.log.y + 3), now);
    assert_eq!(app.ui.focus, Focus::Log);
}

#[test]
fn speed_keys_stay_within_their_bounds_and_say_so() {
    let (mut app, now) = app_after(10);
    app.state.speed = MIN_SPEED;
    assert_eq!(app.handle(Action::Slower, now), Effect::None);
    assert!(app.ui.notice.is_some());
    app.state.speed = MAX_SPEED;
    assert_eq!(app.handle(Action::Faster, now), Effect::None);
    app.state.speed = 1.0;
    assert_eq!(
        app.handle(Action::Slower, now),
        Effect::Send(Command::SetSpeed(0.5))
    );
}

#[test]
fn events_stamped_at_or_after_now_draw_without_a_panic() {
    // The frozen "now" of a paused run can be earlier than the latest event.
    let (mut app, now) = app_after(900);
    for at in [now, now - 1.0, 0.0, -5.0, 1e300, f64::NAN] {
        let screen = draw(&mut app, at);
        assert!(screen[0].contains("joblock"), "{}", screen[0]);
    }
}

#[test]
fn the_header_labels_its_counts_and_shows_the_invariants() {
    let (mut app, now) = app_after(900);
    let header = draw(&mut app, now)[0].clone();
    assert!(
        header.contains("running") && header.contains("waiting"),
        "{header}"
    );
    assert!(header.contains("invariants ok"), "{header}");
    assert!(header.contains("fault"), "the kill is counted: {header}");
    assert!(
        !header.contains("warning"),
        "an injected kill is no warning: {header}"
    );
}
