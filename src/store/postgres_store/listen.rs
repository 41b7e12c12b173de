//! Change notification, the waiting side: listener connections (with tight TCP
//! keepalives) subscribed to the namespace's channel, and waits on them for a row's
//! notification.

use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls, Notification};

use super::Shared;
use super::names::quote_ident;
use super::schema::ANY_ROW;

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

/// Waits on `client` (which LISTENs on `channel`) until a notification about `key`
/// arrives or `deadline` passes.
///
/// Notifications about other rows are dropped: the channel is per namespace, and a
/// handle waits on one lock key (a caller that waits on several ids in turn may see
/// a change to one of them only at its next poll). Everything already buffered is
/// read first, and after a match the rest of the buffer is read too: all of it is
/// older than the caller's next read, so keeping it would only cause early wakes.
pub(super) fn listen_for(
    client: &mut Client,
    channel: &str,
    key: &str,
    deadline: Instant,
) -> Heard {
    let mut heard = false;
    if drain(client, channel, key, &mut heard).is_err() {
        return Heard::Lost;
    }
    if heard {
        return Heard::Change;
    }
    loop {
        // A closed connection makes the iterators below return `None` at once.
        if client.is_closed() {
            return Heard::Lost;
        }
        let now = Instant::now();
        if now >= deadline {
            return Heard::Nothing;
        }
        // A fresh iterator per notification: `timeout_iter` restarts its timer after
        // each one, so a busy namespace would otherwise keep the wait going forever.
        let next = client.notifications().timeout_iter(deadline - now).next();
        match next {
            Ok(Some(note)) if is_about(&note, channel, key) => {
                // Still a change if this fails: the caller finds the connection
                // closed and drops it.
                let _ = drain(client, channel, key, &mut false);
                return Heard::Change;
            }
            // Another row, or the timer (the loop re-checks the deadline and the
            // connection).
            Ok(_) => {}
            Err(_) => return Heard::Lost,
        }
    }
}

/// Reads every notification already received, without blocking; sets `heard` when
/// one is about `key`.
fn drain(
    client: &mut Client,
    channel: &str,
    key: &str,
    heard: &mut bool,
) -> Result<(), postgres::Error> {
    let mut notifications = client.notifications();
    let mut pending = notifications.iter();
    while let Some(note) = pending.next()? {
        *heard |= is_about(&note, channel, key);
    }
    Ok(())
}

/// Sleeps until `deadline` (real time).
pub(super) fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

impl Shared {
    /// Opens a listener connection and subscribes it to the namespace's channel.
    pub(super) fn listen(&self) -> Result<Client, postgres::Error> {
        let mut client = self.listener_config.connect(NoTls)?;
        // A channel in LISTEN is an identifier, not a value: it cannot be a parameter.
        client.batch_execute(&format!("LISTEN {}", quote_ident(&self.names.channel)))?;
        Ok(client)
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
