//! Reading the scripts' replies: the MessagePack that `cmsgpack.pack` makes of
//! HGETALL lists, rebuilt into documents, and counts.

use serde_json::{Map, Value};

use super::Shared;
use crate::store::StoreError;

/// Reads the MessagePack that the scripts' `cmsgpack.pack` makes of HGETALL replies:
/// arrays and strings, nothing else.
///
/// The scripts pack documents into one string because the redis crate's reply parser
/// costs far more per element than per byte: a nested array of a lock document's ten
/// strings took about 3.5 µs to parse, one string holding the same bytes 0.5 µs,
/// while `cmsgpack.pack` costs the server about 1 µs.
pub(super) struct Packed<'a> {
    rest: &'a [u8],
}

impl<'a> Packed<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    /// A big-endian unsigned integer of `width` bytes.
    fn uint(&mut self, width: usize) -> Option<usize> {
        let bytes = self.take(width)?;
        Some(bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b)))
    }

    fn tag(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn array(&mut self) -> Option<usize> {
        let len = match self.tag()? {
            tag @ 0x90..=0x9f => usize::from(tag & 0x0f),
            0xdc => self.uint(2)?,
            0xdd => self.uint(4)?,
            _ => return None,
        };
        // Every element takes at least a byte: a longer array is malformed, and its
        // length must not size an allocation.
        (len <= self.rest.len()).then_some(len)
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = match self.tag()? {
            tag @ 0xa0..=0xbf => usize::from(tag & 0x1f),
            0xd9 | 0xc4 => self.uint(1)?,
            0xda | 0xc5 => self.uint(2)?,
            0xdb | 0xc6 => self.uint(4)?,
            _ => return None,
        };
        self.take(len)
    }
}

impl Shared {
    pub(super) fn unexpected(&self, what: &str) -> StoreError {
        StoreError::Unavailable(format!(
            "redis at {}: unexpected reply from a joblock script ({what})",
            self.url
        ))
    }

    /// Rebuilds the next document of a packed reply from HGETALL's flat
    /// (name, value text) list.
    fn read_doc(&self, packed: &mut Packed<'_>) -> Result<Value, StoreError> {
        let malformed = || self.unexpected("malformed document");
        let len = packed.array().ok_or_else(malformed)?;
        if len % 2 != 0 {
            return Err(malformed());
        }
        let mut doc = Map::new();
        for _ in 0..len / 2 {
            let (name, text) = packed.string().zip(packed.string()).ok_or_else(malformed)?;
            let outside = |what: String| {
                StoreError::Unavailable(format!(
                    "redis at {}: {what} of a document in namespace {}: the keys were \
                     changed outside joblock",
                    self.url, self.namespace
                ))
            };
            let name = String::from_utf8(name.to_vec()).map_err(|e| {
                outside(format!(
                    "field name {:?} is not UTF-8 ({e})",
                    String::from_utf8_lossy(name)
                ))
            })?;
            let value = serde_json::from_slice(text)
                .map_err(|e| outside(format!("field {name:?} is not JSON ({e})")))?;
            doc.insert(name, value);
        }
        Ok(Value::Object(doc))
    }

    /// The by-id script's `doc` reply: the document, or `None` when nothing matched.
    pub(super) fn doc_reply(&self, reply: redis::Value) -> Result<Option<Value>, StoreError> {
        match reply {
            // Lua's false: nil in RESP2, false in RESP3.
            redis::Value::Nil | redis::Value::Boolean(false) => Ok(None),
            redis::Value::BulkString(bytes) => {
                let mut packed = Packed { rest: &bytes };
                let doc = self.read_doc(&mut packed)?;
                if !packed.rest.is_empty() {
                    return Err(self.unexpected("trailing bytes"));
                }
                Ok(Some(doc))
            }
            _ => Err(self.unexpected("expected a packed document")),
        }
    }

    /// The scan script's `docs` reply.
    pub(super) fn docs_reply(&self, reply: redis::Value) -> Result<Vec<Value>, StoreError> {
        let redis::Value::BulkString(bytes) = reply else {
            return Err(self.unexpected("expected packed documents"));
        };
        let mut packed = Packed { rest: &bytes };
        let len = packed
            .array()
            .ok_or_else(|| self.unexpected("malformed documents"))?;
        let docs = (0..len)
            .map(|_| self.read_doc(&mut packed))
            .collect::<Result<Vec<_>, _>>()?;
        if !packed.rest.is_empty() {
            return Err(self.unexpected("trailing bytes"));
        }
        Ok(docs)
    }

