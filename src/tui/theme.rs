//! The dashboard's own styles on top of the shared [`Theme`]: job states and log
//! levels. In the monochrome theme every state is also readable from its symbol and
//! word.

use ratatui::style::{Color, Modifier, Style};

use super::state::{JobState, Level};
pub use crate::screen::Theme;

impl Theme {
    /// A job state.
    pub fn state(&self, s: JobState) -> Style {
        if !self.color {
            return match s {
                JobState::Running | JobState::Stalled => Style::new().add_modifier(Modifier::BOLD),
                JobState::Fenced | JobState::Killed => {
                    Style::new().add_modifier(Modifier::UNDERLINED)
                }
                _ => Style::new(),
            };
        }
        let c = match s {
            JobState::Queued => Color::DarkGray,
            JobState::Waiting => Color::Yellow,
            JobState::Running => Color::Green,
            JobState::Stalled => Color::Magenta,
            JobState::Crashed => Color::Red,
            JobState::Killed => Color::LightRed,
            JobState::Fenced => Color::Magenta,
            JobState::GaveUp => Color::Gray,
            JobState::Finished => Color::Blue,
        };
        Style::new().fg(c)
    }

    /// A log line.
    pub fn level(&self, l: Level) -> Style {
        match l {
            Level::Info => Style::new(),
            Level::Notice => self.pick(
                Style::new().fg(Color::Yellow),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Level::Warning => self.warn(),
        }
    }
}
