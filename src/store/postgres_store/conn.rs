//! One connection to the server whose every exchange has a deadline.
//!
//! The blocking `postgres` client cannot give up on a read: a server that accepts
//! and never answers (a SIGSTOP, a hung host behind a live kernel) blocks it
//! forever, and TCP timeouts never fire because the kernel still acknowledges.
//! So each connection is a `tokio_postgres` one driven here on a single-threaded
//! runtime of its own (as the blocking client does internally), and every wait
//! for the server is a `tokio::time::timeout`. A connection whose deadline passed
//! is dropped (its reply may still come), so a late answer can never be read as
//! the answer to the next request.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use thiserror::Error;
use tokio::runtime::{Builder, Runtime};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Notification, Row};
use tokio_postgres::{Socket, Statement};

use crate::store::limits::Deadline;

/// How long a healthy connection being dropped may take to say goodbye
/// (`Terminate`, then closing the socket): nothing is waited for from the server.
const GOODBYE: Duration = Duration::from_millis(100);

/// Why an exchange with the server did not complete.
#[derive(Debug, Error)]
pub(super) enum Wire {
    /// The server or the connection reported an error.
    #[error(transparent)]
    Pg(#[from] tokio_postgres::Error),
    /// The deadline passed without an answer ("did not answer within ...").
    #[error("the server {0}")]
    Silent(String),
    /// The connection had already ended (closed by the server, or broken).
    #[error("the connection is closed")]
    Closed,
    /// No runtime could be made to drive the connection (out of file descriptors).
    #[error("cannot drive a connection: {0}")]
    Runtime(std::io::Error),
}

/// A connection: the client half (requests) and the driver (the socket).
///
/// Fields drop in order: the client first, which tells the driver to end, so the
/// driver's `Drop` can say goodbye to the server.
pub(super) struct Conn {
    client: Client,
    driver: Driver,
}

/// The socket side: read and written only while an exchange is waited for.
struct Driver {
    rt: Runtime,
    connection: Connection<Socket, NoTlsStream>,
    /// Notifications received and not yet taken, oldest first.
    notes: VecDeque<Notification>,
    /// The connection ended, or an exchange on it missed its deadline: it must not
    /// be used again.
    ended: bool,
}

impl Conn {
    /// Connects (TCP, startup, authentication) before `by`.
    pub(super) fn connect(config: &Config, by: Deadline) -> Result<Conn, Wire> {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Wire::Runtime)?;
        let left = by.left().ok_or_else(|| Wire::Silent(by.missed()))?;
        let connected =
            rt.block_on(async { tokio::time::timeout(left, config.connect(NoTls)).await });
        let (client, connection) = match connected {
            Ok(Ok(done)) => done,
            failed => {
                // Not a plain drop: that would wait for a host name lookup still
                // blocked on its thread.
                rt.shutdown_background();
                return Err(match failed {
                    Ok(Err(e)) => Wire::Pg(e),
                    _ => Wire::Silent(by.missed()),
                });
            }
        };
        let driver = Driver {
            rt,
            connection,
            notes: VecDeque::new(),
            ended: false,
        };
        Ok(Conn { client, driver })
    }

    /// Whether the connection can no longer be used.
    pub(super) fn is_closed(&self) -> bool {
        self.driver.ended || self.client.is_closed()
    }

    /// Runs `work` on the client before `by`, driving the connection meanwhile.
    pub(super) fn with<T>(
        &mut self,
        by: Deadline,
        work: impl AsyncFnOnce(&mut Client) -> T,
    ) -> Result<T, Wire> {
        let Conn { client, driver } = self;
        driver.block(by, work(client))
    }

