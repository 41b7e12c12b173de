//! The mouse: a click selects a job row or a client, or focuses a panel; the wheel
//! scrolls what it is over. The last frame's panel rectangles say what is where.

use ratatui::layout::{Position, Rect};

use super::{App, Effect, Focus};
use crate::screen::Input;

/// Where the last frame drew each panel, and which rows it showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// The jobs table (its border included).
    pub jobs: Rect,
    /// Screen row of the table's first job row.
    pub jobs_first_row: u16,
    /// The event log.
    pub log: Rect,
    /// The lock panel.
    pub lock: Rect,
    /// Screen row of the lock panel's first client row, when it lists clients.
    pub lock_first_row: Option<u16>,
    /// The timeline.
    pub timeline: Rect,
    /// Screen row of the timeline's first client strip.
    pub timeline_first_row: u16,
    /// Index of the first client the lock panel and timeline show.
    pub first_client: usize,
    /// Clients they show.
    pub clients_shown: usize,
}

/// A mouse event, in screen cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    /// A left click.
    Click {
        /// Column.
        col: u16,
        /// Row.
        row: u16,
    },
    /// The wheel turned.
    Scroll {
        /// Towards the user (down the list).
        down: bool,
        /// Column.
        col: u16,
        /// Row.
        row: u16,
    },
}

impl App {
    /// Handles one input: a key, a click, the wheel (a resize needs only a redraw).
    pub fn on_input(&mut self, input: Input, now: f64) -> Effect {
        match input {
            Input::Key(k) => self.handle_key(k, now),
            Input::Click(col, row) => self.pointer(Pointer::Click { col, row }, now),
            Input::Wheel(down, col, row) => self.pointer(Pointer::Scroll { down, col, row }, now),
            Input::Resize => Effect::None,
        }
    }

    /// Handles a mouse event.
    pub fn pointer(&mut self, p: Pointer, now: f64) -> Effect {
        let a = self.ui.areas;
        let (col, row) = match p {
            Pointer::Click { col, row } | Pointer::Scroll { col, row, .. } => (col, row),
        };
        let at = Position::new(col, row);
        if let Pointer::Scroll { down, .. } = p {
            let delta = if down { 3 } else { -3 };
            if a.log.contains(at) {
                self.ui.focus = Focus::Log;
            } else if a.jobs.contains(at) {
                self.ui.focus = Focus::Jobs;
            }
            return self.move_by(delta, now);
        }
        if self.ui.overlay != super::Overlay::None {
            return Effect::None;
        }
        if a.jobs.contains(at) {
            self.ui.focus = Focus::Jobs;
            if let Some(i) = row.checked_sub(a.jobs_first_row) {
                let rows = self.visible_jobs(now);
                if let Some(job) = rows.get(self.ui.offset + i as usize) {
                    let id = self.state.jobs[*job].id;
                    self.ui.selected = Some(id);
                    let client = self.state.jobs[*job].client.clone();
                    self.choose_named(&client);
                }
            }
        } else if a.log.contains(at) {
            self.ui.focus = Focus::Log;
        } else if a.lock.contains(at) {
            if let Some(first) = a.lock_first_row {
                self.pick_client_row(row.checked_sub(first));
            }
        } else if a.timeline.contains(at) {
            self.pick_client_row(row.checked_sub(a.timeline_first_row));
        }
        Effect::None
    }

    fn pick_client_row(&mut self, i: Option<u16>) {
        let Some(i) = i.map(usize::from) else { return };
        if i < self.ui.areas.clients_shown {
            let c = self.ui.areas.first_client + i;
            if c < self.state.clients.len() {
                self.ui.client = c;
            }
        }
    }

    fn choose_named(&mut self, client: &str) {
        if let Some(c) = self.state.clients.iter().position(|c| c.name == client) {
            self.ui.client = c;
        }
    }
}
