//! The dashboard's view state (selection, focus, sort, filter, overlays) and what
//! each key action does to it. Engine-affecting actions become [`Command`]s; this
//! module never talks to the engine itself.

use std::cmp::Ordering;

use super::keys::Action;
use super::state::{DashState, JobRow, JobState};
use super::theme::Theme;
use crate::events::{Command, JobId, Target};

/// Which panel arrows move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The jobs table.
    Jobs,
    /// The event log.
    Log,
}

/// What covers the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing.
    None,
    /// The key help.
    Help,
    /// One job's detail.
    Detail(JobId),
    /// The end-of-run summary.
    Summary,
}

/// The jobs table's sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Job number.
    Number,
    /// State.
    State,
    /// Client.
    Client,
    /// Lock attempts.
    Attempts,
    /// Wait time.
    Wait,
    /// Run time.
    Run,
    /// Chunks written.
    Chunks,
}

impl SortKey {
    const ORDER: [SortKey; 7] = [
        SortKey::Number,
        SortKey::State,
        SortKey::Client,
        SortKey::Attempts,
        SortKey::Wait,
        SortKey::Run,
        SortKey::Chunks,
    ];

    /// The column's header.
    pub fn title(self) -> &'static str {
        match self {
            SortKey::Number => "#",
            SortKey::State => "state",
            SortKey::Client => "client",
            SortKey::Attempts => "tries",
            SortKey::Wait => "wait",
            SortKey::Run => "run",
            SortKey::Chunks => "chunks",
        }
    }

    fn next(self) -> SortKey {
        let i = Self::ORDER.iter().position(|k| *k == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }
}

/// What the loop must do after an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing beyond redrawing.
    None,
    /// Send this to the engine.
    Send(Command),
    /// Stop the run and leave.
    Quit,
    /// Stop the run and start a new one with a new seed.
    Restart,
}

/// View state that is not a fold of events.
#[derive(Debug, Clone)]
pub struct Ui {
    /// Which panel arrows move.
    pub focus: Focus,
    /// The selected job.
    pub selected: Option<JobId>,
    /// First table row shown.
    pub offset: usize,
    /// Rows the table showed last frame (for paging and scrolling).
    pub page: usize,
    /// Sort column.
    pub sort: SortKey,
    /// Descending.
    pub reverse: bool,
    /// Show only jobs in this state.
    pub filter: Option<JobState>,
    /// The open overlay.
    pub overlay: Overlay,
    /// Log lines scrolled back from the newest.
    pub log_scroll: usize,
    /// The summary overlay was closed by the user (do not reopen it).
    pub summary_seen: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            focus: Focus::Jobs,
            selected: None,
            offset: 0,
            page: 10,
            sort: SortKey::Number,
            reverse: false,
            filter: None,
            overlay: Overlay::None,
            log_scroll: 0,
            summary_seen: false,
        }
    }
}

/// The dashboard's whole model: folded state plus view state.
pub struct App {
    /// Folded from events.
    pub state: DashState,
    /// Selection, focus, overlays.
    pub ui: Ui,
    /// Colours or monochrome.
    pub theme: Theme,
}

impl App {
    /// A fresh dashboard.
    pub fn new(theme: Theme) -> App {
        App {
            state: DashState::new(),
            ui: Ui::default(),
            theme,
        }
    }

    /// Shows the summary once the run is over (unless the user closed it already).
    pub fn after_events(&mut self) {
        if self.state.summary.is_some() && !self.ui.summary_seen && self.ui.overlay == Overlay::None
        {
            self.ui.overlay = Overlay::Summary;
        }
        if self.ui.selected.is_none() && !self.state.jobs.is_empty() {
            self.ui.selected = Some(self.state.jobs[0].id);
        }
    }

    /// Indices into `state.jobs` of the rows shown, filtered and sorted.
    pub fn visible_jobs(&self, now: f64) -> Vec<usize> {
        let jobs = &self.state.jobs;
        let mut rows: Vec<usize> = (0..jobs.len())
            .filter(|i| self.ui.filter.is_none_or(|f| jobs[*i].state == f))
            .collect();
        if self.ui.sort != SortKey::Number {
            rows.sort_by(|a, b| compare(&jobs[*a], &jobs[*b], self.ui.sort, now));
        }
        if self.ui.reverse {
            rows.reverse();
        }
        rows
    }