    /// [`Conn::with`] for work that fails with the server's errors.
    pub(super) fn run<T>(
        &mut self,
        by: Deadline,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, Wire> {
        Ok(self.with(by, work)??)
    }

    /// Prepares `sql` with parameters of the given types.
    pub(super) fn prepare_typed(
        &mut self,
        by: Deadline,
        sql: &str,
        types: &[Type],
    ) -> Result<Statement, Wire> {
        let Conn { client, driver } = self;
        Ok(driver.block(by, client.prepare_typed(sql, types))??)
    }

    /// Runs a prepared statement and returns its rows.
    pub(super) fn query(
        &mut self,
        by: Deadline,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Wire> {
        let Conn { client, driver } = self;
        Ok(driver.block(by, client.query(stmt, params))??)
    }

    /// Runs a prepared statement and returns how many rows it affected.
    pub(super) fn execute(
        &mut self,
        by: Deadline,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Wire> {
        let Conn { client, driver } = self;
        Ok(driver.block(by, client.execute(stmt, params))??)
    }

    /// Runs statements given as text (no parameters, no rows back).
    pub(super) fn batch_execute(&mut self, by: Deadline, sql: &str) -> Result<(), Wire> {
        let Conn { client, driver } = self;
        Ok(driver.block(by, client.batch_execute(sql))??)
    }

    /// Reads what the server already sent, without waiting for more, and hands
    /// over every notification received so far.
    pub(super) fn take_notes(&mut self, by: Deadline) -> Result<Vec<Notification>, Wire> {
        self.driver.block(by, std::future::ready(()))?;
        Ok(self.driver.notes.drain(..).collect())
    }

    /// Waits until a notification arrives or `by` passes (`Ok(None)`: quiet is no
    /// failure here, a listener mostly waits).
    pub(super) fn next_note(&mut self, by: Deadline) -> Result<Option<Notification>, Wire> {
        if let Some(note) = self.driver.notes.pop_front() {
            return Ok(Some(note));
        }
        match self.driver.wait_for_note(by) {
            Err(Wire::Silent(_)) => Ok(None),
            Err(e) => Err(e),
            Ok(()) => Ok(self.driver.notes.pop_front()),
        }
    }
}

impl Driver {
    /// Polls `work` to completion, reading and writing the socket meanwhile, until
    /// `by`. A deadline missed ends the connection: the request may still be
    /// answered, and that answer must not be read as the next request's.
    fn block<T>(&mut self, by: Deadline, work: impl Future<Output = T>) -> Result<T, Wire> {
        let mut work = pin!(work);
        self.drive(by, true, move |cx, _| work.as_mut().poll(cx))
    }

    /// Drives the connection until a notification is buffered or `by` passes. A
    /// quiet wait is no fault of the connection, so it stays usable.
    fn wait_for_note(&mut self, by: Deadline) -> Result<(), Wire> {
        self.drive(by, false, |_, notes| {
            if notes.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
    }

    /// The loop under [`Driver::block`] and [`Driver::wait_for_note`]: reads every
    /// message the server sent (keeping the notifications), then polls `work`,
    /// until `work` is ready, the connection ends or `by` passes (then, if
    /// `silence_ends`, the connection is unusable).
    fn drive<T>(
        &mut self,
        by: Deadline,
        silence_ends: bool,
        mut work: impl FnMut(&mut Context<'_>, &VecDeque<Notification>) -> Poll<T>,
    ) -> Result<T, Wire> {
        if self.ended {
            return Err(Wire::Closed);
        }
        let Some(left) = by.left() else {
            return Err(self.missed(by, silence_ends));
        };
        let Driver {
            rt,
            connection,
            notes,
            ended,
        } = &mut *self;
        let both = poll_fn(|cx| {
            loop {
                match connection.poll_message(cx) {
                    Poll::Ready(Some(Ok(AsyncMessage::Notification(note)))) => {
                        notes.push_back(note);
                    }
                    // Notices (warnings the server sends on its own) are dropped.
                    Poll::Ready(Some(Ok(_))) => {}
                    Poll::Ready(Some(Err(e))) => {
                        *ended = true;
                        return Poll::Ready(Err(Wire::Pg(e)));
                    }
                    Poll::Ready(None) => {
                        *ended = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            match work(cx, notes) {
                Poll::Ready(v) => Poll::Ready(Ok(v)),
                Poll::Pending if *ended => Poll::Ready(Err(Wire::Closed)),
                Poll::Pending => Poll::Pending,
            }
        });
        // The timer is made inside the runtime: tokio's timers need one to exist.
        match rt.block_on(async { tokio::time::timeout(left, both).await }) {
            Ok(done) => done,
            Err(_) => Err(self.missed(by, silence_ends)),
        }
    }

    fn missed(&mut self, by: Deadline, ends: bool) -> Wire {
        if ends {
            self.ended = true;
        }
        Wire::Silent(by.missed())
    }
}

impl Drop for Driver {
    /// Says goodbye to a healthy server (the client, dropped first, asked the
    /// connection to end): a server left without `Terminate` logs an unexpected
    /// end of the connection. A connection that ended or missed a deadline is
    /// just closed: nothing is waited for from a server that may not answer.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let connection = &mut self.connection;
        let bye = poll_fn(|cx| {
            loop {
                match connection.poll_message(cx) {
                    Poll::Ready(Some(Ok(_))) => {}
                    Poll::Ready(_) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
        });
        let _ = self
            .rt
            .block_on(async { tokio::time::timeout(GOODBYE, bye).await });
    }
}
