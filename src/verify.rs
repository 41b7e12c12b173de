//! The output checker: the handout's rule and the strict rule.
//!
//! * **handout**: split the file on blank lines (`\n\n`); every non-empty part must be
//!   exactly `Maestro is the best......`.
//! * **strict**: additionally the file is nothing but whole records
//!   (`Maestro is the best......\n\n` repeated), so it ends with `\n\n` and has no torn
//!   tail or stray blank lines, and, when an expected count is given, it holds exactly
//!   that many records.

use std::fmt;
use std::io;
use std::path::Path;

use crate::paths;

/// The line each job writes.
pub const RECORD_LINE: &str = "Maestro is the best......";

/// One whole record: the line and a blank line (27 bytes).
pub const RECORD: &str = "Maestro is the best......\n\n";

/// Which rule a file broke first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A part between blank lines is not the record line (handout rule).
    BadPart {
        /// 1-based index of the part among the non-empty parts.
        index: usize,
        /// The offending part, shortened for display.
        text: String,
    },
    /// The file holds something other than whole records (strict rule).
    NotWholeRecords {
        /// Byte offset of the first byte that is not part of a whole record.
        offset: usize,
        /// Whole records before that point.
        records: usize,
    },
    /// The number of records differs from the expected count (strict rule).
    WrongCount {
        /// Records found.
        found: usize,
        /// Records expected.
        expected: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadPart { index, text } => write!(
                f,
                "part {index} is {text:?}, not {RECORD_LINE:?} (handout rule)"
            ),
            Problem::NotWholeRecords { offset, records } => write!(
                f,
                "bytes from offset {offset} (after {records} whole records) are not a whole record (strict rule)"
            ),
            Problem::WrongCount { found, expected } => {
                write!(f, "{found} records, expected {expected} (strict rule)")
            }
        }
    }
}

/// The checker's verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Parts that pass the handout rule (non-empty parts between blank lines).
    pub records: usize,
    /// Whether the handout rule holds.
    pub handout_ok: bool,
    /// The first problem found, if any (handout problems first, then strict ones).
    pub problem: Option<Problem>,
}

impl Verdict {
    /// Whether both rules hold.
    pub fn passed(&self) -> bool {
        self.problem.is_none()
    }

    /// One line for people: `ok: PATH: N whole records` or `FAIL: PATH: reason`.
    pub fn line(&self, path: &Path) -> String {
        match &self.problem {
            None => format!(
                "ok: {}: {} whole records (handout and strict rules pass)",
                path.display(),
                self.records
            ),
            Some(p) => format!("FAIL: {}: {p}", path.display()),
        }
    }
}

/// Checks file contents against both rules.
pub fn check(bytes: &[u8], expect: Option<usize>) -> Verdict {
    let text = String::from_utf8_lossy(bytes);
    let mut records = 0;
    let mut problem = None;
    for part in text.split("\n\n").filter(|p| !p.is_empty()) {
        if part == RECORD_LINE {
            records += 1;
        } else if problem.is_none() {
            problem = Some(Problem::BadPart {
                index: records + 1,
                text: shorten(part),
            });
        }
    }
    let handout_ok = problem.is_none();
    if problem.is_none() {
        let whole = bytes
            .chunks(RECORD.len())
            .take_while(|c| *c == RECORD.as_bytes())
            .count();
        let offset = whole * RECORD.len();
        if offset != bytes.len() {
            problem = Some(Problem::NotWholeRecords {
                offset,
                records: whole,
            });
        } else if let Some(expected) = expect
            && expected != whole
        {
            problem = Some(Problem::WrongCount {
                found: whole,
                expected,
            });
        }
    }
    Verdict {
        records,
        handout_ok,
        problem,
    }
}

/// Reads and checks a file, for callers that speak `io::Error` (see [`check_path`]).
pub fn check_file(path: &Path, expect: Option<usize>) -> io::Result<Verdict> {
    check_path(path, expect).map_err(io::Error::from)
}

/// Reads and checks a file.
///
/// Only a regular file is read (a FIFO or `/dev/zero` would never end), and only up
/// to [`MAX_FILE`]: past that it is refused, not read into memory.
pub fn check_path(path: &Path, expect: Option<usize>) -> Result<Verdict, paths::ReadError> {
    let bytes = paths::read_bounded(path, MAX_FILE)?;
    Ok(check(&bytes, expect))
}

/// The largest file the checker reads: 1 GiB, about 40 million records. It holds
/// the whole file in memory (twice, if it is not UTF-8), and no run writes that much.
pub const MAX_FILE: u64 = 1 << 30;

fn shorten(part: &str) -> String {
    const MAX: usize = 40;
    if part.chars().count() <= MAX {
        part.to_string()
    } else {
        let head: String = part.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> String {
        RECORD.repeat(n)
    }

    #[test]
    fn whole_records_pass_both_rules() {
        let v = check(records(3).as_bytes(), Some(3));
        assert!(v.passed(), "{v:?}");
        assert_eq!(v.records, 3);
    }

    #[test]
    fn an_empty_file_is_zero_records() {
        let v = check(b"", Some(0));
        assert!(v.passed());
        assert_eq!(v.records, 0);
    }

    #[test]
    fn a_torn_tail_fails_both_rules() {
        let text = format!("{}Maestro is", records(2));
        let v = check(text.as_bytes(), None);
        assert!(!v.handout_ok);
        assert!(matches!(v.problem, Some(Problem::BadPart { index: 3, .. })));
    }

    #[test]
    fn a_missing_final_blank_line_passes_the_handout_rule_only() {
        let text = format!("{}{RECORD_LINE}", records(1));
        let v = check(text.as_bytes(), None);
        assert!(v.handout_ok);
        assert_eq!(v.records, 2);
        assert!(matches!(
            v.problem,
            Some(Problem::NotWholeRecords {
                offset: 27,
                records: 1
            })
        ));
    }

    #[test]
    fn stray_blank_lines_pass_the_handout_rule_only() {
        let text = format!("{RECORD}\n\n{RECORD}");
        let v = check(text.as_bytes(), None);
        assert!(v.handout_ok);
        assert!(!v.passed());
    }

    #[test]
    fn interleaved_chunks_fail() {
        let text = "MaestMaestro is ro is the best......\n\n";
        assert!(!check(text.as_bytes(), None).passed());
    }

    #[test]
    fn a_wrong_record_count_fails_the_strict_rule() {
        let v = check(records(4).as_bytes(), Some(5));
        assert_eq!(
            v.problem,
            Some(Problem::WrongCount {
                found: 4,
                expected: 5
            })
        );
    }
}
