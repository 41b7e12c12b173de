//! Running the real `joblock` binary from a test.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `joblock ARGS` in `dir` with stdin closed and captures everything.
pub fn joblock(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_joblock"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run the joblock binary")
}
