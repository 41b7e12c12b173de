//! What every terminal front end shares (the dashboard, `watch`): entering and
//! leaving the terminal, the key-reading thread, the quit keys and the base styles.
//! It knows nothing of runs or locks.

pub mod input;
pub mod signals;
pub mod term;
pub mod theme;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use input::Input;
pub use term::TerminalGuard;
pub use theme::Theme;

/// Whether a key press means "leave": `q`, or Ctrl-C (the terminal is in raw mode,
/// so Ctrl-C arrives as a key, not a signal).
pub fn is_quit(key: KeyEvent) -> bool {
    match key.code {
        KeyCode::Char('c') => key.modifiers.contains(KeyModifiers::CONTROL),
        KeyCode::Char('q') => !key.modifiers.contains(KeyModifiers::CONTROL),
        _ => false,
    }
}
