//! The one key table: it maps keys to actions and feeds both the footer hints and
//! the help overlay, so they can never disagree with what the keys do.
//!
//! Letters are read without regard to case where a flipped case would do harm:
//! with Caps Lock on, `k` arrives as `K`, so no upper-case letter is destructive
//! (killing the holder is `9`, as in `kill -9`).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::screen::is_quit;

/// Something a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop the engine cleanly and leave.
    Quit,
    /// Show the help overlay.
    Help,
    /// Close the open overlay (or clear the search).
    Close,
    /// Pause or resume (the engine, or the replay).
    TogglePause,
    /// Double the speed.
    Faster,
    /// Halve the speed.
    Slower,
    /// Crash the holder of the chosen client (clean failure).
    CrashHolder,
    /// Kill the holder of the chosen client (no release).
    KillHolder,
    /// Stall the holder of the chosen client past its lease.
    StallHolder,
    /// Crash the selected job.
    CrashSelected,
    /// Start one more job (for the chosen client).
    AddJob,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// To the first row (the newest log line).
    Top,
    /// To the last row (the oldest log line).
    Bottom,
    /// Choose the previous client (lock and timeline panels follow).
    PrevClient,
    /// Choose the next client.
    NextClient,
    /// Open the selected job's detail.
    Detail,
    /// Move focus between the jobs table and the event log.
    FocusNext,
    /// Cycle the state filter.
    CycleFilter,
    /// Sort by the next column.
    CycleSort,
    /// Reverse the sort.
    ReverseSort,
    /// Search jobs and events.
    Search,
    /// Restart with a new seed.
    Restart,
    /// Replay: back a few seconds.
    SeekBack,
    /// Replay: forward a few seconds.
    SeekForward,
    /// Replay: to the start.
    SeekStart,
    /// Replay: to the end.
    SeekEnd,
    /// Replay: one event forward.
    StepForward,
    /// Replay: one event back.
    StepBack,
    /// Replay: to the next fault or takeover.
    NextMark,
    /// Replay: to the previous fault or takeover.
    PrevMark,
}

impl Action {
    /// Whether the action injects a fault or changes the run (a replay cannot).
    pub fn changes_the_run(self) -> bool {
        matches!(
            self,
            Action::CrashHolder
                | Action::KillHolder
                | Action::StallHolder
                | Action::CrashSelected
                | Action::AddJob
                | Action::Restart
        )
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// The live dashboard and the replay.
    Both,
    /// Only on a live run.
    Live,
    /// Only in a replay.
    Replay,
}

impl Where {
    /// Whether a binding for `self` applies in a replay (`true`) or live (`false`).
    pub fn applies(self, replay: bool) -> bool {
        match self {
            Where::Both => true,
            Where::Live => !replay,
            Where::Replay => replay,
        }
    }
}

/// One row of the key table.
pub struct Binding {
    /// How the key is written in hints.
    pub keys: &'static str,
    /// What it does.
    pub help: &'static str,
    /// The action.
    pub action: Action,
    /// Shown in the footer (the rest only in the help overlay).
    pub footer: bool,
    /// Help section.
    pub section: &'static str,
    /// Live, replay or both.
    pub mode: Where,
}

macro_rules! bind {
    ($keys:literal, $help:literal, $action:ident, $footer:literal, $section:literal, $mode:ident) => {
        Binding {
            keys: $keys,
            help: $help,
            action: Action::$action,
            footer: $footer,
            section: $section,
            mode: Where::$mode,
        }
    };
}

/// Every key binding, in the order help shows them.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind!("q", "quit (stops the run cleanly)", Quit, true, "general", Both),
    bind!("?", "help", Help, true, "general", Both),
    bind!("Esc", "close overlay / clear search", Close, false, "general", Both),
    bind!("space", "pause / resume", TogglePause, true, "general", Both),
    bind!("+ -", "double / halve speed", Faster, true, "general", Both),
    bind!("r", "restart with a new seed (and a new recording)", Restart, false, "general", Live),
    bind!("← →", "back / forward 5 s (Shift: 30 s)", SeekBack, true, "replay", Replay),
    bind!("Home End", "to the start / end", SeekStart, false, "replay", Replay),
    bind!(". ,", "one event forward / back", StepForward, true, "replay", Replay),
    bind!("n N", "next / previous fault or takeover", NextMark, true, "replay", Replay),
    bind!("c", "crash the chosen client's holder (repair + release)", CrashHolder, true, "faults", Live),
    bind!("9", "kill -9 the chosen client's holder (no release: the lease frees it)", KillHolder, true, "faults", Live),
    bind!("s", "stall the chosen client's holder past its lease (it ends fenced)", StallHolder, true, "faults", Live),
    bind!("x", "crash the selected job", CrashSelected, false, "faults", Live),
    bind!("a", "add a job for the chosen client", AddJob, true, "faults", Live),
    bind!("[ ]", "choose the previous / next client", NextClient, true, "jobs", Both),
    bind!("↑ ↓ j k", "move the selection (or scroll the log)", Up, false, "jobs", Both),
    bind!("PgUp PgDn", "move a page", PageDown, false, "jobs", Both),
    bind!("g G", "to the top / bottom", Top, false, "jobs", Both),
    bind!("Enter", "job detail", Detail, true, "jobs", Both),
    bind!("Tab", "focus jobs / log (or click a panel)", FocusNext, false, "jobs", Both),
    bind!("/", "search jobs and events", Search, true, "jobs", Both),
    bind!("f", "cycle the state filter", CycleFilter, true, "jobs", Both),
    bind!("o O", "sort by next column / reverse", CycleSort, false, "jobs", Both),
];

