//! Checks `protobuf_fields.rs` and `field_order.rs` against their source: upstream v1.35's
//! `generated.proto` files, kept in `apis/data/proto/` (copied by `apis/data/proto/fetch.sh`
//! from tag v0.35.0 of k8s.io/api, apimachinery, apiextensions-apiserver, kube-aggregator).
//! go-to-protobuf writes each message's fields in the Go struct's declaration order, which is
//! also the order Go's encoding/json writes them, so the proto text order checks field_order.

use std::collections::HashMap;
use std::path::Path;

use super::{field_order, protobuf_fields, ProtoKind};

/// One field as `generated.proto` declares it; `kind` is written as in [`kind_text`].
#[derive(Debug)]
struct Field {
    number: u32,
    name: String,
    kind: String,
    repeated: bool,
}

/// Every message of the stored proto files by fully qualified name, fields in text order.
fn parse_all() -> HashMap<String, Vec<Field>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/proto");
    let mut messages = HashMap::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("apis/data/proto is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                let text = std::fs::read_to_string(&path).expect("proto file is UTF-8");
                parse(&text, &mut messages);
            }
        }
    }
    messages
}

/// Reads the declarations of one file; the stored files hold no comments and no nested
/// messages (fetch.sh drops comment lines; upstream's protos nest none).
fn parse(text: &str, messages: &mut HashMap<String, Vec<Field>>) {
    let mut package = "";
    let mut current: Option<(String, Vec<Field>)> = None;
    for line in text.lines().map(str::trim) {
        if let Some(p) = line.strip_prefix("package ") {
            package = p.trim_end_matches(';');
        } else if let Some(name) = line.strip_prefix("message ") {
            let name = name.trim_end_matches('{').trim();
            current = Some((format!("{package}.{name}"), Vec::new()));
        } else if line == "}" {
            if let Some((name, fields)) = current.take() {
                messages.insert(name, fields);
            }
        } else if let Some((_, fields)) = current.as_mut() {
            if let Some(field) = parse_field(line, package) {
                fields.push(field);
            }
        }
    }
}

/// `optional string name = 1;`, `repeated .pkg.Msg items = 2;`, `map<string, string> x = 3;`.
fn parse_field(line: &str, package: &str) -> Option<Field> {
    let (decl, number) = line.trim_end_matches(';').split_once(" = ")?;
    let number = number.trim().parse().ok()?;
    let (kind, name) = decl.rsplit_once(' ')?;
    let (kind, repeated) = if let Some(map) = kind.strip_prefix("map<") {
        let (k, v) = map.trim_end_matches('>').split_once(',')?;
        let resolve = |t: &str| qualify(t.trim(), package);
        (format!("map<{},{}>", resolve(k), resolve(v)), false)
    } else if let Some(t) = kind.strip_prefix("repeated ") {
        (qualify(t, package), true)
    } else {
        (qualify(kind.strip_prefix("optional ")?, package), false)
    };
    Some(Field {
        number,
        name: name.to_string(),
        kind,
        repeated,
    })
}

/// Scalars stay as written; message names become fully qualified without the leading dot.
fn qualify(t: &str, package: &str) -> String {
    const SCALARS: &[&str] = &[
        "string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float",
    ];
    if SCALARS.contains(&t) {
        t.to_string()
    } else if let Some(full) = t.strip_prefix('.') {
        full.to_string()
    } else {
        format!("{package}.{t}")
    }
}

/// A committed [`ProtoKind`] in the notation of [`parse_field`].
fn kind_text(kind: &ProtoKind) -> String {
    match kind {
        ProtoKind::String => "string".into(),
        ProtoKind::Bytes => "bytes".into(),
        ProtoKind::Bool => "bool".into(),
        ProtoKind::Int32 => "int32".into(),
        ProtoKind::Int64 => "int64".into(),
        ProtoKind::Uint32 => "uint32".into(),
        ProtoKind::Uint64 => "uint64".into(),
        ProtoKind::Double => "double".into(),
        ProtoKind::Float => "float".into(),
        ProtoKind::Message(name) => (*name).to_string(),
        ProtoKind::Map(k, v) => format!("map<{},{}>", kind_text(k), kind_text(v)),
    }
}

/// Proto names follow the JSON names up to case and punctuation (`uID`, `Webhooks`,
/// `xKubernetesListType` for `x-kubernetes-list-type`, `ref` for `$ref`).
fn same_name(proto: &str, json: &str) -> bool {
    let fold = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    fold(proto) == fold(json)
}

