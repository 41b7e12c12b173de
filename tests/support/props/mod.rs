//! Generators for `tests/tui_props.rs`: event streams (real and corrupted) and the
//! interleaved steps of a case.

pub mod ops;
pub mod streams;
