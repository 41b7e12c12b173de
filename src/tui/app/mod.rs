//! The dashboard's view state (selection, focus, sort, filter, search, overlays,
//! the chosen client) and what each key action does to it. Engine-affecting
//! actions become [`Command`]s and replay moves become [`Move`]s; this module
//! never talks to the engine or the player itself.

mod mouse;
mod search;
mod sort;
mod ui;

pub use mouse::{Areas, Pointer};
pub use search::Search;
pub use sort::SortKey;
pub use ui::{Drawn, Focus, Overlay, Ui};

use ratatui::crossterm::event::KeyEvent;

use super::keys::{self, Action};
use super::state::{DashState, JobState};
use super::theme::Theme;
use crate::events::{Command, JobId, Target};
use search::Typed;

/// Slowest speed the keys go to (a halving more would look like a stop).
pub const MIN_SPEED: f64 = 1.0 / 64.0;
/// Fastest speed the keys go to.
pub const MAX_SPEED: f64 = 1024.0;

/// A move of a replay's position (the replay loop carries it out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Move {
    /// Play or pause.
    TogglePlay,
    /// Play at this speed.
    Speed(f64),
    /// Seconds back (negative) or forward.
    By(f64),
    /// To the start.
    Start,
    /// To the end.
    End,
    /// One event forward.
    Step,
    /// One event back.
    StepBack,
    /// To the next fault or takeover.
    NextMark,
    /// To the previous fault or takeover.
    PrevMark,
}

/// What the loop must do after an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing beyond redrawing.
    None,
    /// Send this to the engine.
    Send(Command),
    /// Move the replay.
    Replay(Move),
    /// Stop the run and leave.
    Quit,
    /// Stop the run and start a new one with a new seed.
    Restart,
}

/// The dashboard's whole model: folded state plus view state.
pub struct App {
    /// Folded from events.
    pub state: DashState,
    /// Selection, focus, overlays.
    pub ui: Ui,
    /// Colours or monochrome.
    pub theme: Theme,
    /// Whether this is a replay (faults cannot be injected; keys move in time).
    pub replay: bool,
    /// Log lines pushed when the view last looked (to hold a scrolled log still).
    seen_log: u64,
}

impl App {
    /// A fresh live dashboard.
    pub fn new(theme: Theme) -> App {
        App {
            state: DashState::new(),
            ui: Ui::default(),
            theme,
            replay: false,
            seen_log: 0,
        }
    }

    /// A fresh replay dashboard.
    pub fn replay(theme: Theme) -> App {
        App {
            replay: true,
            ..App::new(theme)
        }
    }

    /// Keeps the view consistent after events were folded: the summary shows once
    /// the run is over, a scrolled-back log holds still while lines arrive, the
    /// selection exists.
    pub fn after_events(&mut self) {
        if self.state.summary.is_some() && !self.ui.summary_seen && self.ui.overlay == Overlay::None
        {
            self.open(Overlay::Summary);
        }
        let pushed = self.state.log_pushed();
        if self.ui.log_scroll > 0 && pushed > self.seen_log {
            let new = (pushed - self.seen_log).min(self.state.log.len() as u64) as usize;
            let shown = self
                .state
                .log
                .iter()
                .rev()
                .take(new)
                .filter(|l| self.ui.search.matches_line(l))
                .count();
            self.ui.log_scroll += shown;
        }
        self.seen_log = pushed;
        self.ui.log_scroll = self.ui.log_scroll.min(self.log_lines().saturating_sub(1));
        if self
            .ui
            .selected
            .is_none_or(|id| self.state.job(id).is_none())
            && !self.state.jobs.is_empty()
        {
            self.ui.selected = Some(self.state.jobs[0].id);
        }
        self.ui.client = self
            .ui
            .client
            .min(self.state.clients.len().saturating_sub(1));
    }

    /// Log lines the view shows (those the search lets through).
    pub fn log_lines(&self) -> usize {
        if self.ui.search.active() {
            self.state
                .log
                .iter()
                .filter(|l| self.ui.search.matches_line(l))
                .count()
        } else {
            self.state.log.len()
        }
    }

