//! An `EVALSHA` request written straight in the wire format (RESP), with values as
//! their canonical texts, so each argument is copied once.

use redis::Script;
use serde_json::{Map, Value};

use crate::store::StoreError;
use crate::store::canonical::canonical;
#[cfg(doc)]
use crate::store::canonical::canonical_text;
use crate::store::filter::describe;

/// An EVALSHA request, written in the wire format (RESP) as its arguments are added.
///
/// `redis::Script::invoke` copies every argument into its own `Vec`, then into a
/// `Cmd`, then packs that again, and `canonical_text` allocates a `String` per value:
/// on the lock's hot path (about twenty small arguments per call) that was some 2 µs
/// of client CPU per call. Here each argument, even a value's canonical text, goes
/// once into one buffer.
pub(super) struct Request {
    /// The arguments after `EVALSHA`, each as `$<len>\r\n<bytes>\r\n`.
    args: Vec<u8>,
    count: usize,
    /// Scratch space for a canonical text, whose length is written before it.
    text: Vec<u8>,
}

/// `n` in decimal: its digits are `digits[start..]` of the returned `(digits, start)`.
fn decimal(mut n: usize) -> ([u8; 20], usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return (digits, start);
        }
    }
}

/// Appends `n` in decimal.
fn push_decimal(buf: &mut Vec<u8>, n: usize) {
    let (digits, start) = decimal(n);
    buf.extend_from_slice(&digits[start..]);
}

/// Appends one RESP bulk string made of `head` then `tail` (e.g. a key prefix and an
/// id text), so they need not be joined first.
fn push_bulk(buf: &mut Vec<u8>, head: &[u8], tail: &[u8]) {
    buf.push(b'$');
    push_decimal(buf, head.len() + tail.len());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(head);
    buf.extend_from_slice(tail);
    buf.extend_from_slice(b"\r\n");
}

/// Writes the canonical text of `v` (exactly [`canonical_text`]'s bytes) into `buf`.
pub(super) fn write_canonical(buf: &mut Vec<u8>, v: &Value) -> Result<(), StoreError> {
    let written = match v {
        // The common case: strings are already canonical.
        Value::String(_) => serde_json::to_writer(&mut *buf, v),
        _ => serde_json::to_writer(&mut *buf, &canonical(v)),
    };
    // Unreachable (a Value always serialises, and a Vec always takes the bytes), but
    // an error is better than a panic if serde_json ever disagrees.
    written.map_err(|e| StoreError::Invalid(format!("cannot encode {}: {e}", describe(v))))
}

impl Request {
    /// A call of `script` with `keys` keys, which must be the first arguments added.
    pub(super) fn new(script: &Script, keys: usize) -> Request {
        let mut request = Request {
            args: Vec::with_capacity(512),
            count: 0,
            text: Vec::new(),
        };
        request.arg(script.get_hash().as_bytes());
        request.int(keys);
        request
    }

    pub(super) fn arg(&mut self, bytes: &[u8]) -> &mut Self {
        self.joined(bytes, b"")
    }

    /// One argument made of `head` followed by `tail`.
    pub(super) fn joined(&mut self, head: &[u8], tail: &[u8]) -> &mut Self {
        push_bulk(&mut self.args, head, tail);
        self.count += 1;
        self
    }

    pub(super) fn int(&mut self, n: usize) -> &mut Self {
        let (digits, start) = decimal(n);
        self.arg(&digits[start..])
    }

    /// The canonical text of `v`.
    fn text(&mut self, v: &Value) -> Result<&mut Self, StoreError> {
        self.text.clear();
        write_canonical(&mut self.text, v)?;
        push_bulk(&mut self.args, &self.text, b"");
        self.count += 1;
        Ok(self)
    }

    /// The names of `fields`, then their canonical texts (the scripts' filter layout).
    pub(super) fn filter(&mut self, fields: &Map<String, Value>) -> Result<&mut Self, StoreError> {
        self.int(fields.len());
        for name in fields.keys() {
            self.arg(name.as_bytes());
        }
        for value in fields.values() {
            self.text(value)?;
        }
        Ok(self)
    }

    /// (name, canonical text) pairs (the scripts' layout of fields to write).
    pub(super) fn pairs(&mut self, fields: &Map<String, Value>) -> Result<&mut Self, StoreError> {
        for (name, value) in fields {
            self.arg(name.as_bytes());
            self.text(value)?;
        }
        Ok(self)
    }

    /// The whole command, ready to send.
    pub(super) fn packed(&self) -> Vec<u8> {
        let mut cmd = Vec::with_capacity(self.args.len() + 32);
        cmd.push(b'*');
        push_decimal(&mut cmd, self.count + 1);
        cmd.extend_from_slice(b"\r\n$7\r\nEVALSHA\r\n");
        cmd.extend_from_slice(&self.args);
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::canonical::canonical_text;
    use serde_json::json;

    #[test]
    fn equal_values_get_equal_texts() {
        assert_eq!(canonical_text(&json!(-0.0)), canonical_text(&json!(0.0)));
        assert_eq!(
            canonical_text(&json!([{"b": 1, "a": -0.0}])),
            canonical_text(&json!([{"a": 0.0, "b": 1}]))
        );
        assert_eq!(canonical_text(&json!("x")), "\"x\"");
    }

    #[test]
    fn different_values_get_different_texts() {
        assert_ne!(canonical_text(&json!(1)), canonical_text(&json!(1.0)));
        assert_ne!(canonical_text(&json!("1")), canonical_text(&json!(1)));
        assert_ne!(canonical_text(&json!([])), canonical_text(&json!({})));
        assert_eq!(canonical_text(&json!(null)), "null");
    }

    #[test]
    fn canonical_texts_are_written_exactly_as_canonical_text_makes_them() {
        for v in [
            json!("lock:x"),
            json!("quote \" and \u{0} and é"),
            json!(null),
            json!(true),
            json!(-0.0),
            json!(1.5e300),
            json!(123456789012345_u64),
            json!(-7),
            json!([]),
            json!({}),
            json!({"b": [1, {"d": -0.0, "c": null}], "a": "x"}),
        ] {
            let mut buf = Vec::new();
            write_canonical(&mut buf, &v).unwrap();
            assert_eq!(String::from_utf8(buf).unwrap(), canonical_text(&v), "{v}");
        }
    }

    #[test]
    fn requests_are_packed_as_the_redis_crate_packs_them() {
        let script = Script::new("return 1");
        let mut request = Request::new(&script, 1);
        request
            .joined(b"ns:doc:", b"\"k\"")
            .arg(b"")
            .int(0)
            .int(1234567890)
            .text(&json!({"b": 1, "a": "\r\n"}))
            .unwrap();
        let expected = redis::cmd("EVALSHA")
            .arg(script.get_hash())
            .arg(1)
            .arg("ns:doc:\"k\"")
            .arg("")
            .arg(0)
            .arg(1234567890)
            .arg(r#"{"a":"\r\n","b":1}"#)
            .get_packed_command();
        assert_eq!(request.packed(), expected);
    }
}
