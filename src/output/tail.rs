//! A fingerprint of the committed bytes just below the watermark, kept in the
//! output's record.
//!
//! The length alone cannot tell that an output was replaced by another file at
//! least as long (the next holder would cut that file to the committed length and
//! append after somebody else's bytes). Bytes below the watermark never change
//! while the file is ours, so the last few of them are a cheap witness: one short
//! read per fence-in, not a hash of the whole file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How many bytes below the watermark the fingerprint covers (fewer if the
/// watermark is lower).
pub const SPAN: u64 = 64;

/// The fingerprint of the committed bytes `at - SPAN .. at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tail {
    /// The length the fingerprint ends at (a watermark).
    pub at: u64,
    /// FNV-1a (64 bits) of those bytes: stable across versions and platforms.
    pub fnv: u64,
}

/// Fingerprints the bytes of `path` that end at `at`; `None` if the file is
/// shorter than `at` (nothing there to fingerprint).
pub fn read(path: &Path, at: u64) -> io::Result<Option<Tail>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if f.metadata()?.len() < at {
        return Ok(None);
    }
    let from = at.saturating_sub(SPAN);
    f.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::with_capacity(SPAN as usize);
    f.take(at - from).read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < at - from {
        return Ok(None);
    }
    Ok(Some(Tail {
        at,
        fnv: fnv1a(&bytes),
    }))
}

/// Whether the file at `path` still has the fingerprinted bytes (a file shorter
/// than `tail.at` does not).
pub fn holds(path: &Path, tail: &Tail) -> io::Result<bool> {
    Ok(read(path, tail.at)? == Some(*tail))
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_its_published_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_fingerprint_sees_other_bytes_and_a_shorter_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.txt");
        let record = "Maestro is the best......\n\n".repeat(3);
        std::fs::write(&path, &record).unwrap();
        let tail = read(&path, 81).unwrap().unwrap();
        assert!(holds(&path, &tail).unwrap());
        // Bytes after the fingerprinted ones do not matter.
        std::fs::write(&path, format!("{record}torn")).unwrap();
        assert!(holds(&path, &tail).unwrap());
        std::fs::write(&path, "y".repeat(200)).unwrap();
        assert!(!holds(&path, &tail).unwrap());
        std::fs::write(&path, &record[..30]).unwrap();
        assert!(!holds(&path, &tail).unwrap());
        std::fs::remove_file(&path).unwrap();
        assert!(!holds(&path, &tail).unwrap());
    }

    #[test]
    fn a_watermark_below_the_span_fingerprints_what_there_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.txt");
        std::fs::write(&path, "abc").unwrap();
        let tail = read(&path, 3).unwrap().unwrap();
        assert_eq!(tail.fnv, fnv1a(b"abc"));
        assert_eq!(read(&path, 0).unwrap().map(|t| t.fnv), Some(fnv1a(b"")));
    }
}
