//! The signals a wrapper catches: forwarded to the command's group while it runs,
//! and the end of a wait before it starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;

use crossbeam_channel::{Receiver, unbounded};
use signal_hook::consts::{
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2,
};

/// Signals the wrapper catches: the first four it forwards to the command (and
/// they end a wait); job-control stops it ignores, because a stopped wrapper
/// cannot renew the lease its command runs under.
pub struct Signals {
    /// Every forwarded signal caught, in order.
    pub(super) rx: Receiver<i32>,
    first: Arc<AtomicI32>,
}

const FORWARDED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

impl Signals {
    /// Starts catching.
    pub fn catch() -> std::io::Result<Signals> {
        let mut all = FORWARDED.to_vec();
        all.extend([SIGTSTP, SIGTTIN, SIGTTOU]);
        let mut signals = signal_hook::iterator::Signals::new(all)?;
        let (tx, rx) = unbounded();
        let first = Arc::new(AtomicI32::new(0));
        let f = first.clone();
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if !FORWARDED.contains(&sig) {
                        continue;
                    }
                    let _ = f.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                    if tx.send(sig).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Signals { rx, first })
    }

    /// Says whether a signal to forward has been caught: it ends a wait.
    pub fn interrupt(&self) -> crate::store::bounded::Interrupt {
        let first = self.first.clone();
        Arc::new(move || first.load(Ordering::SeqCst) != 0)
    }

    /// The first forwarded signal caught, if any.
    pub fn first(&self) -> Option<i32> {
        match self.first.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}
