//! The stored form of an object: its JSON in upstream's field order without
//! `metadata.resourceVersion`, which is the key's `mod_revision` and is stamped in on the way
//! out. Reads splice the revision into the stored bytes at its place (after `uid`) instead
//! of decoding and encoding each object; a value in any other layout is decoded instead.

use keelson_storage::KeyValue;
use serde_json::Value;

use crate::field_order::{canonicalize, set_resource_version, OBJECT_META_BEFORE_RESOURCE_VERSION};
use crate::status::{ApiError, ApiResult};

/// The bytes to store for an object.
pub fn encode(obj: &Value) -> Vec<u8> {
    let mut obj = obj.clone();
    canonicalize(&mut obj);
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("resourceVersion");
    }
    serde_json::to_vec(&obj).unwrap_or_default()
}

fn not_json(key: &[u8], e: &serde_json::Error) -> ApiError {
    ApiError::internal(format!(
        "stored object at {} is not JSON: {e}",
        String::from_utf8_lossy(key)
    ))
}

/// Decodes a stored value and stamps its resourceVersion.
pub fn decode(kv: &KeyValue) -> ApiResult<Value> {
    decode_at(&kv.key, &kv.value, kv.mod_revision)
}

fn decode_at(key: &[u8], value: &[u8], revision: u64) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(value).map_err(|e| not_json(key, &e))?;
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        set_resource_version(meta, revision);
    }
    Ok(obj)
}

/// Appends a stored object with its resourceVersion stamped in.
pub fn stamp_kv(kv: &KeyValue, out: &mut Vec<u8>) -> ApiResult<()> {
    stamp(&kv.key, &kv.value, kv.mod_revision, out)
}

/// Appends a stored value with `revision` as its resourceVersion (a deleted object's last
/// state carries the revision of its deletion).
pub fn stamp(key: &[u8], value: &[u8], revision: u64, out: &mut Vec<u8>) -> ApiResult<()> {
    match Splice::find(value) {
        Some(splice) => {
            let (head, tail) = value.split_at(splice.at);
            out.extend_from_slice(head);
            if splice.comma_before {
                out.push(b',');
            }
            out.extend_from_slice(b"\"resourceVersion\":\"");
            out.extend_from_slice(revision.to_string().as_bytes());
            out.push(b'"');
            if splice.comma_after {
                out.push(b',');
            }
            out.extend_from_slice(tail);
        }
        None => {
            let obj = decode_at(key, value, revision)?;
            out.extend(serde_json::to_vec(&obj).map_err(|e| not_json(key, &e))?);
        }
    }
    Ok(())
}

/// Where `"resourceVersion":"N"` goes in a stored value written by [`encode`]: after the
/// top-level string fields before `metadata` (`kind`, `apiVersion`) and the metadata string
/// fields before it (`name` ... `uid`).
struct Splice {
    at: usize,
    comma_before: bool,
    comma_after: bool,
}

impl Splice {
    fn find(bytes: &[u8]) -> Option<Splice> {
        let mut s = Scanner { bytes, pos: 0 };
        s.expect(b'{')?;
        loop {
            let key = s.string()?;
            s.expect(b':')?;
            if key == b"metadata" {
                break;
            }
            s.string()?;
            s.expect(b',')?;
        }
        s.expect(b'{')?;
        let mut fields = 0;
        loop {
            let at = s.pos;
            if s.peek()? == b'}' {
                return Some(Splice {
                    at,
                    comma_before: fields > 0,
                    comma_after: false,
                });
            }
            let key = s.string()?;
            let before = OBJECT_META_BEFORE_RESOURCE_VERSION
                .iter()
                .any(|k| k.as_bytes() == key);
            if !before {
                return Some(Splice {
                    at,
                    comma_before: false,
                    comma_after: true,
                });
            }
            s.expect(b':')?;
            s.string()?;
            fields += 1;
            if s.peek()? == b',' {
                s.pos += 1;
            }
        }
    }
}

/// A cursor over compact JSON as serde_json writes it (no whitespace).
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// A JSON string; returns its raw (still escaped) content.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => return self.bytes.get(start..self.pos - 1),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kv(value: Vec<u8>) -> KeyValue {
        KeyValue {
            key: b"/k".to_vec(),
            value,
            create_revision: 1,
            mod_revision: 42,
            version: 1,
            lease: 0,
        }
    }

    #[test]
    fn stored_objects_are_stamped_without_decoding() {
        for obj in [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "9", "uid": "u\"x", "creationTimestamp": "t"}, "data": {"metadata": "{"}}),
            json!({"metadata": {}}),
            json!({"kind": "X", "metadata": {}}),
            json!({"metadata": {"name": "only"}}),
            json!({"kind": "Y", "metadata": {"labels": {"a": "b"}}}),
        ] {
            let kv = kv(encode(&obj));
            assert!(Splice::find(&kv.value).is_some(), "{obj}");
            let mut out = Vec::new();
            stamp_kv(&kv, &mut out).unwrap();
            let text = String::from_utf8(out.clone()).unwrap();
            let stamped: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(stamped, decode(&kv).unwrap());
            assert_eq!(stamped["metadata"]["resourceVersion"], "42");
            // The same bytes a decode and encode would give: the field is in its place.
            assert_eq!(text, serde_json::to_string(&decode(&kv).unwrap()).unwrap());
        }
    }

    #[test]
    fn other_layouts_are_decoded() {
        let kv = kv(br#"{"spec":{},"metadata":{"name":"n"}}"#.to_vec());
        assert!(Splice::find(&kv.value).is_none());
        let mut out = Vec::new();
        stamp_kv(&kv, &mut out).unwrap();
        let stamped: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(stamped["metadata"]["resourceVersion"], "42");
        assert!(stamp_kv(&super::tests::kv(b"{not json".to_vec()), &mut out).is_err());
    }
}
