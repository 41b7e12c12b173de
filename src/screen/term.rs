//! Entering and leaving the terminal's raw, alternate-screen mode.
//!
//! `ratatui::try_init` installs a panic hook that restores the terminal before the
//! panic message prints, so the message stays readable; this guard restores it on
//! every other exit path (errors, early returns) when it drops.

use std::io;

use ratatui::DefaultTerminal;

/// Owns the terminal while the dashboard runs.
pub struct TerminalGuard {
    terminal: DefaultTerminal,
}

impl TerminalGuard {
    /// Switches to raw mode and the alternate screen.
    pub fn enter() -> io::Result<TerminalGuard> {
        let terminal = ratatui::try_init()?;
        Ok(TerminalGuard { terminal })
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut DefaultTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        ratatui::restore();
    }
}
