//! `joblock locks`: list, show and release lock keys; the exit codes and the
//! text-or-JSON output around the library's `joblock::locks`.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{LocksArgs, LocksSub};
use crate::{FAILED, RUNTIME, USAGE};
use joblock::locks;
use joblock::sanitize::printable;

/// `locks`: the store could not be reached (sysexits' EX_UNAVAILABLE; `joblock
/// run` exits with it for the same reason).
const UNREACHABLE: u8 = joblock::run::EX_UNAVAILABLE;

/// `joblock locks ...`: a usage error is exit 2, a refusal or unknown key 1, a
/// store that cannot be reached 69, anything else 3, each one line on stderr.
pub fn run_locks(args: &LocksArgs) -> Result<ExitCode> {
    let target = args.command.target();
    let one_line = |code: u8, text: &str| {
        eprintln!("error: {}", printable(text));
        Ok(ExitCode::from(code))
    };
    let url = match target.store() {
        Ok(url) => url,
        Err(e) => return one_line(USAGE, &e),
    };
    let ns = &target.namespace;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let done = match &args.command {
        LocksSub::List(a) => locks::open_read(&url, ns)
            .and_then(|store| locks::list(store.as_ref(), a.sample))
            .map(|rows| emit(&mut out, target.json, &rows, |r, w| locks::write_list(r, w))),
        LocksSub::Show(a) => locks::open_read(&url, ns)
            .and_then(|store| locks::show(store.as_ref(), &a.key))
            .map(|d| emit(&mut out, target.json, &d, locks::write_detail)),
        LocksSub::Release(a) if !a.force => {
            let why = format!(
                "release revokes whoever holds {} at fence {} and stops its work: add --force if that is what you mean",
                a.key, a.fence
            );
            return one_line(USAGE, &why);
        }
        LocksSub::Release(a) => locks::release_in(&url, ns, &a.key, a.fence).map(|r| {
            if let Some(e) = &r.history_error {
                eprintln!("warning: the history did not record it: {}", printable(e));
            }
            emit(&mut out, target.json, &r, |r, w| {
                writeln!(w, "{}", printable(&r.line()))
            })
        }),
    };
    match done {
        Ok(written) => {
            written?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.unreachable() => one_line(UNREACHABLE, &e.to_string()),
        Err(e) if e.refused() => one_line(FAILED, &e.to_string()),
        // A table that is not joblock's, a malformed document: like every command.
        Err(e) => one_line(RUNTIME, &e.to_string()),
    }
}

/// Writes `value` as pretty JSON or, without `--json`, as `text` writes it.
fn emit<T: serde::Serialize>(
    out: &mut dyn Write,
    json: bool,
    value: &T,
    text: impl FnOnce(&T, &mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, value)?;
        writeln!(out)?;
    } else {
        text(value, out)?;
    }
    Ok(())
}
