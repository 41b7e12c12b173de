//! joblock: a per-client job lock built only on a tiny document-store API, with an
//! engine that runs the classic 25-job exercise against it and front ends that show
//! what the lock is doing.
//!
//! Layers, top to bottom (docs/ARCHITECTURE.md is the map, docs/PROTOCOL.md the
//! rules the lock keeps): front ends ([`headless`], [`tui`], [`watch`], [`torture`],
//! [`reseed`]) read the [`events`] the [`engine`] emits and send it commands, or
//! (`watch`, [`locks`]) read lock state; the engine runs one job body ([`worker`])
//! per thread, which reports through its own [`worker::Sink`]; the job body uses the
//! [`lock`] (which touches only the [`store`] trait) and the fenced [`output`].
//! `tests/layers.rs` fails on an import that breaks this order or closes a cycle.

pub mod clock;
pub mod describe;
pub mod engine;
pub mod events;
pub mod headless;
pub mod lock;
pub mod locks;
pub mod output;
pub mod paths;
pub mod replay;
pub mod reseed;
pub mod run;
pub mod sanitize;
pub mod screen;
pub mod store;
pub mod timeline;
pub mod torture;
pub mod tui;
pub mod verify;
pub mod watch;
pub mod worker;
