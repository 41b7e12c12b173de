//! Replaying a recording: where playback stands in a recorded run and how it
//! moves (play at a speed, seek, step, jump to the next fault or takeover).
//!
//! Pure logic, no threads, no clock reads, no drawing: a front end owns the time
//! source and the screen, tells the [`Player`] how much real time passed or which
//! move the user asked for, and folds the events each [`Step`] names into its own
//! state (the dashboard's state is a fold of events, so going back means folding
//! again from the start). It imports only [`crate::events`].

mod marks;
mod player;

pub use marks::is_mark;
pub use player::{MAX_SPEED, MIN_SPEED, Player, Step};

#[cfg(test)]
mod tests;
