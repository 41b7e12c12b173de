//! joblock: a per-client job lock built only on a tiny document-store API, with an
//! engine that runs the classic 25-job exercise against it and front ends that show
//! what the lock is doing.
//!
//! Layering (see docs/ARCHITECTURE.md): [`store`] is the only thing [`lock`] touches; the
//! [`engine`] runs jobs ([`worker`]) on threads and reports everything as events;
//! front ends ([`headless`], later the dashboard) only consume those events.

pub mod clock;
pub mod describe;
pub mod engine;
pub mod events;
pub mod headless;
pub mod lock;
pub mod output;
pub mod reseed;
pub mod sanitize;
pub mod screen;
pub mod store;
pub mod torture;
pub mod tui;
pub mod verify;
pub mod watch;
pub mod worker;
