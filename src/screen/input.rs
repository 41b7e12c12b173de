//! A small thread that turns terminal input into messages for the loop: key
//! presses only (repeats and releases are dropped), left clicks, the wheel, and
//! resizes.

use std::thread;

use crossbeam_channel::Receiver;
use ratatui::crossterm::event::{
    self, Event, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};

/// What the input thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A key was pressed.
    Key(KeyEvent),
    /// The left button went down at (column, row).
    Click(u16, u16),
    /// The wheel turned at (column, row); `true` scrolls down.
    Wheel(bool, u16, u16),
    /// The terminal changed size.
    Resize,
}

fn mouse(m: MouseEvent) -> Option<Input> {
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(Input::Click(m.column, m.row)),
        MouseEventKind::ScrollDown => Some(Input::Wheel(true, m.column, m.row)),
        MouseEventKind::ScrollUp => Some(Input::Wheel(false, m.column, m.row)),
        _ => None,
    }
}

/// Starts reading the terminal; the channel closes if reading fails.
pub fn spawn() -> Receiver<Input> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let _ = thread::Builder::new().name("input".into()).spawn(move || {
        loop {
            let msg = match event::read() {
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => Input::Key(k),
                Ok(Event::Mouse(m)) => match mouse(m) {
                    Some(i) => i,
                    None => continue,
                },
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