    /// Indices into `state.jobs` of the rows shown: filtered, searched, sorted.
    pub fn visible_jobs(&self, now: f64) -> Vec<usize> {
        let jobs = &self.state.jobs;
        let mut rows: Vec<usize> = (0..jobs.len())
            .filter(|i| self.ui.filter.is_none_or(|f| jobs[*i].state == f))
            .filter(|i| self.ui.search.matches_job(&jobs[*i]))
            .collect();
        if self.ui.sort != SortKey::Number {
            rows.sort_by(|a, b| sort::compare(&jobs[*a], &jobs[*b], self.ui.sort, now));
        }
        if self.ui.reverse {
            rows.reverse();
        }
        rows
    }

    /// The selected job, if the table shows it (a hidden job is never acted on).
    pub fn selected_visible(&self) -> Option<JobId> {
        let id = self.ui.selected?;
        let job = self.state.job(id)?;
        let shown =
            self.ui.filter.is_none_or(|f| job.state == f) && self.ui.search.matches_job(job);
        shown.then_some(id)
    }

    /// The chosen client's name, if the run has clients.
    pub fn chosen_client(&self) -> Option<&str> {
        self.state
            .clients
            .get(self.ui.client)
            .map(|c| c.name.as_str())
    }

    /// Handles a key press: typed into the search box while it is open, else
    /// looked up in the key table.
    pub fn handle_key(&mut self, key: KeyEvent, now: f64) -> Effect {
        if self.ui.search.editing {
            if self.ui.search.type_key(key) != Typed::Done {
                self.reselect(now);
            }
            return Effect::None;
        }
        match keys::action_for(key, self.replay) {
            Some(Action::SeekBack) => self.handle_move(Move::By(-keys::seek_step(key))),
            Some(Action::SeekForward) => self.handle_move(Move::By(keys::seek_step(key))),
            Some(action) => self.handle(action, now),
            None => Effect::None,
        }
    }

    fn handle_move(&mut self, m: Move) -> Effect {
        self.ui.notice = None;
        if !self.replay {
            self.ui.notice = Some("seeking works in a replay: joblock replay EVENTS.jsonl".into());
            return Effect::None;
        }
        Effect::Replay(m)
    }

