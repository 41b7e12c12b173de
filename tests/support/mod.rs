//! Helpers shared by the integration tests.
// Each test crate uses only some of these.
#![allow(dead_code, unused_macros)]

pub mod bin;
pub mod conformance;
pub mod engines;
pub mod locks;
mod namespace;
pub mod pg_server;
pub mod redis_server;
mod spawn;
pub mod sqlite;
pub mod tmux;
pub mod wakes;
pub mod workers;

pub use namespace::unique_namespace;
pub mod events;
pub mod net;
pub mod run;
