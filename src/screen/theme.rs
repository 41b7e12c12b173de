//! Colours, or none at all under `NO_COLOR`.
//!
//! crossterm drops bold and reverse along with colours when `NO_COLOR` is set, so the
//! monochrome theme uses modifiers only and every state is also readable from its
//! symbol and word.

use ratatui::style::{Color, Modifier, Style};

/// The styles of every terminal front end (the dashboard adds its job-state and
/// log-level styles in `tui::theme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours are used.
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value.
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    /// A colourful theme.
    pub fn colored() -> Theme {
        Theme { color: true }
    }

    /// A theme with no colours at all.
    pub fn mono() -> Theme {
        Theme { color: false }
    }

    /// `color` in a colourful theme, `mono` in a monochrome one.
    pub fn pick(&self, color: Style, mono: Style) -> Style {
        if self.color { color } else { mono }
    }

    /// Panel titles.
    pub fn title(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    /// Secondary text.
    pub fn dim(&self) -> Style {
        self.pick(Style::new().fg(Color::DarkGray), Style::new())
    }

    /// Something wrong.
    pub fn warn(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }

    /// Something good.
    pub fn good(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    /// The selected row.
    pub fn selected(&self) -> Style {
        self.pick(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    /// The PAUSED badge and other attention grabbers.
    pub fn badge(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    }

    /// The chunk being written in the output tail.
    pub fn fresh(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Black).bg(Color::Green),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    /// The holder stripe on the timeline (alternating so neighbours differ).
    pub fn stripe(&self, n: usize) -> Style {
        if !self.color {
            return Style::new();
        }
        const COLORS: [Color; 4] = [Color::Green, Color::Blue, Color::Cyan, Color::Yellow];
        Style::new().fg(COLORS[n % COLORS.len()])
    }
}