    /// A `count` reply.
    pub(super) fn count_reply(&self, reply: redis::Value) -> Result<u64, StoreError> {
        match reply {
            redis::Value::Int(n) => u64::try_from(n).map_err(|_| self.unexpected("negative count")),
            _ => Err(self.unexpected("expected a count")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpCounter;
    use redis::Client;
    use serde_json::json;

    fn shared() -> Shared {
        Shared {
            client: Client::open("redis://127.0.0.1:1").unwrap(),
            url: "redis://127.0.0.1:1".to_string(),
            namespace: "ns".to_string(),
            ids_key: "ns:ids".to_string(),
            seq_key: "ns:seq".to_string(),
            doc_prefix: "ns:doc:".to_string(),
            channel_prefix: "ns:changed:".to_string(),
            limits: crate::store::Limits::default(),
            handshake_replies: 0,
            ops: OpCounter::default(),
        }
    }

    /// MessagePack as `cmsgpack.pack` writes an array of strings, with the wider
    /// headers that longer arrays and strings get.
    fn msgpack(items: &[&[u8]]) -> Vec<u8> {
        let mut out = match items.len() {
            n @ 0..=15 => vec![0x90 | n as u8],
            n @ 16..=0xffff => [vec![0xdc], (n as u16).to_be_bytes().to_vec()].concat(),
            n => [vec![0xdd], (n as u32).to_be_bytes().to_vec()].concat(),
        };
        for item in items {
            match item.len() {
                n @ 0..=31 => out.push(0xa0 | n as u8),
                n @ 32..=0xff => out.extend([0xd9, n as u8]),
                n @ 0x100..=0xffff => {
                    out.push(0xda);
                    out.extend((n as u16).to_be_bytes());
                }
                n => {
                    out.push(0xdb);
                    out.extend((n as u32).to_be_bytes());
                }
            }
            out.extend_from_slice(item);
        }
        out
    }

    #[test]
    fn packed_documents_are_read_whatever_the_header_widths() {
        let shared = shared();
        let long = format!("\"{}\"", "x".repeat(70_000));
        let mid = format!("\"{}\"", "y".repeat(300));
        let mut flat: Vec<Vec<u8>> = vec![
            b"_id".to_vec(),
            b"\"k\"".to_vec(),
            "name\u{0}\né".as_bytes().to_vec(),
            b"[1.5,{\"a\":null}]".to_vec(),
            b"long".to_vec(),
            long.clone().into_bytes(),
            b"mid".to_vec(),
            mid.clone().into_bytes(),
        ];
        for i in 0..10 {
            flat.push(format!("f{i}").into_bytes());
            flat.push(i.to_string().into_bytes());
        }
        let items: Vec<&[u8]> = flat.iter().map(Vec::as_slice).collect();
        let doc = shared
            .doc_reply(redis::Value::BulkString(msgpack(&items)))
            .unwrap()
            .unwrap();
        let mut expected = json!({
            "_id": "k",
            "name\u{0}\né": [1.5, {"a": null}],
            "long": "x".repeat(70_000),
            "mid": "y".repeat(300),
        });
        for i in 0..10 {
            expected[format!("f{i}")] = json!(i);
        }
        assert_eq!(doc, expected);

        // Two documents (the scan reply), the first one empty.
        let one = msgpack(&[b"_id", b"1"]);
        let mut docs = msgpack(&[]);
        docs[0] = 0x92;
        docs.extend(msgpack(&[]));
        docs.extend(&one);
        assert_eq!(
            shared.docs_reply(redis::Value::BulkString(docs)).unwrap(),
            vec![json!({}), json!({"_id": 1})]
        );
        assert_eq!(shared.doc_reply(redis::Value::Nil).unwrap(), None);
        assert_eq!(
            shared.doc_reply(redis::Value::Boolean(false)).unwrap(),
            None
        );
    }

    #[test]
    fn malformed_replies_are_unavailable_not_panics() {
        let shared = shared();
        let unavailable = |r: Result<Option<Value>, StoreError>| match r {
            Err(StoreError::Unavailable(msg)) => msg,
            other => panic!("expected Unavailable, got {other:?}"),
        };
        let bulk = |b: Vec<u8>| redis::Value::BulkString(b);
        for bad in [
            vec![],
            vec![0x91, 0xa1, b'a'],                   // odd length
            vec![0x92, 0xa1, b'a', 0xa5, b'1'],       // string cut short
            vec![0xdd, 0xff, 0xff, 0xff, 0xff, 0xa0], // array longer than the reply
            vec![0x92, 0xa1, b'a', 0x01],             // not a string
            vec![0x92, 0xa1, b'a', 0xa1, b'1', 0x00], // trailing bytes
        ] {
            let msg = unavailable(shared.doc_reply(bulk(bad)));
            assert!(msg.contains("unexpected reply"), "{msg}");
        }
        let msg = unavailable(shared.doc_reply(bulk(msgpack(&[b"a", b"{oops"]))));
        assert!(msg.contains("field \"a\" is not JSON"), "{msg}");
        assert!(msg.contains("changed outside joblock"), "{msg}");
        let msg = unavailable(shared.doc_reply(bulk(msgpack(&[b"\xff", b"1"]))));
        assert!(msg.contains("not UTF-8"), "{msg}");
        let msg = unavailable(shared.doc_reply(redis::Value::Int(1)));
        assert!(msg.contains("unexpected reply"), "{msg}");
        assert!(shared.count_reply(redis::Value::Int(-1)).is_err());
        assert_eq!(shared.count_reply(redis::Value::Int(3)), Ok(3));
    }
}
