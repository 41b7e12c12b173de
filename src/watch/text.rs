//! The text form of a look (`watch --once` without `--json`), one line per key.

use std::io::{self, Write};

use super::LockView;
use crate::lock::Holder;
use crate::sanitize::printable;

/// The text form of a look, one line per lock key. An empty or absent namespace
/// is named, so that a mistyped `--namespace` shows. A last `process` column
/// (host, pid, and command or job) appears only when some holder describes itself.
/// Below the table, one line per key whose output disagrees with its document.
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
    for note in views.iter().filter_map(output_note) {
        writeln!(out, "{note}")?;
    }
    Ok(())
}

/// One line for a key whose output is not in step with its document (printable),
/// `None` when it is, or when the document names no output.
pub fn output_note(v: &LockView) -> Option<String> {
    let o = v.output.as_ref().filter(|o| o.state != "in_step")?;
    let what = match o.state.as_str() {
        "out_of_step" => "OUTPUT OUT OF STEP",
        "missing" => "output not on this machine",
        _ => "output unreadable",
    };
    let problem = o.problem.as_deref().unwrap_or(&o.path);
    Some(printable(&format!("{}: {what}: {problem}", v.key)).into_owned())
}

/// A holder for people, made printable: `box-1 pid 42: python job.py` for a
/// `joblock run` wrapper, `job 7 · host box-1 pid 4242` for an engine's job.
pub fn process(h: &Holder) -> String {
    printable(&h.describe()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::OutputView;

    fn view(state: &str, problem: Option<&str>) -> LockView {
        LockView {
            key: "lock:worker:acme".into(),
            state: "free".into(),
            output: Some(OutputView {
                path: "/data/o.txt".into(),
                state: state.into(),
                on_disk: None,
                problem: problem.map(str::to_string),
            }),
            ..LockView::default()
        }
    }

    fn text(views: &[LockView]) -> String {
        let mut out = Vec::new();
        write_text(views, "etl", &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_output_out_of_step_gets_a_line_below_the_table_and_one_in_step_none() {
        let t = text(&[view("out_of_step", Some("/data/o.txt is out of step"))]);
        let last = t.lines().last().unwrap();
        assert_eq!(
            last,
            "lock:worker:acme: OUTPUT OUT OF STEP: /data/o.txt is out of step"
        );
        assert_eq!(text(&[view("in_step", None)]).lines().count(), 2);
        let t = text(&[view("missing", Some("not here"))]);
        assert!(t.ends_with("output not on this machine: not here\n"), "{t}");
    }
}
