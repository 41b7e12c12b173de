//! Change notices: a second connection kept subscribed to document channels, and
//! waits on it that never lose a notice published between two waits.

use std::collections::HashSet;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use redis::{Connection, Msg, RedisError};

use super::RedisStore;
use crate::store::StoreError;

/// At most this many buffered notices are read before a wait.
const DRAIN_MAX: usize = 256;
/// And for at most this long.
const DRAIN_BUDGET: Duration = Duration::from_millis(2);

/// A connection in subscribed mode and what it has seen.
///
/// It is driven without a long-lived [`redis::PubSub`]: that type borrows the
/// connection and unsubscribes from everything when dropped, but the subscription
/// must outlive each wait. Between waits, messages for its channels stay buffered in
/// the socket (or in `pending`), so a change made between a caller's read and its next
/// wait still wakes that wait at once.
pub(super) struct Subscriber {
    con: Connection,
    /// Channels this connection is subscribed to.
    channels: HashSet<String>,
    /// Channels a message arrived on while a wait was for another channel: the next
    /// wait for one of them returns at once instead of losing the notice.
    pending: HashSet<String>,
}

/// Reads the next pub/sub message from a subscribed connection, skipping
/// (un)subscribe confirmations; a read timeout is an error with `is_timeout()`.
///
/// The [`redis::PubSub`] is only used for its `get_message` (a read that, unlike
/// `recv_response`, does not count a timed-out read as a reply still owed), and is
/// never dropped: its `Drop` would unsubscribe from every channel. Nothing was
/// subscribed through it, so its queue is empty and forgetting it leaks nothing.
fn next_message(con: &mut Connection) -> Result<Msg, RedisError> {
    let mut pubsub = ManuallyDrop::new(con.as_pubsub());
    pubsub.get_message()
}

impl Subscriber {
    /// Subscribes to `channel` and waits (at most `limit`) for the server's
    /// confirmation, so a change published after this returns is delivered.
    /// Messages on other channels that arrive before the confirmation are kept in
    /// `pending`.
    fn subscribe(&mut self, channel: &str, limit: Duration) -> Result<(), RedisError> {
        // The confirmation gets a call's limit, not the caller's wait time: a short
        // first wait (often used just to subscribe) must still subscribe.
        self.con.set_read_timeout(Some(limit))?;
        self.con
            .send_packed_command(&redis::cmd("SUBSCRIBE").arg(channel).get_packed_command())?;
        loop {
            // A refusal (e.g. an ACL without this channel) is an error, not a
            // confirmation.
            let reply = self.con.recv_response()?.extract_error()?;
            match Msg::from_owned_value(reply) {
                Some(msg) => {
                    self.pending.insert(msg.get_channel_name().to_string());
                }
                // The only other reply in subscribed mode is a confirmation, and
                // confirmations come back in the order the channels were subscribed.
                None => break,
            }
        }
        self.channels.insert(channel.to_string());
        Ok(())
    }

    /// Moves every message already received (buffered in the socket) into `pending`,
    /// without waiting for more.
    ///
    /// Messages pile up while the handle does not wait (e.g. its own heartbeats while
    /// it holds the lock). Each says only "this document may have changed since it
    /// was published", so however many there are, one re-read by the caller answers
    /// them all: coalescing them makes a backlog cost one wake, not one per message.
    fn drain(&mut self) -> Result<(), RedisError> {
        // The shortest read timeout there is: buffered data is returned at once.
        self.con.set_read_timeout(Some(Duration::from_micros(1)))?;
        // Bounded: the kernel rounds that timeout up to milliseconds, so while the
        // document changes faster than that, "read until a timeout" would never end.
        // What is left stays buffered for the next wait.
        let started = Instant::now();
        for _ in 0..DRAIN_MAX {
            if started.elapsed() >= DRAIN_BUDGET {
                return Ok(());
            }
            match next_message(&mut self.con) {
                Ok(msg) => {
                    self.pending.insert(msg.get_channel_name().to_string());
                }
                Err(e) if e.is_timeout() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Waits until `deadline` for a message on `channel`; `Ok(false)` on timeout.
    /// An `Err` leaves the connection unusable.
    ///
    /// The first wait for a channel (on this connection) subscribes and returns `true`
    /// at once: the document may have changed between the caller's last read and the
    /// subscription, and nothing would report that change. One extra read closes
    /// the gap; from then on every change is delivered.
    fn wait(
        &mut self,
        channel: &str,
        deadline: Instant,
        limit: Duration,
    ) -> Result<bool, RedisError> {
        let fresh = !self.channels.contains(channel);
        if fresh {
            self.subscribe(channel, limit)?;
        }
        self.drain()?;
        if self.pending.remove(channel) || fresh {
            return Ok(true);
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // A zero read timeout is refused (and `None` would block forever).
                return Ok(false);
            }
            self.con.set_read_timeout(Some(left))?;
            match next_message(&mut self.con) {
                Ok(msg) if msg.get_channel_name() == channel => return Ok(true),
                Ok(msg) => {
                    self.pending.insert(msg.get_channel_name().to_string());
                }
                Err(e) if e.is_timeout() => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

impl RedisStore {
    /// Waits on this handle's subscriber (opened if there is none, within a call's
    /// limit) for a message on `channel` until `deadline`. On any error the
    /// subscriber is dropped, so the next wait reconnects and subscribes afresh.
    pub(super) fn wait_on(
        &self,
        slot: &mut Option<Subscriber>,
        channel: &str,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        let call = self.shared.limits.call_deadline();
        let sub = match slot {
            Some(sub) => sub,
            None => slot.insert(Subscriber {
                con: self.shared.open(call)?.con,
                channels: HashSet::new(),
                pending: HashSet::new(),
            }),
        };
        sub.wait(channel, deadline, call.limit()).map_err(|e| {
            *slot = None;
            // Only the subscription's confirmation can time out as an error: a
            // quiet wait is `Ok(false)`.
            self.shared.failed(&e, &call)
        })
    }
}
