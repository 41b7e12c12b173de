//! Change notification, the waiting side: listener connections (with tight TCP
//! keepalives) subscribed to the namespace's channel, and waits on them for a row's
//! notification.

use std::time::{Duration, Instant};

use tokio_postgres::{Config, Notification};

use super::Shared;
use super::conn::{Conn, Wire};
use super::names::quote_ident;
use super::schema::ANY_ROW;
use crate::store::limits::Deadline;

/// How long the listener connection may be idle before TCP keepalive probes start,
/// and how far apart they are: a listener only receives, so without probes a server
/// that vanished from the network would leave it waiting (and deaf) for hours
/// rather than failing and being reopened. Only lowered, never raised, from the URL's.
const LISTENER_KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
const LISTENER_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const LISTENER_KEEPALIVE_RETRIES: u32 = 3;

/// Whether a notification may be about the row whose canonical key is `key`.
fn is_about(note: &Notification, channel: &str, key: &str) -> bool {
    note.channel() == channel && (note.payload() == key || note.payload() == ANY_ROW)
}

/// How a wait on the listener ended.
pub(super) enum Heard {
    /// A notification about the awaited row.
    Change,
    /// The deadline passed without one.
    Nothing,
    /// The listener connection broke.
    Lost,
}

/// Waits on `listener` (which LISTENs on `channel`) until a notification about
/// `key` arrives or `deadline` passes.
///
/// Notifications about other rows are dropped: the channel is per namespace, and a
/// handle waits on one lock key (a caller that waits on several ids in turn may see
/// a change to one of them only at its next poll). Everything already buffered is
/// read first, and after a match the rest of the buffer is read too: all of it is
/// older than the caller's next read, so keeping it would only cause early wakes.
pub(super) fn listen_for(
    listener: &mut Conn,
    channel: &str,
    key: &str,
    deadline: Instant,
) -> Heard {
    match drain(listener, channel, key) {
        Err(_) => return Heard::Lost,
        Ok(true) => return Heard::Change,
        Ok(false) => {}
    }
    loop {
        if listener.is_closed() {
            return Heard::Lost;
        }
        let now = Instant::now();
        if now >= deadline {
            return Heard::Nothing;
        }
        match listener.next_note(Deadline::after(deadline - now)) {
            Ok(Some(note)) if is_about(&note, channel, key) => {
                // Still a change if this fails: the caller finds the connection
                // closed and drops it.
                let _ = drain(listener, channel, key);
                return Heard::Change;
            }
            // Another row, or the deadline (the loop re-checks it and the
            // connection).
            Ok(_) => {}
            Err(_) => return Heard::Lost,
        }
    }
}

/// How long reading what is already buffered may take: it waits for nothing.
const DRAIN_LIMIT: Duration = Duration::from_millis(50);

/// Reads every notification already received, without waiting for more; whether
/// one is about `key`.
fn drain(listener: &mut Conn, channel: &str, key: &str) -> Result<bool, Wire> {
    let notes = listener.take_notes(Deadline::after(DRAIN_LIMIT))?;
    Ok(notes.iter().any(|note| is_about(note, channel, key)))
}

/// Sleeps until `deadline` (real time).
pub(super) fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

impl Shared {
    /// Opens a listener connection and subscribes it to the namespace's channel,
    /// both within one call's limit.
    pub(super) fn listen(&self) -> Result<Conn, Wire> {
        let by = self.limits.call_deadline();
        let mut listener = Conn::connect(&self.listener_config, by.within(self.limits.open()))?;
        // A channel in LISTEN is an identifier, not a value: it cannot be a parameter.
        listener.batch_execute(by, &format!("LISTEN {}", quote_ident(&self.names.channel)))?;
        Ok(listener)
    }
}

/// `config` with TCP keepalives on and their timing at most the listener's.
pub(super) fn listener_config(config: &Config) -> Config {
    let mut listener = config.clone();
    listener.keepalives(true);
    listener.keepalives_idle(config.get_keepalives_idle().min(LISTENER_KEEPALIVE_IDLE));
    let interval = config
        .get_keepalives_interval()
        .map_or(LISTENER_KEEPALIVE_INTERVAL, |i| {
            i.min(LISTENER_KEEPALIVE_INTERVAL)
        });
    listener.keepalives_interval(interval);
    let retries = config
        .get_keepalives_retries()
        .map_or(LISTENER_KEEPALIVE_RETRIES, |r| {
            r.min(LISTENER_KEEPALIVE_RETRIES)
        });
    listener.keepalives_retries(retries);
    listener
}
