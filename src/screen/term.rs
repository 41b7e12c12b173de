//! Entering and leaving the terminal's raw, alternate-screen mode.
//!
//! `ratatui::try_init` installs a panic hook that restores the terminal before the
//! panic message prints, so the message stays readable; this guard restores it on
//! every other exit path (errors, early returns) when it drops.

use std::io;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;

/// Owns the terminal while the dashboard runs.
pub struct TerminalGuard {
    terminal: DefaultTerminal,
    mouse: bool,
}

impl TerminalGuard {
    /// Switches to raw mode and the alternate screen.
    pub fn enter() -> io::Result<TerminalGuard> {
        let terminal = ratatui::try_init()?;
        Ok(TerminalGuard {
            terminal,
            mouse: false,
        })
    }

    /// As [`TerminalGuard::enter`], and reports clicks and the wheel too.
    pub fn enter_with_mouse() -> io::Result<TerminalGuard> {
        let mut guard = TerminalGuard::enter()?;
        execute!(io::stdout(), EnableMouseCapture)?;
        guard.mouse = true;
        Ok(guard)
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut DefaultTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if self.mouse {
            let _ = execute!(io::stdout(), DisableMouseCapture);
        }
        let _ = self.terminal.show_cursor();
        ratatui::restore();
    }
}
