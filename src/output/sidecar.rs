//! The output's own record, kept in the sidecar file `PATH.fence`.
//!
//! The lock document in the store says how much of the output is committed, but a
//! store can forget (Redis without persistence restarted, a table truncated, a
//! failover to a replica that lagged). The output therefore keeps its own durable
//! record beside the fence: which lock document it belongs to (that document's
//! random incarnation id, written when the document was created), the highest fence
//! and the holder that fenced in with it, and the *watermark*: a length the store has
//! confirmed as committed. Nothing below the watermark is ever cut, whatever a store
//! says later.
//!
//! One JSON object on one line. The first format, `"FENCE SEQ"`, is still read (as
//! a record with no lock, holder or watermark yet), so outputs written by older
//! versions keep working.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};

use super::tail::Tail;

/// A commit announced before its release was sent: if the store forgets before the
/// output hears the answer, the record it names is kept rather than cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The committing holder's fence.
    pub fence: u64,
    /// The committing holder.
    pub owner: String,
    /// The committed length the release asks for.
    pub len: u64,
}

/// What the sidecar records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Format version (2).
    #[serde(default)]
    pub v: u32,
    /// This output's id: random, made when the sidecar is created. A lock document
    /// names the output it commits to by this id.
    #[serde(default)]
    pub output: String,
    /// The highest fence accepted.
    pub highest: u64,
    /// The owner that fenced in with `highest` (an equal fence from anybody else is refused).
    #[serde(default)]
    pub holder: Option<String>,
    /// The last operation's sequence number.
    pub seq: u64,
    /// Bytes the store confirmed as committed: never cut.
    #[serde(default)]
    pub watermark: u64,
    /// The incarnation of the lock document that fenced in.
    #[serde(default)]
    pub lock: Option<String>,
    /// That lock's key (for messages and for `joblock reseed`).
    #[serde(default)]
    pub key: Option<String>,
    /// A commit whose release is in flight.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// A fingerprint of the last committed bytes, to tell a replaced file (records
    /// from older versions have none, and are not checked).
    #[serde(default)]
    pub tail: Option<Tail>,
}

/// The current format version.
pub const VERSION: u32 = 2;

/// Reads the sidecar; an empty file is an empty record (no id yet).
pub fn read(f: &mut File) -> io::Result<Record> {
    let mut text = String::new();
    f.seek(SeekFrom::Start(0))?;
    // Bounded: a sidecar is one short line; anything huge is not ours.
    f.take(1 << 20).read_to_string(&mut text)?;
    parse(&text)
}

/// Parses a sidecar's text (current or first format): its first line is the
/// record; anything after it is the tail of a longer record a write had not yet cut.
pub fn parse(text: &str) -> io::Result<Record> {
    let t = text.lines().next().unwrap_or("").trim();
    if t.is_empty() {
        return Ok(Record::default());
    }
    if t.starts_with('{') {
        return serde_json::from_str(t).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("fence file is not a joblock record: {e}"),
            )
        });
    }
    let mut parts = t.split_whitespace().map(|p| p.parse::<u64>());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(highest)), Some(Ok(seq)), None) => Ok(Record {
            highest,
            seq,
            ..Record::default()
        }),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("fence file holds {t:?}, not a joblock record"),
        )),
    }
}

/// Replaces the sidecar's contents with `r`.
///
/// The line is written over the old one and only then is the file cut to its
/// length. Cutting first (to 0) would make ext4 flush the file to disk when it is
/// next closed (its `auto_da_alloc` guard for truncate-then-rewrite), which made a
/// run of 10,000 short jobs spend most of its time in writeback. Between the write
/// and the cut the file may hold the new line followed by the old one's tail:
/// [`parse`] reads the first line only.
pub fn write(f: &mut File, r: &Record) -> io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
    line.push(b'\n');
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&line)?;
    // Only a longer old record leaves a tail to cut (an fstat is cheaper than a
    // truncate that changes nothing, and most records keep their length).
    if f.metadata()?.len() > line.len() as u64 {
        f.set_len(line.len() as u64)?;
    }
    Ok(())
}

/// A fresh random id for a new output.
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_format_reads_as_a_record_without_a_watermark() {
        let r = parse("7 12\n").unwrap();
        assert_eq!((r.highest, r.seq, r.watermark), (7, 12, 0));
        assert!(r.output.is_empty() && r.lock.is_none());
    }

    #[test]
    fn a_record_round_trips_through_json() {
        let r = Record {
            v: VERSION,
            output: new_id(),
            highest: 3,
            holder: Some("h".into()),
            seq: 9,
            watermark: 54,
            lock: Some("inc".into()),
            key: Some("lock:worker:c".into()),
            pending: Some(Pending {
                fence: 3,
                owner: "h".into(),
                len: 81,
            }),
            tail: Some(Tail { at: 54, fnv: 7 }),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(parse(&text).unwrap(), r);
    }

    #[test]
    fn a_shorter_record_over_a_longer_one_reads_as_itself() {
        let long = Record {
            key: Some("lock:worker:a-much-longer-client-name".into()),
            ..Record::default()
        };
        let short = Record {
            highest: 4,
            ..Record::default()
        };
        let mut f = tempfile::tempfile().unwrap();
        write(&mut f, &long).unwrap();
        write(&mut f, &short).unwrap();
        assert_eq!(read(&mut f).unwrap(), short);
        // As if the cut never happened: the old tail after the new line is ignored.
        let text = format!(
            "{}\n{}",
            serde_json::to_string(&short).unwrap(),
            &serde_json::to_string(&long).unwrap()[5..]
        );
        assert_eq!(parse(&text).unwrap(), short);
    }

    #[test]
    fn garbage_is_refused_not_read_as_zero() {
        assert!(parse("hello").is_err());
        assert!(parse("1 2 3").is_err());
        assert!(parse("{\"nope\":1}").is_err());
    }
}