    /// Applies a key action to the view; returns what the loop must do.
    pub fn handle(&mut self, action: Action, now: f64) -> Effect {
        self.ui.notice = None;
        if self.ui.overlay != Overlay::None
            && let Some(effect) = self.handle_in_overlay(action)
        {
            return effect;
        }
        if self.replay && action.changes_the_run() {
            self.ui.notice = Some("a replay shows what happened: faults cannot be injected".into());
            return Effect::None;
        }
        match action {
            Action::Quit => Effect::Quit,
            Action::Restart => Effect::Restart,
            Action::Help => {
                self.open(Overlay::Help);
                Effect::None
            }
            Action::Close => {
                self.ui.search = Search::default();
                Effect::None
            }
            Action::TogglePause if self.replay => Effect::Replay(Move::TogglePlay),
            Action::TogglePause => Effect::Send(if self.state.paused {
                Command::Resume
            } else {
                Command::Pause
            }),
            Action::Faster => self.speed(2.0),
            Action::Slower => self.speed(0.5),
            Action::CrashHolder => self.at_holder(Command::Crash),
            Action::KillHolder => self.at_holder(Command::Kill),
            Action::StallHolder => {
                let secs = self.state.info.lease.max(0.001) * 2.0;
                self.at_holder(|t| Command::Stall(t, secs))
            }
            Action::CrashSelected => match self.selected_visible() {
                Some(j) => Effect::Send(Command::Crash(Target::Job(j))),
                None => {
                    self.ui.notice = Some("no job selected".into());
                    Effect::None
                }
            },
            Action::AddJob => {
                Effect::Send(Command::AddJob(self.chosen_client().map(str::to_string)))
            }
            Action::Up => self.move_by(-1, now),
            Action::Down => self.move_by(1, now),
            Action::PageUp => self.move_by(-(self.page() as isize), now),
            Action::PageDown => self.move_by(self.page() as isize, now),
            Action::Top => self.move_by(isize::MIN / 2, now),
            Action::Bottom => self.move_by(isize::MAX / 2, now),
            Action::PrevClient => self.choose_client(-1),
            Action::NextClient => self.choose_client(1),
            Action::Detail => {
                if let Some(j) = self.selected_visible() {
                    self.open(Overlay::Detail(j));
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
                self.reselect(now);
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
            Action::Search => {
                self.ui.search.editing = true;
                Effect::None
            }
            Action::SeekBack => self.handle_move(Move::By(-keys::SEEK_SECS)),
            Action::SeekForward => self.handle_move(Move::By(keys::SEEK_SECS)),
            Action::SeekStart => self.handle_move(Move::Start),
            Action::SeekEnd => self.handle_move(Move::End),
            Action::StepForward => self.handle_move(Move::Step),
            Action::StepBack => self.handle_move(Move::StepBack),
            Action::NextMark => self.handle_move(Move::NextMark),
            Action::PrevMark => self.handle_move(Move::PrevMark),
        }
    }

    /// Keys while an overlay is open: `Some` if the overlay took the key.
    fn handle_in_overlay(&mut self, action: Action) -> Option<Effect> {
        let scroll = |ui: &mut Ui, by: isize| {
            ui.overlay_scroll = ui.overlay_scroll.saturating_add_signed(by).min(10_000);
        };
        match action {
            // Help over the summary: the summary comes back when help closes.
            Action::Help if self.ui.overlay == Overlay::Summary => self.open(Overlay::Help),
            Action::Close | Action::Help | Action::Detail => {
                if self.ui.overlay == Overlay::Summary {
                    self.ui.summary_seen = true;
                }
                self.ui.overlay = Overlay::None;
            }
            // Overlays scroll with the movement keys; faults and time still work.
            Action::Up => scroll(&mut self.ui, -1),
            Action::Down => scroll(&mut self.ui, 1),
            Action::PageUp => scroll(&mut self.ui, -10),
            Action::PageDown => scroll(&mut self.ui, 10),
            Action::Top => self.ui.overlay_scroll = 0,
            Action::Bottom => scroll(&mut self.ui, 10_000),
            Action::Search | Action::FocusNext | Action::CycleFilter => {}
            _ => return None,
        }
        Some(Effect::None)
    }

    fn open(&mut self, overlay: Overlay) {
        self.ui.overlay = overlay;
        self.ui.overlay_scroll = 0;
    }

    fn page(&self) -> usize {
        match self.ui.focus {
            Focus::Jobs => self.ui.page.max(1),
            Focus::Log => self.ui.log_page.max(1),
        }
    }

    fn speed(&mut self, factor: f64) -> Effect {
        let now = if self.state.speed.is_finite() && self.state.speed > 0.0 {
            self.state.speed
        } else {
            1.0
        };
        let next = (now * factor).clamp(MIN_SPEED, MAX_SPEED);
        if next == now {
            self.ui.notice = Some(format!(
                "speed stays between 1/{} and {}x",
                (1.0 / MIN_SPEED) as u32,
                MAX_SPEED
            ));
            return Effect::None;
        }
        if self.replay {
            Effect::Replay(Move::Speed(next))
        } else {
            Effect::Send(Command::SetSpeed(next))
        }
    }

    /// A fault at the chosen client's holder.
    fn at_holder(&mut self, command: impl FnOnce(Target) -> Command) -> Effect {
        let client = self.chosen_client().map(str::to_string);
        Effect::Send(command(Target::Holder(client)))
    }

    fn choose_client(&mut self, delta: isize) -> Effect {
        let n = self.state.clients.len();
        if n == 0 {
            return Effect::None;
        }
        self.ui.client = (self.ui.client as isize + delta).rem_euclid(n as isize) as usize;
        Effect::None
    }

    /// After the rows shown changed: a selection the table no longer shows moves
    /// to the first row shown, so no key acts on a hidden job.
    fn reselect(&mut self, now: f64) {
        if self.selected_visible().is_some() {
            return;
        }
        let rows = self.visible_jobs(now);
        self.ui.selected = rows.first().map(|i| self.state.jobs[*i].id);
        self.ui.offset = 0;
    }

    fn move_by(&mut self, delta: isize, now: f64) -> Effect {
        if self.ui.focus == Focus::Log {
            let max = self.log_lines().saturating_sub(1);
            self.ui.log_scroll = self.ui.log_scroll.saturating_add_signed(delta).min(max);
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
            Some(p) => p.saturating_add_signed(delta).min(rows.len() - 1),
            None => 0,
        };
        let job = &self.state.jobs[rows[next]];
        self.ui.selected = Some(job.id);
        // Faults follow the selected job's client.
        if let Some(c) = self.state.clients.iter().position(|c| c.name == job.client) {
            self.ui.client = c;
        }
        Effect::None
    }
}