/// The action for a key press, if any. `replay` picks the replay's meaning of the
/// keys both use (Home and End seek in a replay, and move to the ends live).
pub fn action_for(key: KeyEvent, replay: bool) -> Option<Action> {
    if is_quit(key) {
        return Some(Action::Quit);
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) || key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    Some(match key.code {
        KeyCode::Char('?') => Action::Help,
        KeyCode::Esc => Action::Close,
        KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
        KeyCode::Char('-') | KeyCode::Char('_') => Action::Slower,
        KeyCode::Char('c') => Action::CrashHolder,
        KeyCode::Char('9') => Action::KillHolder,
        KeyCode::Char('s') => Action::StallHolder,
        KeyCode::Char('x') => Action::CrashSelected,
        KeyCode::Char('a') => Action::AddJob,
        KeyCode::Char('[') => Action::PrevClient,
        KeyCode::Char(']') => Action::NextClient,
        // Either case: Caps Lock must not turn "up" into something else.
        KeyCode::Up | KeyCode::Char('k') | KeyCode::Char('K') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Char('J') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Char('g') => Action::Top,
        KeyCode::Char('G') => Action::Bottom,
        KeyCode::Home if replay => Action::SeekStart,
        KeyCode::End if replay => Action::SeekEnd,
        KeyCode::Home => Action::Top,
        KeyCode::End => Action::Bottom,
        KeyCode::Left => Action::SeekBack,
        KeyCode::Right => Action::SeekForward,
        KeyCode::Char('.') | KeyCode::Char('>') => Action::StepForward,
        KeyCode::Char(',') | KeyCode::Char('<') => Action::StepBack,
        KeyCode::Char('n') => Action::NextMark,
        KeyCode::Char('N') => Action::PrevMark,
        KeyCode::Enter => Action::Detail,
        KeyCode::Tab | KeyCode::BackTab => Action::FocusNext,
        KeyCode::Char('/') => Action::Search,
        KeyCode::Char('f') => Action::CycleFilter,
        KeyCode::Char('o') => Action::CycleSort,
        KeyCode::Char('O') => Action::ReverseSort,
        KeyCode::Char('r') => Action::Restart,
        _ => return None,
    })
}

/// Seconds ← and → move a replay.
pub const SEEK_SECS: f64 = 5.0;
/// Seconds they move it with Shift.
pub const SEEK_FAR_SECS: f64 = 30.0;

/// Seconds a seek key moves a replay: Shift moves further.
pub fn seek_step(key: KeyEvent) -> f64 {
    if key.modifiers.contains(KeyModifiers::SHIFT) {
        SEEK_FAR_SECS
    } else {
        SEEK_SECS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn every_bound_action_has_a_key_that_triggers_it() {
        let keys = [
            'q', '?', ' ', '+', '-', 'c', '9', 's', 'x', 'a', 'k', 'j', 'f', 'o', 'O', 'r', '[',
            ']', 'g', 'G', '/', '.', ',', 'n', 'N',
        ];
        let mut reachable: Vec<Action> = keys
            .iter()
            .filter_map(|c| action_for(press(*c), false))
            .collect();
        for code in [
            KeyCode::Esc,
            KeyCode::Enter,
            KeyCode::Tab,
            KeyCode::PageUp,
            KeyCode::PageDown,
            KeyCode::Left,
            KeyCode::Right,
            KeyCode::Home,
            KeyCode::End,
        ] {
            reachable.extend(action_for(KeyEvent::new(code, KeyModifiers::NONE), true));
        }
        for b in BINDINGS {
            assert!(reachable.contains(&b.action), "no key for {:?}", b.action);
        }
    }

    #[test]
    fn ctrl_c_quits_and_a_plain_c_crashes_the_holder() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(ctrl_c, false), Some(Action::Quit));
        assert_eq!(action_for(press('c'), false), Some(Action::CrashHolder));
    }

    #[test]
    fn no_upper_case_letter_changes_the_run() {
        for c in 'A'..='Z' {
            let shifted = KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT);
            for key in [press(c), shifted] {
                if let Some(a) = action_for(key, false) {
                    assert!(!a.changes_the_run(), "{c} does {a:?}");
                }
            }
        }
        assert_eq!(action_for(press('K'), false), Some(Action::Up));
    }

    #[test]
    fn home_and_end_seek_in_a_replay_and_move_to_the_ends_live() {
        let home = KeyEvent::new(KeyCode::Home, KeyModifiers::NONE);
        assert_eq!(action_for(home, true), Some(Action::SeekStart));
        assert_eq!(action_for(home, false), Some(Action::Top));
    }
}
