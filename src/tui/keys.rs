//! The one key table: it maps keys to actions and feeds both the footer hints and
//! the help overlay, so they can never disagree with what the keys do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::screen::is_quit;

/// Something a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop the engine cleanly and leave.
    Quit,
    /// Show the help overlay.
    Help,
    /// Close the open overlay.
    Close,
    /// Pause or resume the engine.
    TogglePause,
    /// Double the speed.
    Faster,
    /// Halve the speed.
    Slower,
    /// Crash the holder (clean failure).
    CrashHolder,
    /// Kill the holder (no release).
    KillHolder,
    /// Stall the holder past its lease.
    StallHolder,
    /// Crash the selected job.
    CrashSelected,
    /// Start one more job.
    AddJob,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
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
    /// Restart with a new seed.
    Restart,
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
}

/// Every key binding, in the order help shows them.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    Binding { keys: "q", help: "quit (stops the run cleanly)", action: Action::Quit, footer: true, section: "general" },
    Binding { keys: "?", help: "help", action: Action::Help, footer: true, section: "general" },
    Binding { keys: "Esc", help: "close overlay", action: Action::Close, footer: false, section: "general" },
    Binding { keys: "space", help: "pause / resume", action: Action::TogglePause, footer: true, section: "general" },
    Binding { keys: "+ -", help: "double / halve speed", action: Action::Faster, footer: true, section: "general" },
    Binding { keys: "r", help: "restart with a new seed", action: Action::Restart, footer: false, section: "general" },
    Binding { keys: "c", help: "crash the holder (repair + release)", action: Action::CrashHolder, footer: true, section: "faults" },
    Binding { keys: "K", help: "kill the holder (no release: the lease frees it)", action: Action::KillHolder, footer: true, section: "faults" },
    Binding { keys: "s", help: "stall the holder past its lease (it ends fenced)", action: Action::StallHolder, footer: true, section: "faults" },
    Binding { keys: "x", help: "crash the selected job", action: Action::CrashSelected, footer: false, section: "faults" },
    Binding { keys: "a", help: "add a job", action: Action::AddJob, footer: true, section: "faults" },
    Binding { keys: "↑ ↓ j k", help: "move the selection", action: Action::Up, footer: false, section: "jobs" },
    Binding { keys: "PgUp PgDn", help: "move a page", action: Action::PageDown, footer: false, section: "jobs" },
    Binding { keys: "Enter", help: "job detail", action: Action::Detail, footer: true, section: "jobs" },
    Binding { keys: "Tab", help: "focus jobs / log", action: Action::FocusNext, footer: false, section: "jobs" },
    Binding { keys: "f", help: "cycle the state filter", action: Action::CycleFilter, footer: true, section: "jobs" },
    Binding { keys: "o O", help: "sort by next column / reverse", action: Action::CycleSort, footer: false, section: "jobs" },
];

/// The action for a key press, if any.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    if is_quit(key) {
        return Some(Action::Quit);
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return None;
    }
    Some(match key.code {
        KeyCode::Char('?') => Action::Help,
        KeyCode::Esc => Action::Close,
        KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
        KeyCode::Char('-') | KeyCode::Char('_') => Action::Slower,
        KeyCode::Char('c') => Action::CrashHolder,
        KeyCode::Char('K') => Action::KillHolder,
        KeyCode::Char('s') => Action::StallHolder,
        KeyCode::Char('x') => Action::CrashSelected,
        KeyCode::Char('a') => Action::AddJob,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Enter => Action::Detail,
        KeyCode::Tab | KeyCode::BackTab => Action::FocusNext,
        KeyCode::Char('f') => Action::CycleFilter,
        KeyCode::Char('o') => Action::CycleSort,
        KeyCode::Char('O') => Action::ReverseSort,
        KeyCode::Char('r') => Action::Restart,
        _ => return None,
    })
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
            'q', '?', ' ', '+', '-', 'c', 'K', 's', 'x', 'a', 'k', 'j', 'f', 'o', 'O', 'r',
        ];
        let mut reachable: Vec<Action> =
            keys.iter().filter_map(|c| action_for(press(*c))).collect();
        for code in [
            KeyCode::Esc,
            KeyCode::Enter,
            KeyCode::Tab,
            KeyCode::PageUp,
            KeyCode::PageDown,
        ] {
            reachable.extend(action_for(KeyEvent::new(code, KeyModifiers::NONE)));
        }
        for b in BINDINGS {
            assert!(reachable.contains(&b.action), "no key for {:?}", b.action);
        }
    }

    #[test]
    fn ctrl_c_quits_and_a_plain_c_crashes_the_holder() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(ctrl_c), Some(Action::Quit));
        assert_eq!(action_for(press('c')), Some(Action::CrashHolder));
    }
}
