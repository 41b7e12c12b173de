//! The text form of a look (`watch --once` without `--json`), one line per key.

use std::io::{self, Write};

use super::LockView;
use crate::lock::Holder;
use crate::sanitize::printable;

/// The text form of a look, one line per lock key. An empty or absent namespace
/// is named, so that a mistyped `--namespace` shows. A last `process` column
/// (host, pid, and command or job) appears only when some holder describes itself.
pub fn write_text(views: &[LockView], namespace: &str, out: &mut dyn Write) -> io::Result<()> {
    if views.is_empty() {
        return writeln!(out, "no locks yet in namespace {}", printable(namespace));
    }
    let processes = views.iter().any(|v| v.holder.is_some());
    let header = format!(
        "{:<28} {:<9} {:<38} {:>6} {:>9} {:>9} {:>9}  waiters",
        "key", "state", "holder", "fence", "heartbeat", "still", "committed"
    );
    let width = header.len();
    writeln!(out, "{header}{}", if processes { "  process" } else { "" })?;
    for v in views {
        let line = format!(
            "{:<28} {:<9} {:<38} {:>6} {:>9} {:>8.1}s {:>9}  {}",
            printable(&v.key),
            printable(&v.state),
            printable(v.owner.as_deref().unwrap_or("-")),
            v.fence,
            v.heartbeat,
            v.unchanged_for,
            v.committed,
            v.waiters.len()
        );
        if processes {
            let p = v.holder.as_ref().map_or("-".to_string(), process);
            writeln!(out, "{line:<width$}  {p}")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// A holder for people, made printable: `box-1 pid 42: python job.py` for a
/// `joblock run` wrapper, `job 7 · host box-1 pid 4242` for an engine's job.
pub fn process(h: &Holder) -> String {
    printable(&h.describe()).into_owned()
}
