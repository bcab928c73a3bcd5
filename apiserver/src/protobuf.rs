//! Decoding of `application/vnd.kubernetes.protobuf` request bodies.
//!
//! kubectl's typed clients (`create configmap`, `create token`, `create deployment`, the
//! `DeleteOptions` of `delete`...) send their bodies as protobuf. Rather than keep a second
//! object model, the body is turned into the JSON upstream would have produced for the same Go
//! object, so everything downstream keeps handling JSON. The wire contract (field numbers and
//! types) comes from the catalogue's facts of upstream's `generated.proto` files; the few types
//! whose upstream JSON is custom (`Time`, `IntOrString`, `Quantity`, `RawExtension`...) are
//! rendered here the way upstream's `MarshalJSON` renders them.
//!
//! Body layout: the magic `k8s\0`, then a `runtime.Unknown` envelope whose `typeMeta` names the
//! object's apiVersion and kind and whose `raw` bytes hold the object's message.

use std::borrow::Cow;

use base64::Engine as _;
use keelson_apis::catalogue::{proto_message, ProtoField, ProtoKind};
use serde_json::{Map, Number, Value};

/// The media type of Kubernetes' protobuf encoding.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Every protobuf body and embedded protobuf object starts with these bytes.
const MAGIC: &[u8] = b"k8s\0";

/// Messages nest at most this deep; recursive schemas (`JSONSchemaProps`) would otherwise let a
/// small body exhaust the stack.
const MAX_DEPTH: usize = 100;

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";
const TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime";
const DURATION: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration";
const FIELDS_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1";
const INT_OR_STRING: &str = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "k8s.io.apimachinery.pkg.api.resource.Quantity";
const RAW_EXTENSION: &str = "k8s.io.apimachinery.pkg.runtime.RawExtension";
const SCHEMA_JSON: &str = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON";
const SCHEMA_OR_ARRAY: &str =
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray";
const SCHEMA_OR_BOOL: &str =
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool";
const SCHEMA_OR_STRINGS: &str =
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray";

/// Go named slice types (`type Verbs []string`): protobuf wraps them in a message with one
/// repeated `items` field, JSON writes the bare array.
const ITEM_WRAPPERS: &[&str] = &[
    "k8s.io.api.authentication.v1.ExtraValue",
    "k8s.io.api.authorization.v1.ExtraValue",
    "k8s.io.api.certificates.v1.ExtraValue",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Verbs",
];

/// Why a protobuf body could not be decoded; every case is the client's fault (400).
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("protobuf body does not start with the magic bytes \"k8s\\0\"")]
    BadMagic,
    #[error("truncated protobuf: {0}")]
    Truncated(&'static str),
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
    #[error("field {field} of {message} has wire type {found}, expected {expected}")]
    WrongWireType {
        message: String,
        field: u32,
        found: u8,
        expected: u8,
    },
    #[error("protobuf envelope carries no apiVersion and kind")]
    MissingTypeMeta,
    #[error("no protobuf encoding is known for kind {kind} of {api_version}")]
    UnknownKind { api_version: String, kind: String },
    #[error("unsupported protobuf envelope: {0}")]
    Unsupported(String),
    #[error("protobuf messages nest deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("invalid {message}: {reason}")]
    InvalidValue { message: String, reason: String },
}

type Result<T> = std::result::Result<T, ProtobufError>;

/// Decodes a Kubernetes protobuf body: the 4-byte magic `k8s\0`, then a runtime.Unknown
/// envelope (typeMeta{apiVersion,kind}, raw, contentEncoding, contentType) whose raw bytes are the object's message.
///
/// The result is the object's JSON form, carrying the envelope's `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value> {
    decode_envelope(body, 0)
}

fn decode_envelope(body: &[u8], depth: usize) -> Result<Value> {
    const UNKNOWN: &str = "k8s.io.apimachinery.pkg.runtime.Unknown";
    let rest = body.strip_prefix(MAGIC).ok_or(ProtobufError::BadMagic)?;
    let fields = parse_fields(rest)?;
    let type_meta = message_bytes(&fields, 1, UNKNOWN)?.unwrap_or_default();
    let type_fields = parse_fields(&type_meta)?;
    let api_version = string_field(&type_fields, 1, "k8s.io.apimachinery.pkg.runtime.TypeMeta")?;
    let kind = string_field(&type_fields, 2, "k8s.io.apimachinery.pkg.runtime.TypeMeta")?;
    let raw = message_bytes(&fields, 2, UNKNOWN)?.unwrap_or_default();
    let encoding = string_field(&fields, 3, UNKNOWN)?;
    let content_type = string_field(&fields, 4, UNKNOWN)?;
    if !encoding.is_empty() {
        return Err(ProtobufError::Unsupported(format!(
            "content encoding {encoding:?}"
        )));
    }
    if !content_type.is_empty() && content_type != CONTENT_TYPE {
        return Err(ProtobufError::Unsupported(format!(
            "content type {content_type:?}"
        )));
    }
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let name = message_name(&api_version, &kind).ok_or_else(|| ProtobufError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let Value::Object(body) = decode_message(&raw, name, depth + 1)? else {
        return Err(ProtobufError::UnknownKind { api_version, kind });
    };
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    // The envelope names the object; a body field cannot override it.
    for (key, value) in body {
        object.entry(key).or_insert(value);
    }
    Ok(Value::Object(object))
}

/// The fully qualified message of a kind: upstream's proto package of the group-version, or
/// meta/v1 for the option kinds (`DeleteOptions`...) every group-version also serves.
fn message_name(api_version: &str, kind: &str) -> Option<&'static str> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !word(version) || !word(kind) {
        return None;
    }
    let package = match group {
        "" => format!("k8s.io.api.core.{version}"),
        "meta.k8s.io" => format!("k8s.io.apimachinery.pkg.apis.meta.{version}"),
        "apiextensions.k8s.io" => {
            format!("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.{version}")
        }
        "apiregistration.k8s.io" => {
            format!("k8s.io.kube_aggregator.pkg.apis.apiregistration.{version}")
        }
        "internal.apiserver.k8s.io" => format!("k8s.io.api.apiserverinternal.{version}"),
        // Built-in groups are a single word (`apps`) or end in `.k8s.io`, and upstream's package
        // is their first label; anything else (custom resources) has no protobuf encoding.
        _ => {
            let label = group.split('.').next().filter(|l| word(l))?;
            if label != group && !group.ends_with(".k8s.io") {
                return None;
            }
            format!("k8s.io.api.{label}.{version}")
        }
    };
    proto_message(&format!("{package}.{kind}"))
        .or_else(|| proto_message(&format!("{META}.{kind}")))
        .map(|m| m.name)
}

