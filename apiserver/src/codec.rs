//! Bodies in and out: JSON or YAML requests, and the response format the client's Accept
//! header picks (JSON, YAML, or a `meta.k8s.io/v1` Table). Protobuf and CBOR are never
//! produced; a client that also accepts JSON gets JSON.

use serde_json::Value;

use crate::status::{ApiError, ApiResult};

/// The largest request body accepted, as upstream's limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How deep a body may nest; deeper input is refused before it can exhaust the stack.
const MAX_DEPTH: usize = 100;

fn depth_ok(bytes: &[u8]) -> bool {
    // Counting brackets outside strings bounds the nesting of JSON (and flow-style YAML);
    // block-style YAML nests by indentation, which the line length bounds.
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

fn too_deep() -> ApiError {
    ApiError::bad_request(format!(
        "the request body nests deeper than {MAX_DEPTH} levels"
    ))
}

/// Decodes a request body by its Content-Type: JSON, or YAML.
pub fn decode_body(content_type: &str, body: &[u8]) -> ApiResult<Value> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence {
        "" | "application/json" | "*/*" => decode_json(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml_or_json(body),
        crate::protobuf::CONTENT_TYPE => crate::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding the protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

pub fn decode_json(body: &[u8]) -> ApiResult<Value> {
    if !depth_ok(body) {
        return Err(too_deep());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding the request body as JSON: {e}")))
}

/// The paths of fields a JSON body names twice in one object (`metadata.name`), which a
/// plain decode would silently collapse to the last one.
pub fn duplicate_fields(body: &[u8]) -> Vec<String> {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

    struct Walk<'a> {
        path: String,
        found: &'a mut Vec<String>,
    }
    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = if self.path.is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", self.path)
                };
                if !seen.insert(key) {
                    self.found.push(path.clone());
                }
                map.next_value_seed(Walk {
                    path,
                    found: &mut *self.found,
                })?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while seq
                .next_element_seed(Walk {
                    path: format!("{}[{i}]", self.path),
                    found: &mut *self.found,
                })?
                .is_some()
            {
                i += 1;
            }
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }

    if !depth_ok(body) {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let _ = Walk {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de);
    found
}

/// YAML (a superset of JSON) into a JSON value; a multi-document stream is refused.
pub fn decode_yaml_or_json(body: &[u8]) -> ApiResult<Value> {
    if !depth_ok(body) {
        return Err(too_deep());
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let yaml: serde_yaml::Value = serde_yaml::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("error decoding the request body as YAML: {e}"))
    })?;
    serde_json::to_value(yaml)
        .map_err(|e| ApiError::bad_request(format!("the YAML body has no JSON form: {e}")))
}

/// The response format a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// `application/json;as=Table;v=v1;g=meta.k8s.io`
    Table,
    /// `application/json;as=PartialObjectMetadata(List);v=v1;g=meta.k8s.io`: metadata only.
    Metadata,
}

/// One media range of an Accept header.
struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let essence = parts.next().unwrap_or("");
            let params = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect();
            MediaRange { essence, params }
        })
        .collect()
}

fn param<'a>(range: &MediaRange<'a>, key: &str) -> Option<&'a str> {
    range
        .params
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
}

/// Picks the first acceptable format in the client's order. `table_ok` says whether this
/// request may be answered with a Table (reads of resources).
pub fn negotiate(accept: Option<&str>, table_ok: bool) -> ApiResult<Format> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Format::Json);
    };
    for range in media_ranges(accept) {
        let as_ = param(&range, "as");
        match (range.essence, as_) {
            ("application/json", Some("Table"))
                if table_ok
                    && param(&range, "g") == Some("meta.k8s.io")
                    && matches!(param(&range, "v"), Some("v1") | Some("v1beta1")) =>
            {
                return Ok(Format::Table)
            }
            ("application/json", Some("PartialObjectMetadata" | "PartialObjectMetadataList"))
                if table_ok
                    && param(&range, "g") == Some("meta.k8s.io")
                    && matches!(param(&range, "v"), Some("v1") | Some("v1beta1")) =>
            {
                return Ok(Format::Metadata)
            }
            ("application/json" | "application/*" | "*/*", None) => return Ok(Format::Json),
            ("application/yaml", None) => return Ok(Format::Yaml),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io",
    ))
}

/// Whether the Accept header asks for aggregated discovery (`as=APIGroupDiscoveryList`)
/// before any plain type.
pub fn wants_aggregated_discovery(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    for range in media_ranges(accept) {
        match (range.essence, param(&range, "as")) {
            ("application/json", Some("APIGroupDiscoveryList"))
                if param(&range, "g") == Some("apidiscovery.k8s.io")
                    && param(&range, "v") == Some("v2") =>
            {
                return true
            }
            ("application/json" | "*/*" | "application/*", None) => return false,
            _ => {}
        }
    }
    false
}

/// The Content-Type of aggregated discovery responses, exactly as clients match it.
pub const AGGREGATED_DISCOVERY_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_headers() {
        let get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(get), true).unwrap(), Format::Table);
        assert_eq!(negotiate(Some(get), false).unwrap(), Format::Json);
        let describe = "application/vnd.kubernetes.protobuf,application/json";
        assert_eq!(negotiate(Some(describe), true).unwrap(), Format::Json);
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf"), true).is_err());
        assert_eq!(negotiate(None, true).unwrap(), Format::Json);
        assert_eq!(
            negotiate(Some("application/yaml"), true).unwrap(),
            Format::Yaml
        );
        let kube_rs_metadata = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(
            negotiate(Some(kube_rs_metadata), true).unwrap(),
            Format::Metadata
        );
    }

    #[test]
    fn aggregated_discovery_is_opt_in() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated_discovery(Some(kubectl)));
        assert!(!wants_aggregated_discovery(Some("application/json")));
        assert!(!wants_aggregated_discovery(None));
    }

    #[test]
    fn duplicate_fields_are_found_with_their_path() {
        let body = br#"{"metadata":{"name":"a","name":"b"},"data":{"x":"1"},"items":[{"k":1,"k":2}],"data":{}}"#;
        assert_eq!(
            duplicate_fields(body),
            vec!["metadata.name", "items[0].k", "data"]
        );
        assert!(duplicate_fields(br#"{"a":{"a":1}}"#).is_empty());
        assert!(duplicate_fields(b"{not json").is_empty());
    }

    #[test]
    fn bodies() {
        assert_eq!(
            decode_body("application/yaml", b"a: 1\nb: [x]\n").unwrap(),
            serde_json::json!({"a": 1, "b": ["x"]})
        );
        assert!(decode_body("application/json", b"{").is_err());
        assert!(decode_body("text/plain", b"{}").is_err());
        let deep = "[".repeat(10_000);
        assert_eq!(
            decode_body("application/json", deep.as_bytes())
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            decode_body("application/yaml", deep.as_bytes())
                .unwrap_err()
                .code,
            400
        );
        assert!(decode_body("application/yaml", b"a: [1\n").is_err());
    }
}
