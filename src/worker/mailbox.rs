//! A job's mailbox: how whoever runs a job (the engine, a command wrapper, a test)
//! gives it orders between its steps.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::events::Order;

/// A job's mailbox: the engine posts an order, the job picks it up at its next step.
///
/// `pending` is an atomic so that a sleeping job's interrupt predicate can read it
/// without locking (predicates run under the clock's mutex).
#[derive(Debug, Default)]
pub struct Mailbox {
    pending: AtomicBool,
    order: Mutex<Option<Order>>,
}

impl Mailbox {
    /// Posts an order; a later order replaces an earlier one not yet taken, except
    /// that nothing replaces a kill.
    pub fn post(&self, order: Order) {
        let mut slot = self.order.lock().unwrap_or_else(|p| p.into_inner());
        if *slot != Some(Order::Kill) {
            *slot = Some(order);
        }
        self.pending.store(true, Ordering::SeqCst);
    }

    /// Whether an order waits.
    pub fn has_order(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// Takes the waiting order, if any.
    pub fn take(&self) -> Option<Order> {
        let mut slot = self.order.lock().unwrap_or_else(|p| p.into_inner());
        self.pending.store(false, Ordering::SeqCst);
        slot.take()
    }
}
