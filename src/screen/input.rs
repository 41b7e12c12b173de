//! A small thread that turns terminal input into messages for the loop: key
//! presses only (repeats and releases are dropped), and resizes.

use std::thread;

use crossbeam_channel::Receiver;
use ratatui::crossterm::event::{self, Event, KeyEvent, KeyEventKind};

/// What the input thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A key was pressed.
    Key(KeyEvent),
    /// The terminal changed size.
    Resize,
}

/// Starts reading the terminal; the channel closes if reading fails.
pub fn spawn() -> Receiver<Input> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let _ = thread::Builder::new().name("input".into()).spawn(move || {
        loop {
            let msg = match event::read() {
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => Input::Key(k),
                Ok(Event::Resize(_, _)) => Input::Resize,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    rx
}
