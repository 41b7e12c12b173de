//! The end-of-run verdicts on the output files: the checker's rules applied to what
//! a run left on disk, as the summary's [`OutputCheck`]s.

use std::path::Path;

use crate::events::OutputCheck;
use crate::verify;

/// Verifies the committed part (the first `watermark` bytes) of a halted run's
/// output against its finished count: a halt leaves the file as it stood, so a torn
/// tail beyond the committed records may remain for the next holder to cut.
pub fn check_committed(client: &str, path: &Path, watermark: u64, expected: usize) -> OutputCheck {
    let bytes = match crate::paths::read_bounded(path, verify::MAX_FILE) {
        Ok(b) => b,
        Err(e) => return unreadable(client, path, expected, e.into()),
    };
    let cut = usize::try_from(watermark)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let v = verify::check(&bytes[..cut], Some(expected));
    let tail = bytes.len() - cut;
    let mut check = checked(client, path, expected, &v);
    check.passed &= cut as u64 == watermark;
    check.verdict = format!(
        "{} (run halted: the {watermark} committed bytes checked, {tail} bytes after them left for the next holder)",
        check.verdict
    );
    check
}

/// Verifies one client's output against its finished count.
pub fn check_output(client: &str, path: &Path, expected: usize) -> OutputCheck {
    match verify::check_file(path, Some(expected)) {
        Ok(v) => checked(client, path, expected, &v),
        Err(e) => unreadable(client, path, expected, e),
    }
}

/// A verdict as one client's output check.
fn checked(client: &str, path: &Path, expected: usize, v: &verify::Verdict) -> OutputCheck {
    OutputCheck {
        client: client.to_string(),
        path: path.display().to_string(),
        records: v.records,
        expected,
        passed: v.passed(),
        verdict: v.line(path),
    }
}

/// The check of an output that could not be read.
fn unreadable(client: &str, path: &Path, expected: usize, e: std::io::Error) -> OutputCheck {
    OutputCheck {
        client: client.to_string(),
        path: path.display().to_string(),
        records: 0,
        expected,
        passed: false,
        verdict: format!("FAIL: cannot read {}: {e}", path.display()),
    }
}
