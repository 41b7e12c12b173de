//! What happens to the dashboard in one case: events folded, key actions and raw key
//! presses handled, and frames drawn at some size and some `now`, interleaved.

use std::fmt;

use joblock::events::Stamped;
use joblock::tui::keys::Action;
use rand::RngExt;
use rand::rngs::StdRng;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One step of a case. Every value is concrete, so a case replays exactly.
#[derive(Clone)]
pub enum Op {
    /// `state.apply(event)`, then `after_events()`, as the loop does per batch.
    Event(Stamped),
    /// `handle(action, now)`, its effect, then `after_events()`.
    Action(Action, f64),
    /// A raw key through `App::handle_key` (the key table, or the search box).
    Key(KeyEvent, f64),
    /// A click (`false`) or a wheel turn (`true`) at a cell, through `App::on_input`.
    Mouse(bool, u16, u16, f64),
    /// `render` in a `w` x `h` test terminal at `now`, feeding page and offset back.
    Draw {
        /// Columns.
        w: u16,
        /// Rows.
        h: u16,
        /// Scenario time of the frame.
        now: f64,
    },
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Event(s) => write!(f, "event seq={} t={:?} {:?}", s.seq, s.t, s.event),
            Op::Action(a, now) => write!(f, "action {a:?} now={now:?}"),
            Op::Key(k, now) => write!(f, "key {:?} {:?} now={now:?}", k.code, k.modifiers),
            Op::Mouse(wheel, col, row, now) => {
                write!(f, "mouse wheel={wheel} at {col},{row} now={now:?}")
            }
            Op::Draw { w, h, now } => write!(f, "draw {w}x{h} now={now:?}"),
        }
    }
}

/// Every action, so each is drawn (see `every_action_is_listed`).
pub const ACTIONS: [Action; 34] = [
    Action::Quit,
    Action::Help,
    Action::Close,
    Action::TogglePause,
    Action::Faster,
    Action::Slower,
    Action::CrashHolder,
    Action::KillHolder,
    Action::StallHolder,
    Action::CrashSelected,
    Action::AddJob,
    Action::Up,
    Action::Down,
    Action::PageUp,
    Action::PageDown,
    Action::Top,
    Action::Bottom,
    Action::PrevClient,
    Action::NextClient,
    Action::Detail,
    Action::FocusNext,
    Action::CycleFilter,
    Action::CycleSort,
    Action::ReverseSort,
    Action::Search,
    Action::Restart,
    Action::SeekBack,
    Action::SeekForward,
    Action::SeekStart,
    Action::SeekEnd,
    Action::StepForward,
    Action::StepBack,
    Action::NextMark,
    Action::PrevMark,
];

/// Fails to compile when `Action` gains a variant, so `ACTIONS` cannot fall behind.
#[allow(dead_code)]
fn every_action_is_listed(a: Action) {
    match a {
        Action::Quit
        | Action::Help
        | Action::Close
        | Action::TogglePause
        | Action::Faster
        | Action::Slower
        | Action::CrashHolder
        | Action::KillHolder
        | Action::StallHolder
        | Action::CrashSelected
        | Action::AddJob
        | Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Detail
        | Action::FocusNext
        | Action::CycleFilter
        | Action::CycleSort
        | Action::ReverseSort
        | Action::Restart
        | Action::Top
        | Action::Bottom
        | Action::PrevClient
        | Action::NextClient
        | Action::Search
        | Action::SeekBack
        | Action::SeekForward
        | Action::SeekStart
        | Action::SeekEnd
        | Action::StepForward
        | Action::StepBack
        | Action::NextMark
        | Action::PrevMark => {}
    }
}

/// Movement, overlays and the table's own keys come more often than the rest: they
/// are what walks the selection, the offset and the overlays into corners.
fn random_action(rng: &mut StdRng) -> Action {
    const NAV: [Action; 10] = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::CycleFilter,
        Action::CycleSort,
        Action::ReverseSort,
        Action::FocusNext,
        Action::Detail,
        Action::Close,
    ];
    if rng.random_bool(0.6) {
        NAV[rng.random_range(0..NAV.len())]
    } else {
        ACTIONS[rng.random_range(0..ACTIONS.len())]
    }
}