/// `io.k8s.api.core.v1.Pod` → `k8s.io.api.core.v1.Pod`; the proto packages of the
/// apiextensions and aggregator repositories spell their names with underscores.
fn proto_name(definition: &str) -> String {
    let rest = definition.strip_prefix("io.k8s.").unwrap_or(definition);
    format!("k8s.io.{}", rest.replace('-', "_"))
}

#[test]
fn protobuf_fields_agree_with_generated_proto() {
    let source = parse_all();
    let mut wrong = Vec::new();
    for message in protobuf_fields::MESSAGES {
        let Some(fields) = source.get(message.name) else {
            wrong.push(format!("{}: not in apis/data/proto", message.name));
            continue;
        };
        let mut expected: Vec<&Field> = fields.iter().collect();
        expected.sort_by_key(|f| f.number);
        let numbers: Vec<u32> = message.fields.iter().map(|f| f.number).collect();
        let source_numbers: Vec<u32> = expected.iter().map(|f| f.number).collect();
        if numbers != source_numbers {
            wrong.push(format!(
                "{}: fields {numbers:?}, proto has {source_numbers:?}",
                message.name
            ));
            continue;
        }
        for (committed, proto) in message.fields.iter().zip(expected) {
            // An empty JSON name marks a Go struct embedded inline, which the proto cannot tell.
            let name_ok =
                committed.json_name.is_empty() || same_name(&proto.name, committed.json_name);
            if !name_ok
                || kind_text(&committed.kind) != proto.kind
                || committed.repeated != proto.repeated
            {
                wrong.push(format!(
                    "{} field {}: committed {committed:?}, proto {proto:?}",
                    message.name, proto.number
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "protobuf_fields.rs disagrees with generated.proto:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_referenced_proto_message_is_in_the_table() {
    let mut missing = Vec::new();
    for message in protobuf_fields::MESSAGES {
        for field in message.fields {
            let name = match &field.kind {
                ProtoKind::Message(name) => *name,
                ProtoKind::Map(_, ProtoKind::Message(name)) => *name,
                _ => continue,
            };
            if protobuf_fields::message(name).is_none() {
                missing.push(format!("{} (from {})", name, message.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "decoding would meet unknown messages: {missing:?}"
    );
}

/// The JSON names of a proto message in declaration order, inline-embedded structs expanded.
fn json_order(source: &HashMap<String, Vec<Field>>, message: &str, out: &mut Vec<String>) {
    let committed = protobuf_fields::message(message);
    for field in source.get(message).into_iter().flatten() {
        let json = committed
            .and_then(|m| m.fields.iter().find(|f| f.number == field.number))
            .map_or(field.name.as_str(), |f| f.json_name);
        if json.is_empty() {
            json_order(source, &field.kind, out);
        } else {
            out.push(json.to_string());
        }
    }
}

#[test]
fn field_order_follows_generated_proto_declaration_order() {
    // Go types with no protobuf message: upstream serves them as JSON only.
    const NO_PROTO: &[&str] = &[
        "io.k8s.apimachinery.pkg.apis.meta.v1.Table",
        "io.k8s.apimachinery.pkg.apis.meta.v1.TableColumnDefinition",
        "io.k8s.apimachinery.pkg.apis.meta.v1.TableRow",
        "io.k8s.apimachinery.pkg.apis.meta.v1.TableRowCondition",
        "io.k8s.apimachinery.pkg.version.Info",
    ];
    let source = parse_all();
    let mut wrong = Vec::new();
    for (definition, order) in field_order::FIELD_ORDER {
        let message = proto_name(definition);
        if !source.contains_key(&message) {
            if !NO_PROTO.contains(definition) {
                wrong.push(format!("{definition}: no message {message}"));
            }
            continue;
        }
        let mut expected = Vec::new();
        json_order(&source, &message, &mut expected);
        // TypeMeta is embedded inline first but has no proto field; where kind and
        // apiVersion are fields of their own (TypeMeta itself, BoundObjectReference) both have them.
        let without_type_meta = |order: &[String]| match order {
            [kind, api_version, rest @ ..] if kind == "kind" && api_version == "apiVersion" => {
                rest.to_vec()
            }
            all => all.to_vec(),
        };
        let fields = without_type_meta(&order.iter().map(|f| f.to_string()).collect::<Vec<_>>());
        let expected = without_type_meta(&expected);
        if fields != expected {
            wrong.push(format!(
                "{definition}: committed {fields:?}, proto order {expected:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "field_order.rs disagrees with generated.proto:\n{}",
        wrong.join("\n")
    );
}