/// One field occurrence on the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl Wire<'_> {
    fn wire_type(&self) -> u8 {
        match self {
            Wire::Varint(_) => 0,
            Wire::Fixed64(_) => 1,
            Wire::Bytes(_) => 2,
            Wire::Fixed32(_) => 5,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self
                .buf
                .split_first()
                .ok_or(ProtobufError::Truncated("varint"))?;
            self.buf = rest;
            // The tenth byte may only carry the 64th bit.
            if i == 9 && byte > 1 {
                return Err(ProtobufError::Malformed("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed("varint overflows 64 bits"))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        if len > self.buf.len() {
            return Err(ProtobufError::Truncated("length past the end"));
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        bytes
            .try_into()
            .map_err(|_| ProtobufError::Truncated("fixed-width value"))
    }

    fn field(&mut self) -> Result<Option<(u32, Wire<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|n| (1..1 << 29).contains(n))
            .ok_or(ProtobufError::Malformed("invalid field number"))?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(self.fixed()?)),
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| ProtobufError::Truncated("length past the end"))?;
                Wire::Bytes(self.take(len)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(self.fixed()?)),
            3 | 4 => return Err(ProtobufError::Malformed("groups are not supported")),
            _ => return Err(ProtobufError::Malformed("invalid wire type")),
        };
        Ok(Some((number, wire)))
    }
}

/// All field occurrences of a message, in wire order.
fn parse_fields(buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>> {
    let mut reader = Reader { buf };
    let mut fields = Vec::new();
    while let Some(field) = reader.field()? {
        fields.push(field);
    }
    Ok(fields)
}

fn wrong_wire(message: &str, field: u32, found: &Wire<'_>, expected: u8) -> ProtobufError {
    ProtobufError::WrongWireType {
        message: message.to_string(),
        field,
        found: found.wire_type(),
        expected,
    }
}

fn invalid(message: &str, reason: impl Into<String>) -> ProtobufError {
    ProtobufError::InvalidValue {
        message: message.to_string(),
        reason: reason.into(),
    }
}

/// A non-repeated embedded message: protobuf merges repeated occurrences, which is what
/// decoding their concatenation does.
fn message_bytes<'a>(
    fields: &[(u32, Wire<'a>)],
    number: u32,
    message: &str,
) -> Result<Option<Cow<'a, [u8]>>> {
    let mut out: Option<Cow<'a, [u8]>> = None;
    for (n, wire) in fields.iter().filter(|(n, _)| *n == number) {
        let Wire::Bytes(bytes) = wire else {
            return Err(wrong_wire(message, *n, wire, 2));
        };
        out = Some(match out {
            None => Cow::Borrowed(*bytes),
            Some(prev) => Cow::Owned([prev.as_ref(), bytes].concat()),
        });
    }
    Ok(out)
}

/// The last occurrence of a scalar field (protobuf's "last one wins").
fn last<'a>(fields: &[(u32, Wire<'a>)], number: u32) -> Option<Wire<'a>> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| *n == number)
        .map(|(_, w)| *w)
}