/// A key press as a terminal can send one: letters of both cases, digits,
/// punctuation, Unicode, control characters, F-keys, the named keys, with any
/// modifiers.
fn random_key(rng: &mut StdRng) -> KeyEvent {
    const CHARS: &str = "qQ?+=-_cCKksSxXaAjJkKfFoOrR ~!@#$%^&*()[]{};:'\",.<>/\\|`0123456789\
        abcdeghilmnptuvwyzBDEGHILMNPTUVWYZéßÆ日\u{0}\u{1b}\u{7f}\t\r\n";
    const NAMED: [KeyCode; 23] = [
        KeyCode::Esc,
        KeyCode::Enter,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::PageUp,
        KeyCode::PageDown,
        KeyCode::Insert,
        KeyCode::Delete,
        KeyCode::Null,
        KeyCode::CapsLock,
        KeyCode::ScrollLock,
        KeyCode::NumLock,
        KeyCode::PrintScreen,
        KeyCode::Pause,
        KeyCode::Menu,
        KeyCode::KeypadBegin,
    ];
    let code = match rng.random_range(0..10) {
        0..=5 => {
            let chars: Vec<char> = CHARS.chars().collect();
            KeyCode::Char(chars[rng.random_range(0..chars.len())])
        }
        6 => KeyCode::F(rng.random_range(0..=30)),
        _ => NAMED[rng.random_range(0..NAMED.len())],
    };
    let modifiers = if rng.random_bool(0.5) {
        KeyModifiers::NONE
    } else {
        let all = [
            KeyModifiers::SHIFT,
            KeyModifiers::CONTROL,
            KeyModifiers::ALT,
            KeyModifiers::SUPER,
            KeyModifiers::HYPER,
            KeyModifiers::META,
        ];
        let mut m = KeyModifiers::NONE;
        for x in all {
            if rng.random_bool(0.3) {
                m |= x;
            }
        }
        m
    };
    KeyEvent::new(code, modifiers)
}

/// A terminal size: the standards, just below the minimum, anything from 1x1 to 300x100.
fn random_size(rng: &mut StdRng) -> (u16, u16) {
    const FIXED: [(u16, u16); 10] = [
        (80, 24),
        (120, 40),
        (80, 24),
        (120, 40),
        (79, 24),
        (80, 23),
        (79, 23),
        (1, 1),
        (300, 100),
        (104, 30),
    ];
    match rng.random_range(0..10) {
        0..=4 => FIXED[rng.random_range(0..FIXED.len())],
        5..=7 => (rng.random_range(80..=300), rng.random_range(24..=100)),
        _ => (rng.random_range(1..=300), rng.random_range(1..=100)),
    }
}

/// A `now` for a frame or a key: frozen at the latest event (a paused clock), a
/// little later, earlier than the events, at some event's time, odd values, or
/// anywhere up to twice the latest event.
fn random_now(rng: &mut StdRng, last_t: f64, folded: &[Stamped]) -> f64 {
    const ODD: [f64; 11] = [
        0.0, -0.0, -1.0, 1e300, 1e-300, 1e9, 1e15, -1e300, 99.95, 100.0, 0.05,
    ];
    let frac: f64 = rng.random();
    let scale = last_t.abs().max(1.0);
    match rng.random_range(0..10) {
        0..=2 => last_t,
        3 | 4 => last_t + frac * 10.0,
        5 => last_t - frac * scale,
        6 if !folded.is_empty() => folded[rng.random_range(0..folded.len())].t,
        7 => ODD[rng.random_range(0..ODD.len())],
        _ => {
            let x = frac * last_t * 2.0;
            if x.is_finite() { x } else { last_t }
        }
    }
}

/// A case over `events`: a random prefix folded, then frames, actions, keys and
/// more events interleaved; it always ends with a frame.
pub fn case(rng: &mut StdRng, events: &[Stamped]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut next = match rng.random_range(0..4) {
        0 => 0,
        1 => events.len(),
        _ => rng.random_range(0..=events.len()),
    };
    for s in &events[..next] {
        ops.push(Op::Event(s.clone()));
    }
    // As `DashState::last_t` folds it.
    let mut last_t = events[..next].iter().fold(0.0f64, |m, s| m.max(s.t));
    let steps = rng.random_range(8..=60);
    for _ in 0..steps {
        let folded = &events[..next];
        match rng.random_range(0..10) {
            0 | 1 if next < events.len() => {
                let rest = events.len() - next;
                let k = if rng.random_bool(0.1) {
                    rest
                } else {
                    rng.random_range(1..=rest.min(40))
                };
                for s in &events[next..next + k] {
                    last_t = last_t.max(s.t);
                    ops.push(Op::Event(s.clone()));
                }
                next += k;
            }
            2..=4 => ops.push(Op::Action(
                random_action(rng),
                random_now(rng, last_t, folded),
            )),
            5 => ops.push(Op::Key(random_key(rng), random_now(rng, last_t, folded))),
            6 if rng.random_bool(0.5) => ops.push(Op::Mouse(
                rng.random_bool(0.3),
                rng.random_range(0..300),
                rng.random_range(0..100),
                random_now(rng, last_t, folded),
            )),
            _ => {
                let (w, h) = random_size(rng);
                let now = random_now(rng, last_t, folded);
                ops.push(Op::Draw { w, h, now });
            }
        }
    }
    let (w, h) = random_size(rng);
    let now = random_now(rng, last_t, &events[..next]);
    ops.push(Op::Draw { w, h, now });
    ops
}