    /// Applies a key action to the view; returns what the loop must do.
    pub fn handle(&mut self, action: Action, now: f64) -> Effect {
        if self.ui.overlay != Overlay::None {
            match action {
                // Help over the summary: the summary comes back when help closes.
                Action::Help if self.ui.overlay == Overlay::Summary => {
                    self.ui.overlay = Overlay::Help;
                    return Effect::None;
                }
                Action::Close | Action::Help | Action::Detail => {
                    if self.ui.overlay == Overlay::Summary {
                        self.ui.summary_seen = true;
                    }
                    self.ui.overlay = Overlay::None;
                    return Effect::None;
                }
                Action::Quit | Action::Restart => {}
                // Overlays are modal for movement, not for faults or time.
                Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                    return Effect::None;
                }
                _ => {}
            }
        }
        match action {
            Action::Quit => Effect::Quit,
            Action::Restart => Effect::Restart,
            Action::Help => {
                self.ui.overlay = Overlay::Help;
                Effect::None
            }
            Action::Close => Effect::None,
            Action::TogglePause => Effect::Send(if self.state.paused {
                Command::Resume
            } else {
                Command::Pause
            }),
            Action::Faster => Effect::Send(Command::SetSpeed(self.state.speed * 2.0)),
            Action::Slower => Effect::Send(Command::SetSpeed(self.state.speed / 2.0)),
            Action::CrashHolder => Effect::Send(Command::Crash(Target::Holder(None))),
            Action::KillHolder => Effect::Send(Command::Kill(Target::Holder(None))),
            Action::StallHolder => Effect::Send(Command::Stall(
                Target::Holder(None),
                self.state.info.lease.max(0.001) * 2.0,
            )),
            Action::CrashSelected => match self.ui.selected {
                Some(j) => Effect::Send(Command::Crash(Target::Job(j))),
                None => Effect::None,
            },
            Action::AddJob => Effect::Send(Command::AddJob(None)),
            Action::Up => self.move_by(-1, now),
            Action::Down => self.move_by(1, now),
            Action::PageUp => self.move_by(-(self.ui.page.max(1) as isize), now),
            Action::PageDown => self.move_by(self.ui.page.max(1) as isize, now),
            Action::Detail => {
                if let Some(j) = self.ui.selected {
                    self.ui.overlay = Overlay::Detail(j);
                }
                Effect::None
            }
            Action::FocusNext => {
                self.ui.focus = match self.ui.focus {
                    Focus::Jobs => Focus::Log,
                    Focus::Log => Focus::Jobs,
                };
                Effect::None
            }
            Action::CycleFilter => {
                self.ui.filter = match self.ui.filter {
                    None => Some(JobState::ALL[0]),
                    Some(f) => {
                        let i = JobState::ALL.iter().position(|s| *s == f).unwrap_or(0);
                        JobState::ALL.get(i + 1).copied()
                    }
                };
                self.ui.offset = 0;
                Effect::None
            }
            Action::CycleSort => {
                self.ui.sort = self.ui.sort.next();
                Effect::None
            }
            Action::ReverseSort => {
                self.ui.reverse = !self.ui.reverse;
                Effect::None
            }
        }
    }

    fn move_by(&mut self, delta: isize, now: f64) -> Effect {
        if self.ui.focus == Focus::Log {
            let max = self.state.log.len().saturating_sub(1) as isize;
            self.ui.log_scroll = (self.ui.log_scroll as isize + delta).clamp(0, max) as usize;
            return Effect::None;
        }
        let rows = self.visible_jobs(now);
        if rows.is_empty() {
            return Effect::None;
        }
        let current = self
            .ui
            .selected
            .and_then(|id| rows.iter().position(|i| self.state.jobs[*i].id == id));
        // A selection hidden by the filter moves to the first row shown.
        let next = match current {
            Some(p) => (p as isize + delta).clamp(0, rows.len() as isize - 1) as usize,
            None => 0,
        };
        self.ui.selected = Some(self.state.jobs[rows[next]].id);
        Effect::None
    }
}

fn compare(a: &JobRow, b: &JobRow, key: SortKey, now: f64) -> Ordering {
    let by = match key {
        SortKey::Number => Ordering::Equal,
        SortKey::State => a.state.cmp(&b.state),
        SortKey::Client => a.client.cmp(&b.client),
        SortKey::Attempts => a.attempts.cmp(&b.attempts),
        SortKey::Wait => a.wait_time(now).total_cmp(&b.wait_time(now)),
        SortKey::Run => a.run_time(now).total_cmp(&b.run_time(now)),
        SortKey::Chunks => a.chunks.cmp(&b.chunks),
    };
    by.then(a.id.cmp(&b.id))
}