fn string_field(fields: &[(u32, Wire<'_>)], number: u32, message: &str) -> Result<String> {
    match last(fields, number) {
        None => Ok(String::new()),
        Some(Wire::Bytes(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
        Some(w) => Err(wrong_wire(message, number, &w, 2)),
    }
}

fn varint_field(fields: &[(u32, Wire<'_>)], number: u32, message: &str) -> Result<Option<u64>> {
    match last(fields, number) {
        None => Ok(None),
        Some(Wire::Varint(v)) => Ok(Some(v)),
        Some(w) => Err(wrong_wire(message, number, &w, 0)),
    }
}

/// Decodes one message into upstream's JSON form of it.
fn decode_message(buf: &[u8], name: &str, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    match name {
        TIME => return decode_time(buf, false),
        MICRO_TIME => return decode_time(buf, true),
        DURATION => return decode_duration(buf),
        INT_OR_STRING => return decode_int_or_string(buf),
        QUANTITY => {
            let fields = parse_fields(buf)?;
            let quantity = string_field(&fields, 1, QUANTITY)?;
            // The zero Quantity marshals as "0".
            return Ok(Value::String(if quantity.is_empty() {
                "0".into()
            } else {
                quantity
            }));
        }
        RAW_EXTENSION | FIELDS_V1 | SCHEMA_JSON => return decode_raw_json(buf, name, depth),
        _ => {}
    }
    let message =
        proto_message(name).ok_or_else(|| invalid(name, "no protobuf schema for this message"))?;
    let mut fields = parse_fields(buf)?;
    // Stable, so occurrences of one field keep their wire order.
    fields.sort_by_key(|(n, _)| *n);
    let mut object = Map::new();
    for field in message.fields {
        let start = fields.partition_point(|(n, _)| *n < field.number);
        let end = fields.partition_point(|(n, _)| *n <= field.number);
        let occurrences = fields.get(start..end).unwrap_or_default();
        if !occurrences.is_empty() {
            decode_field(field, occurrences, name, depth, &mut object)?;
        }
    }
    Ok(match name {
        SCHEMA_OR_BOOL | SCHEMA_OR_ARRAY | SCHEMA_OR_STRINGS => schema_union(name, object),
        _ if ITEM_WRAPPERS.contains(&name) => object
            .remove("items")
            .unwrap_or_else(|| Value::Array(Vec::new())),
        _ => Value::Object(object),
    })
}

fn decode_field(
    field: &ProtoField,
    occurrences: &[(u32, Wire<'_>)],
    message: &str,
    depth: usize,
    object: &mut Map<String, Value>,
) -> Result<()> {
    let value = match &field.kind {
        ProtoKind::Map(key_kind, value_kind) => {
            let mut map = Map::new();
            for (_, wire) in occurrences {
                let Wire::Bytes(entry) = wire else {
                    return Err(wrong_wire(message, field.number, wire, 2));
                };
                let entry = parse_fields(entry)?;
                let key = match scalar_or_default(key_kind, &entry, 1, message, depth)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let value = scalar_or_default(value_kind, &entry, 2, message, depth)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        kind if field.repeated => {
            let mut items = Vec::new();
            for (_, wire) in occurrences {
                match (kind, wire) {
                    // Packed encoding of numeric fields: one length-delimited run of values.
                    (kind, Wire::Bytes(run)) if packable(kind) => {
                        let mut reader = Reader { buf: run };
                        while !reader.buf.is_empty() {
                            let wire = match kind {
                                ProtoKind::Double => {
                                    Wire::Fixed64(u64::from_le_bytes(reader.fixed()?))
                                }
                                ProtoKind::Float => {
                                    Wire::Fixed32(u32::from_le_bytes(reader.fixed()?))
                                }
                                _ => Wire::Varint(reader.varint()?),
                            };
                            items.push(value_of(kind, wire, message, field.number, depth)?);
                        }
                    }
                    _ => items.push(value_of(kind, *wire, message, field.number, depth)?),
                }
            }
            Value::Array(items)
        }
        ProtoKind::Message(name) => {
            let bytes = message_bytes(occurrences, field.number, message)?.unwrap_or_default();
            let value = decode_message(&bytes, name, depth + 1)?;
            if field.json_name.is_empty() {
                // A Go struct embedded with `json:",inline"`: its fields are the parent's.
                let Value::Object(inner) = value else {
                    return Err(invalid(message, "inline field is not an object"));
                };
                object.extend(inner);
                return Ok(());
            }
            value
        }
        kind => {
            let Some((_, wire)) = occurrences.last() else {
                return Ok(());
            };
            let value = value_of(kind, *wire, message, field.number, depth)?;
            if field.omit_empty && is_zero(&value) {
                return Ok(());
            }
            value
        }
    };
    object.insert(field.json_name.to_string(), value);
    Ok(())
}

fn packable(kind: &ProtoKind) -> bool {
    !matches!(
        kind,
        ProtoKind::String | ProtoKind::Bytes | ProtoKind::Message(_) | ProtoKind::Map(..)
    )
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// A map entry's key or value; a missing one is its type's zero value.
fn scalar_or_default(
    kind: &ProtoKind,
    entry: &[(u32, Wire<'_>)],
    number: u32,
    message: &str,
    depth: usize,
) -> Result<Value> {
    if let ProtoKind::Message(name) = kind {
        let bytes = message_bytes(entry, number, message)?.unwrap_or_default();
        return decode_message(&bytes, name, depth + 1);
    }
    let wire = last(entry, number).unwrap_or(match kind {
        ProtoKind::String | ProtoKind::Bytes => Wire::Bytes(&[]),
        ProtoKind::Double => Wire::Fixed64(0),
        ProtoKind::Float => Wire::Fixed32(0),
        _ => Wire::Varint(0),
    });
    value_of(kind, wire, message, number, depth)
}

/// One value of a field's type from its wire occurrence.
fn value_of(
    kind: &ProtoKind,
    wire: Wire<'_>,
    message: &str,
    number: u32,
    depth: usize,
) -> Result<Value> {
    let expected = match kind {
        ProtoKind::Double => 1,
        ProtoKind::Float => 5,
        ProtoKind::String | ProtoKind::Bytes | ProtoKind::Message(_) | ProtoKind::Map(..) => 2,
        _ => 0,
    };
    // Go decodes varints into the field's width by truncation, which also makes
    // sign-extended (10-byte) negative int32s come out right.
    Ok(match (kind, wire) {
        (ProtoKind::String, Wire::Bytes(b)) => {
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
        (ProtoKind::Bytes, Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (ProtoKind::Message(name), Wire::Bytes(b)) => decode_message(b, name, depth + 1)?,
        (ProtoKind::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        (ProtoKind::Int32, Wire::Varint(v)) => Value::from(v as i32),
        (ProtoKind::Int64, Wire::Varint(v)) => Value::from(v as i64),
        (ProtoKind::Uint32, Wire::Varint(v)) => Value::from(v as u32),
        (ProtoKind::Uint64, Wire::Varint(v)) => Value::from(v),
        (ProtoKind::Double, Wire::Fixed64(v)) => float(f64::from_bits(v), message)?,
        (ProtoKind::Float, Wire::Fixed32(v)) => float(f64::from(f32::from_bits(v)), message)?,
        (_, wire) => return Err(wrong_wire(message, number, &wire, expected)),
    })
}

fn float(value: f64, message: &str) -> Result<Value> {
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or_else(|| invalid(message, "NaN or infinite number"))
}

/// `metav1.Time` (RFC 3339, seconds; upstream drops the nanoseconds on decode) or
/// `metav1.MicroTime` (six fractional digits); the zero time is `null`.
fn decode_time(buf: &[u8], micro: bool) -> Result<Value> {
    let name = if micro { MICRO_TIME } else { TIME };
    if buf.is_empty() {
        return Ok(Value::Null);
    }
    let fields = parse_fields(buf)?;
    let seconds = varint_field(&fields, 1, name)?.unwrap_or(0) as i64;
    let nanos = if micro {
        i64::from(varint_field(&fields, 2, name)?.unwrap_or(0) as i32)
    } else {
        0
    };
    // Go normalises nanoseconds outside [0, 1e9) into the seconds.
    let seconds = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or_else(|| invalid(name, "out of range"))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    // Go's zero time.Time, 0001-01-01T00:00:00Z, which upstream writes as null.
    if seconds == -62_135_596_800 && nanos == 0 {
        return Ok(Value::Null);
    }
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return Err(invalid(name, "year outside 0000..9999"));
    }
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if micro {
        text.push_str(&format!(".{:06}", nanos / 1000));
    }
    text.push('Z');
    Ok(Value::String(text))
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `metav1.Duration`: nanoseconds, written as Go's `time.Duration.String()` (`1h0m0s`, `1.5s`).
fn decode_duration(buf: &[u8]) -> Result<Value> {
    let fields = parse_fields(buf)?;
    let nanos = varint_field(&fields, 1, DURATION)?.unwrap_or(0) as i64;
    Ok(Value::String(go_duration(nanos)))
}

fn go_duration(nanos: i64) -> String {
    // With a fractional part of `digits` digits, trailing zeros (and a bare point) dropped.
    fn fixed(value: u64, digits: u32) -> String {
        let scale = 10u64.pow(digits);
        let (whole, frac) = (value / scale, value % scale);
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:0width$}", width = digits as usize);
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let text = match u {
        0 => return "0s".into(),
        1..=999 => format!("{u}ns"),
        1_000..=999_999 => format!("{}µs", fixed(u, 3)),
        1_000_000..=999_999_999 => format!("{}ms", fixed(u, 6)),
        _ => {
            let seconds = fixed(u % 60_000_000_000, 9);
            let minutes = u / 60_000_000_000;
            match minutes {
                0 => format!("{seconds}s"),
                1..=59 => format!("{minutes}m{seconds}s"),
                _ => format!("{}h{}m{seconds}s", minutes / 60, minutes % 60),
            }
        }
    };
    format!("{sign}{text}")
}

/// `intstr.IntOrString`: a JSON number (type 0) or string (type 1).
fn decode_int_or_string(buf: &[u8]) -> Result<Value> {
    let fields = parse_fields(buf)?;
    match varint_field(&fields, 1, INT_OR_STRING)?.unwrap_or(0) {
        0 => Ok(Value::from(
            varint_field(&fields, 2, INT_OR_STRING)?.unwrap_or(0) as i32,
        )),
        1 => Ok(Value::String(string_field(&fields, 3, INT_OR_STRING)?)),
        other => Err(invalid(INT_OR_STRING, format!("type {other}"))),
    }
}

/// Messages whose field 1 holds JSON bytes written verbatim: `runtime.RawExtension`,
/// `metav1.FieldsV1` and apiextensions' `JSON`. Empty is `null`; an embedded protobuf object
/// (magic prefix) is decoded in turn.
fn decode_raw_json(buf: &[u8], name: &str, depth: usize) -> Result<Value> {
    let fields = parse_fields(buf)?;
    let raw = match last(&fields, 1) {
        None => return Ok(Value::Null),
        Some(Wire::Bytes(raw)) => raw,
        Some(wire) => return Err(wrong_wire(name, 1, &wire, 2)),
    };
    if raw.is_empty() {
        Ok(Value::Null)
    } else if raw.starts_with(MAGIC) {
        decode_envelope(raw, depth + 1)
    } else {
        serde_json::from_slice(raw).map_err(|e| invalid(name, format!("embedded JSON: {e}")))
    }
}

/// apiextensions' union types, from their decoded fields, as upstream marshals them.
fn schema_union(name: &str, mut object: Map<String, Value>) -> Value {
    let schema = object.remove("schema");
    let list = match name {
        SCHEMA_OR_BOOL => {
            // The schema, else the boolean.
            let allows = object.get("allows").and_then(Value::as_bool);
            return schema.unwrap_or(Value::Bool(allows.unwrap_or(false)));
        }
        SCHEMA_OR_ARRAY => object.remove("jSONSchemas"),
        _ => object.remove("property"),
    };
    // The list when non-empty, else the schema (or null).
    match list {
        Some(Value::Array(items)) if !items.is_empty() => Value::Array(items),
        _ => schema.unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A test-only protobuf writer.
    #[derive(Default)]
    struct Msg(Vec<u8>);

    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    impl Msg {
        fn key(mut self, number: u32, wire_type: u8) -> Self {
            put_varint(&mut self.0, u64::from(number) << 3 | u64::from(wire_type));
            self
        }
        fn varint(self, number: u32, v: u64) -> Self {
            let mut m = self.key(number, 0);
            put_varint(&mut m.0, v);
            m
        }
        fn int(self, number: u32, v: i64) -> Self {
            self.varint(number, v as u64)
        }
        fn bytes(self, number: u32, b: &[u8]) -> Self {
            let mut m = self.key(number, 2);
            put_varint(&mut m.0, b.len() as u64);
            m.0.extend_from_slice(b);
            m
        }
        fn str(self, number: u32, s: &str) -> Self {
            self.bytes(number, s.as_bytes())
        }
        fn msg(self, number: u32, m: Msg) -> Self {
            self.bytes(number, &m.0)
        }
        fn entry(self, number: u32, key: &str, value: &str) -> Self {
            self.msg(number, Msg::default().str(1, key).str(2, value))
        }
    }

    /// The envelope as upstream's serializer writes it (empty strings included).
    fn body(api_version: &str, kind: &str, object: Msg) -> Vec<u8> {
        let type_meta = Msg::default().str(1, api_version).str(2, kind);
        let unknown = Msg::default()
            .msg(1, type_meta)
            .bytes(2, &object.0)
            .str(3, "")
            .str(4, "");
        [MAGIC, &unknown.0].concat()
    }

    /// ObjectMeta as Go writes it: every non-pointer field, creationTimestamp as an empty Time.
    fn meta(name: &str) -> Msg {
        Msg::default()
            .str(1, name)
            .str(2, "")
            .str(3, "")
            .str(4, "")
            .str(5, "")
            .str(6, "")
            .varint(7, 0)
            .msg(8, Msg::default())
    }

    fn quantity(s: &str) -> Msg {
        Msg::default().str(1, s)
    }

    #[test]
    fn config_map() {
        let cm = Msg::default()
            .msg(1, meta("x").entry(11, "app", "web"))
            .entry(2, "a", "1")
            .entry(2, "b", "")
            .msg(3, Msg::default().str(1, "bin").bytes(2, &[0, 1, 2, 255]));
        let value = decode(&body("v1", "ConfigMap", cm)).unwrap();
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "x", "labels": {"app": "web"}, "creationTimestamp": null},
                "data": {"a": "1", "b": ""},
                "binaryData": {"bin": "AAEC/w=="},
            })
        );
    }

    #[test]
    fn deployment() {
        let container = Msg::default()
            .str(1, "nginx")
            .str(2, "nginx:1.27")
            .msg(
                6,
                Msg::default()
                    .str(1, "")
                    .varint(2, 0)
                    .varint(3, 80)
                    .str(4, "TCP")
                    .str(5, ""),
            )
            .msg(7, Msg::default().str(1, "MODE").str(2, "fast"))
            .msg(
                8,
                Msg::default().msg(1, Msg::default().str(1, "cpu").msg(2, quantity("500m"))),
            )
            .str(13, "")
            .str(14, "")
            .varint(16, 0);
        let pod_spec = Msg::default().msg(2, container).str(3, "").str(6, "");
        let template = Msg::default()
            .msg(1, meta("").entry(11, "app", "web"))
            .msg(2, pod_spec);
        let spec = Msg::default()
            .varint(1, 0)
            .msg(2, Msg::default().entry(1, "app", "web"))
            .msg(3, template)
            .msg(4, Msg::default())
            .varint(5, 0)
            .varint(7, 0);
        let deployment = Msg::default()
            .msg(1, meta("web"))
            .msg(2, spec)
            .msg(3, Msg::default());
        let value = decode(&body("apps/v1", "Deployment", deployment)).unwrap();
        assert_eq!(
            value,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "creationTimestamp": null},
                "spec": {
                    // A pointer field: zero stays.
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                        "spec": {"containers": [{
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "fast"}],
                            "resources": {"limits": {"cpu": "500m"}},
                        }]},
                    },
                    "strategy": {},
                },
                "status": {},
            })
        );
    }

    #[test]
    fn token_request() {
        let spec = Msg::default()
            .str(1, "https://kubernetes.default.svc")
            .str(1, "api")
            .int(4, 3600);
        let status = Msg::default().str(1, "").msg(2, Msg::default());
        let request = Msg::default().msg(1, meta("")).msg(2, spec).msg(3, status);
        let value = decode(&body("authentication.k8s.io/v1", "TokenRequest", request)).unwrap();
        assert_eq!(
            value,
            json!({
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "metadata": {"creationTimestamp": null},
                "spec": {"audiences": ["https://kubernetes.default.svc", "api"], "expirationSeconds": 3600},
                "status": {"token": "", "expirationTimestamp": null},
            })
        );
    }

    #[test]
    fn pod_time_and_negative_ints() {
        let created = Msg::default().int(1, 1_767_323_045).int(2, 5);
        let security = Msg::default().int(4, -1).varint(6, 0);
        let container = Msg::default()
            .str(1, "c")
            .msg(6, Msg::default().int(3, -5))
            .msg(15, security);
        let pod = Msg::default()
            .msg(1, meta("p").msg(8, created))
            .msg(2, Msg::default().msg(2, container).int(4, 0));
        let value = decode(&body("v1", "Pod", pod)).unwrap();
        assert_eq!(
            value["metadata"]["creationTimestamp"],
            "2026-01-02T03:04:05Z"
        );
        let c = &value["spec"]["containers"][0];
        assert_eq!(c["ports"][0]["containerPort"], -5);
        assert_eq!(
            c["securityContext"],
            json!({"runAsUser": -1, "readOnlyRootFilesystem": false})
        );
        assert_eq!(value["spec"]["terminationGracePeriodSeconds"], 0);
    }

    #[test]
    fn service_int_or_string() {
        let by_number = Msg::default().varint(1, 0).varint(2, 8080).str(3, "");
        let by_name = Msg::default().varint(1, 1).varint(2, 0).str(3, "http");
        let spec = Msg::default()
            .msg(1, Msg::default().varint(3, 80).msg(4, by_number))
            .msg(1, Msg::default().str(1, "b").varint(3, 81).msg(4, by_name));
        let service = Msg::default().msg(1, meta("s")).msg(2, spec);
        let value = decode(&body("v1", "Service", service)).unwrap();
        assert_eq!(
            value["spec"]["ports"],
            json!([{"port": 80, "targetPort": 8080}, {"name": "b", "port": 81, "targetPort": "http"}])
        );
        let bad = Msg::default().msg(1, Msg::default().msg(4, Msg::default().varint(1, 7)));
        let service = Msg::default().msg(2, bad);
        assert!(matches!(
            decode(&body("v1", "Service", service)),
            Err(ProtobufError::InvalidValue { .. })
        ));
    }

    #[test]
    fn delete_options() {
        for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
            let options = Msg::default().int(1, 0).str(4, "Foreground").str(5, "All");
            let value = decode(&body(api_version, "DeleteOptions", options)).unwrap();
            assert_eq!(
                value,
                json!({
                    "apiVersion": api_version, "kind": "DeleteOptions",
                    "gracePeriodSeconds": 0, "propagationPolicy": "Foreground", "dryRun": ["All"],
                })
            );
        }
    }

    #[test]
    fn inline_volume_source_and_packed_ints() {
        let config_map = Msg::default().msg(1, Msg::default().str(1, "cm"));
        let volume = Msg::default()
            .str(1, "v")
            .msg(2, Msg::default().msg(19, config_map));
        let pod = Msg::default().msg(2, Msg::default().msg(1, volume));
        let value = decode(&body("v1", "Pod", pod)).unwrap();
        assert_eq!(
            value["spec"]["volumes"],
            json!([{"name": "v", "configMap": {"name": "cm"}}])
        );

        // PodFailurePolicyOnExitCodesRequirement.values, packed and not, in one field.
        let mut packed = Vec::new();
        for v in [1u64, 2, (-3i64) as u64] {
            put_varint(&mut packed, v);
        }
        let requirement = Msg::default().bytes(3, &packed).varint(3, 4);
        let rule = Msg::default().str(1, "Ignore").msg(2, requirement);
        let spec = Msg::default().msg(11, Msg::default().msg(1, rule));
        let job = Msg::default().msg(2, spec);
        let value = decode(&body("batch/v1", "Job", job)).unwrap();
        assert_eq!(
            value["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"],
            json!([1, 2, -3, 4])
        );
    }

    #[test]
    fn custom_resource_definition_schema() {
        let string = Msg::default().str(5, "string");
        let schema = Msg::default()
            .str(5, "object")
            .msg(8, Msg::default().bytes(1, br#"{"a":1}"#))
            .msg(20, Msg::default().bytes(1, b"\"x\""))
            .msg(29, Msg::default().str(1, "spec").msg(2, string))
            .msg(30, Msg::default().varint(1, 0))
            .msg(24, Msg::default().msg(1, Msg::default().str(5, "integer")))
            .msg(
                32,
                Msg::default()
                    .str(1, "d")
                    .msg(2, Msg::default().str(2, "spec")),
            )
            .varint(38, 1)
            .str(3, "#/r");
        let version = Msg::default()
            .str(1, "v1")
            .varint(2, 1)
            .varint(3, 1)
            .msg(4, Msg::default().msg(1, schema));
        let crd = Msg::default().msg(2, Msg::default().str(1, "example.com").msg(7, version));
        let value = decode(&body(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            crd,
        ));
        let value = value.unwrap();
        assert_eq!(
            value["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            json!({
                "type": "object",
                "$ref": "#/r",
                "default": {"a": 1},
                "enum": ["x"],
                "properties": {"spec": {"type": "string"}},
                "additionalProperties": false,
                "items": {"type": "integer"},
                "dependencies": {"d": ["spec"]},
                "x-kubernetes-preserve-unknown-fields": true,
            })
        );
    }

    #[test]
    fn merged_and_unknown_fields() {
        // A message field given twice merges; unknown numbers and wire types are skipped.
        let cm = Msg::default()
            .msg(1, Msg::default().str(1, "x"))
            .varint(99, 7)
            .bytes(98, b"junk")
            .msg(1, Msg::default().str(3, "ns"))
            .key(97, 1);
        let mut cm = cm;
        cm.0.extend_from_slice(&[0; 8]);
        let cm = cm.key(96, 5);
        let mut cm = cm;
        cm.0.extend_from_slice(&[0; 4]);
        let value = decode(&body("v1", "ConfigMap", cm)).unwrap();
        assert_eq!(value["metadata"], json!({"name": "x", "namespace": "ns"}));
    }

    #[test]
    fn special_renderings() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(330_000_000_000), "5m30s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(1_200_000), "1.2ms");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(7), "7ns");
        assert_eq!(go_duration(-90_000_000_000), "-1m30s");
        assert_eq!(go_duration(i64::MIN), "-2562047h47m16.854775808s");
        let micro = Msg::default().int(1, 0).int(2, 123_456_789);
        assert_eq!(
            decode_time(&micro.0, true).unwrap(),
            "1970-01-01T00:00:00.123456Z"
        );
        let zero = Msg::default().int(1, -62_135_596_800);
        assert_eq!(decode_time(&zero.0, false).unwrap(), Value::Null);
        let leap = Msg::default().int(1, 951_825_600);
        assert_eq!(decode_time(&leap.0, false).unwrap(), "2000-02-29T12:00:00Z");
        let far = Msg::default().int(1, i64::MAX);
        assert!(decode_time(&far.0, false).is_err());
        let duration = Msg::default().int(1, 90_000_000_000);
        assert_eq!(decode_duration(&duration.0).unwrap(), "1m30s");
        let user = Msg::default().str(1, "u").msg(
            4,
            Msg::default()
                .str(1, "k")
                .msg(2, Msg::default().str(1, "a").str(1, "b")),
        );
        let review = Msg::default().msg(3, Msg::default().msg(2, user));
        let value = decode(&body("authentication.k8s.io/v1", "TokenReview", review)).unwrap();
        assert_eq!(
            value["status"]["user"],
            json!({"username": "u", "extra": {"k": ["a", "b"]}})
        );
    }

    #[test]
    fn envelope_checks() {
        let with = |content_type: &str, encoding: &str| {
            let unknown = Msg::default()
                .msg(1, Msg::default().str(1, "v1").str(2, "Namespace"))
                .bytes(2, &Msg::default().msg(1, meta("n")).0)
                .str(3, encoding)
                .str(4, content_type);
            decode(&[MAGIC, &unknown.0].concat())
        };
        assert!(with(CONTENT_TYPE, "").is_ok());
        assert!(matches!(
            with("application/json", ""),
            Err(ProtobufError::Unsupported(_))
        ));
        assert!(matches!(
            with("", "gzip"),
            Err(ProtobufError::Unsupported(_))
        ));
        let empty = decode(MAGIC);
        assert!(matches!(empty, Err(ProtobufError::MissingTypeMeta)));
        let ns = decode(&body("v1", "Namespace", Msg::default().msg(1, meta("n")))).unwrap();
        assert_eq!(
            ns,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "creationTimestamp": null}})
        );
    }

    #[test]
    fn kind_mapping() {
        let cases = [
            ("v1", "Secret", Some("k8s.io.api.core.v1.Secret")),
            (
                "rbac.authorization.k8s.io/v1",
                "Role",
                Some("k8s.io.api.rbac.v1.Role"),
            ),
            (
                "networking.k8s.io/v1",
                "Ingress",
                Some("k8s.io.api.networking.v1.Ingress"),
            ),
            (
                "flowcontrol.apiserver.k8s.io/v1",
                "FlowSchema",
                Some("k8s.io.api.flowcontrol.v1.FlowSchema"),
            ),
            (
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                Some("k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler"),
            ),
            (
                "apiregistration.k8s.io/v1",
                "APIService",
                Some("k8s.io.kube_aggregator.pkg.apis.apiregistration.v1.APIService"),
            ),
            (
                "policy/v1",
                "DeleteOptions",
                Some("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
            ),
            ("apps.example.com/v1", "Deployment", None),
            ("stable.example.com/v1", "CronTab", None),
            ("apps/v1beta1", "Deployment", None),
            ("v1", "Nope", None),
            ("v1", "../x", None),
        ];
        for (api_version, kind, expected) in cases {
            assert_eq!(
                message_name(api_version, kind),
                expected,
                "{api_version} {kind}"
            );
        }
    }

    #[test]
    fn special_messages_match_the_catalogue() {
        let check = |name: &str, fields: &[(u32, &str)]| {
            let message = proto_message(name).unwrap();
            let found: Vec<_> = message
                .fields
                .iter()
                .map(|f| (f.number, f.json_name))
                .collect();
            assert_eq!(found, fields, "{name}");
        };
        check(TIME, &[(1, "seconds"), (2, "nanos")]);
        check(MICRO_TIME, &[(1, "seconds"), (2, "nanos")]);
        check(DURATION, &[(1, "duration")]);
        check(FIELDS_V1, &[(1, "Raw")]);
        check(INT_OR_STRING, &[(1, "type"), (2, "intVal"), (3, "strVal")]);
        check(QUANTITY, &[(1, "string")]);
        check(RAW_EXTENSION, &[(1, "raw")]);
        check(SCHEMA_JSON, &[(1, "raw")]);
        check(SCHEMA_OR_ARRAY, &[(1, "schema"), (2, "jSONSchemas")]);
        check(SCHEMA_OR_BOOL, &[(1, "allows"), (2, "schema")]);
        check(SCHEMA_OR_STRINGS, &[(1, "schema"), (2, "property")]);
        for wrapper in ITEM_WRAPPERS {
            check(wrapper, &[(1, "items")]);
        }
        let unknown = "k8s.io.apimachinery.pkg.runtime.Unknown";
        check(
            unknown,
            &[
                (1, ""),
                (2, "raw"),
                (3, "contentEncoding"),
                (4, "contentType"),
            ],
        );
        check(
            "k8s.io.apimachinery.pkg.runtime.TypeMeta",
            &[(1, "apiVersion"), (2, "kind")],
        );
    }

    #[test]
    fn malformed_inputs() {
        let cm = |m: Msg| decode(&body("v1", "ConfigMap", m));
        assert!(matches!(decode(b"k8s"), Err(ProtobufError::BadMagic)));
        assert!(matches!(
            decode(b"{\"kind\":1}"),
            Err(ProtobufError::BadMagic)
        ));
        assert!(matches!(
            decode(&[MAGIC, &[0x0a, 0x80]].concat()),
            Err(ProtobufError::Truncated(_))
        ));
        assert!(matches!(
            decode(&[MAGIC, &[0x0a, 0x05, 1, 2]].concat()),
            Err(ProtobufError::Truncated(_))
        ));
        let overlong = [MAGIC, &[0x08], &[0xff; 10], &[0x01]].concat();
        assert!(matches!(
            decode(&overlong),
            Err(ProtobufError::Malformed(_))
        ));
        assert!(matches!(
            cm(Msg::default().varint(2, 1)),
            Err(ProtobufError::WrongWireType { .. })
        ));
        assert!(matches!(
            cm(Msg::default().msg(1, Msg::default().varint(1, 1))),
            Err(ProtobufError::WrongWireType { .. })
        ));
        assert!(matches!(
            cm(Msg::default().str(4, "yes")),
            Err(ProtobufError::WrongWireType { .. })
        ));
        assert!(matches!(
            cm(Msg::default().key(2, 3)),
            Err(ProtobufError::Malformed(_))
        ));
        assert!(matches!(
            cm(Msg::default().key(0, 0).varint(1, 0)),
            Err(ProtobufError::Malformed(_))
        ));
        assert!(matches!(
            decode(&body("v1", "Gadget", Msg::default())),
            Err(ProtobufError::UnknownKind { .. })
        ));
        let revision = Msg::default().msg(2, Msg::default().bytes(1, b"{nope"));
        assert!(matches!(
            decode(&body("apps/v1", "ControllerRevision", revision)),
            Err(ProtobufError::InvalidValue { .. })
        ));
    }

    #[test]
    fn embedded_protobuf_raw_extension() {
        let inner = body("v1", "ConfigMap", Msg::default().entry(2, "a", "b"));
        let revision = Msg::default()
            .msg(2, Msg::default().bytes(1, &inner))
            .int(3, 2);
        let value = decode(&body("apps/v1", "ControllerRevision", revision)).unwrap();
        assert_eq!(
            value["data"],
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}})
        );
        assert_eq!(value["revision"], 2);
    }

    #[test]
    fn depth_is_bounded() {
        const PROPS: &str =
            "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        let nest = |levels: usize| {
            let mut schema = Msg::default().str(5, "string");
            for _ in 0..levels {
                schema = Msg::default().msg(28, schema);
            }
            decode_message(&schema.0, PROPS, 1)
        };
        assert!(nest(50).is_ok());
        assert!(matches!(nest(200), Err(ProtobufError::TooDeep)));
        // Deep nesting costs two bytes a level: a small body must not exhaust the stack.
        assert!(matches!(nest(20_000), Err(ProtobufError::TooDeep)));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        };
        let kinds = [
            ("v1", "Pod"),
            ("apps/v1", "Deployment"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ];
        for i in 0..600 {
            let len = usize::from(next()) % 160;
            let noise: Vec<u8> = (0..len).map(|_| next()).collect();
            // Half the inputs are whole-body noise, half a valid envelope around noise, so the
            // object decoder sees it too.
            let input = if i % 2 == 0 {
                [MAGIC, &noise].concat()
            } else {
                let (api_version, kind) = kinds[i % kinds.len()];
                body(api_version, kind, Msg(noise))
            };
            let _ = decode(&input);
        }
    }
}
