//! The view state that is not a fold of events: focus, selection, sort, filter,
//! search, overlays, the chosen client, and what the last frame learned.

use super::{Areas, Search, SortKey};
use crate::events::JobId;
use crate::tui::state::JobState;

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
    /// Lines the log showed last frame (for its paging).
    pub log_page: usize,
    /// Sort column.
    pub sort: SortKey,
    /// Descending.
    pub reverse: bool,
    /// Show only jobs in this state.
    pub filter: Option<JobState>,
    /// The search box.
    pub search: Search,
    /// The open overlay.
    pub overlay: Overlay,
    /// Lines the open overlay is scrolled by.
    pub overlay_scroll: usize,
    /// Log lines scrolled back from the newest (0: follow the newest).
    pub log_scroll: usize,
    /// The summary overlay was closed by the user (do not reopen it).
    pub summary_seen: bool,
    /// The chosen client (index into `state.clients`): fault keys hit its holder,
    /// and the lock and timeline panels keep it in view.
    pub client: usize,
    /// A one-line answer to the last key (e.g. why it did nothing), until the next.
    pub notice: Option<String>,
    /// Where the last frame drew each panel (for the mouse).
    pub areas: Areas,
    /// In a replay, where it stands (`▶ 2x · event 812/2000`), for the header.
    pub replay_label: Option<String>,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            focus: Focus::Jobs,
            selected: None,
            offset: 0,
            page: 10,
            log_page: 10,
            sort: SortKey::Number,
            reverse: false,
            filter: None,
            search: Search::default(),
            overlay: Overlay::None,
            overlay_scroll: 0,
            log_scroll: 0,
            summary_seen: false,
            client: 0,
            notice: None,
            areas: Areas::default(),
            replay_label: None,
        }
    }
}

/// What drawing learned that the view state needs next time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drawn {
    /// Rows the jobs table had room for.
    pub page: usize,
    /// First row it showed.
    pub offset: usize,
    /// Lines the event log had room for.
    pub log_page: usize,
    /// Where each panel went (for the mouse).
    pub areas: Areas,
}

impl Ui {
    /// Keeps what the last frame learned: page sizes, the table's first row, and
    /// where each panel went.
    pub fn remember(&mut self, drawn: &Drawn) {
        self.page = drawn.page.max(1);
        self.offset = drawn.offset;
        self.log_page = drawn.log_page.max(1);
        self.areas = drawn.areas;
    }
}
