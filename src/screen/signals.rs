//! SIGTERM and SIGHUP for a terminal front end: they arrive on a channel, so the
//! loop leaves the way `q` does (the run stopped cleanly, the terminal restored),
//! instead of dying with the terminal raw on the alternate screen.

use std::thread;

use crossbeam_channel::Receiver;
use signal_hook::consts::{SIGHUP, SIGTERM};
use signal_hook::iterator::Signals;

/// Starts listening for SIGTERM and SIGHUP; each one received is sent as its
/// number. If the handlers cannot be installed the channel never yields (and the
/// signals keep their default effect).
pub fn spawn() -> Receiver<i32> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let Ok(mut signals) = Signals::new([SIGTERM, SIGHUP]) else {
        return rx;
    };
    let _ = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in signals.forever() {
                if tx.send(s).is_err() {
                    return;
                }
            }
        });
    rx
}
