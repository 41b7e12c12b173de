//! `/` search: a query typed at the footer that narrows the jobs table and the
//! event log to what matches, case-insensitively.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::state::{JobRow, LogLine};

/// Longest query kept (a pasted novel is cut, not stored).
const MAX_QUERY: usize = 64;

/// The search box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// What was typed, lower-cased.
    pub query: String,
    /// Keys go to the box (until Enter or Esc).
    pub editing: bool,
}

/// What a key did to the search box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Typed {
    /// The query changed or the box stays open.
    Edited,
    /// Enter: keep the query, close the box.
    Done,
    /// Esc: the search is gone.
    Cancelled,
}

impl Search {
    /// Whether a search narrows the view.
    pub fn active(&self) -> bool {
        !self.query.is_empty()
    }

    /// Applies one key typed into the open box.
    pub(super) fn type_key(&mut self, key: KeyEvent) -> Typed {
        match key.code {
            KeyCode::Esc => {
                *self = Search::default();
                Typed::Cancelled
            }
            KeyCode::Enter => {
                self.editing = false;
                Typed::Done
            }
            KeyCode::Backspace => {
                self.query.pop();
                Typed::Edited
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.query.clear();
                Typed::Edited
            }
            KeyCode::Char(c)
                if !c.is_control() && !key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                if self.query.chars().count() < MAX_QUERY {
                    self.query.extend(c.to_lowercase());
                }
                Typed::Edited
            }
            _ => Typed::Edited,
        }
    }

    /// Whether a job matches: its number exactly, or a piece of its hash, client,
    /// state or end reason.
    pub fn matches_job(&self, j: &JobRow) -> bool {
        if !self.active() {
            return true;
        }
        let q = self.query.trim_start_matches('#');
        j.id.to_string() == q
            || contains(&j.hash, q)
            || contains(&j.client, q)
            || contains(j.state.word(), q)
            || contains(&j.reason, q)
    }

    /// Whether a log line matches.
    pub fn matches_line(&self, l: &LogLine) -> bool {
        !self.active() || contains(&l.text, &self.query)
    }
}

fn contains(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(needle)
}
