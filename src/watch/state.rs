//! What the live view shows: the last table the store gave, the selected key, and
//! the store's trouble since the last good look. A failed look never wipes the
//! table: it is kept, under a banner that says since when the store is unreachable.

use super::LockView;
use crate::store::StoreError;

/// The store has not answered since `since_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Trouble {
    /// When the first failed look was sent (ms since the Unix epoch).
    pub since_ms: u64,
    /// The latest failure.
    pub error: String,
}

/// The live view's state: a fold of the looks and the keys pressed.
#[derive(Debug, Clone, Default)]
pub(super) struct Shown {
    /// The last good look's keys.
    pub views: Vec<LockView>,
    /// When the last good look was sent (`None` before the first).
    pub looked_ms: Option<u64>,
    /// The selected key (kept by name: keys come and go between looks).
    selected: Option<String>,
    /// Set while looks fail.
    pub trouble: Option<Trouble>,
}

impl Shown {
    /// Takes in one look sent at `at_ms`: a good one replaces the table and clears
    /// the trouble; a failed one keeps the table and starts (or updates) the trouble.
    pub fn apply(&mut self, at_ms: u64, result: Result<Vec<LockView>, StoreError>) {
        match result {
            Ok(views) => {
                self.views = views;
                self.looked_ms = Some(at_ms);
                self.trouble = None;
            }
            Err(e) => {
                let since_ms = self.trouble.as_ref().map_or(at_ms, |t| t.since_ms);
                self.trouble = Some(Trouble {
                    since_ms,
                    error: e.to_string(),
                });
            }
        }
    }

    /// The row of the selected key: the first row if none was chosen (or it is gone).
    pub fn selected(&self) -> Option<usize> {
        if self.views.is_empty() {
            return None;
        }
        let by_name = self
            .selected
            .as_ref()
            .and_then(|k| self.views.iter().position(|v| &v.key == k));
        Some(by_name.unwrap_or(0))
    }

    /// The selected key's view.
    pub fn selected_view(&self) -> Option<&LockView> {
        self.selected().and_then(|i| self.views.get(i))
    }

    /// Moves the selection `by` rows (up is negative), stopping at either end.
    pub fn select(&mut self, by: isize) {
        let Some(at) = self.selected() else {
            return;
        };
        let last = self.views.len() - 1;
        let to = at.saturating_add_signed(by).min(last);
        self.selected = self.views.get(to).map(|v| v.key.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn views(keys: &[&str]) -> Vec<LockView> {
        keys.iter()
            .map(|k| LockView {
                key: k.to_string(),
                ..LockView::default()
            })
            .collect()
    }

    #[test]
    fn a_failed_look_keeps_the_table_and_the_first_failure_time() {
        let mut s = Shown::default();
        s.apply(1000, Ok(views(&["a", "b"])));
        s.apply(2000, Err(StoreError::Unavailable("down".into())));
        s.apply(3000, Err(StoreError::Unavailable("still down".into())));
        assert_eq!(s.views.len(), 2);
        let t = s.trouble.clone().map(|t| (t.since_ms, t.error));
        assert_eq!(t, Some((2000, "store unavailable: still down".to_string())));
        s.apply(4000, Ok(views(&["a"])));
        assert_eq!((s.trouble.is_none(), s.looked_ms), (true, Some(4000)));
    }

    #[test]
    fn the_selection_follows_its_key_and_stops_at_the_ends() {
        let mut s = Shown::default();
        assert_eq!(s.selected(), None);
        s.select(1);
        s.apply(0, Ok(views(&["a", "b", "c"])));
        assert_eq!(s.selected(), Some(0));
        s.select(-1);
        assert_eq!(s.selected(), Some(0));
        s.select(1);
        s.select(5);
        assert_eq!(s.selected_view().map(|v| v.key.as_str()), Some("c"));
        // A key that appears before the selected one moves the row, not the key.
        s.apply(1, Ok(views(&["0", "a", "b", "c"])));
        assert_eq!(s.selected(), Some(3));
    }
}
