//! The Table printer of a custom resource: `Name`, then the CRD's
//! `additionalPrinterColumns`, each read with its JSONPath, typed as upstream's
//! apiextensions table convertor types them (a `date` becomes an age).

use jiff::Timestamp;
use serde_json::{json, Value};

use super::{build, human_signed, Column, NAME};

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomColumn {
    pub column: Column,
    pub path: JsonPath,
}

/// The simple JSONPath a printer column may use: fields, list indexes, and filters on a
/// list element's field (`.status.conditions[?(@.type=="Ready")].status`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    /// `[*]`: the first element, as a column shows one value.
    Any,
    /// `[?(@.<field>=="<value>")]`
    Filter(String, String),
}

impl JsonPath {
    /// Parses a printer column's `jsonPath`; `None` when it is not the simple form.
    pub fn parse(path: &str) -> Option<JsonPath> {
        let text = path.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let mut rest = text.strip_prefix('$').unwrap_or(text);
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let (field, tail) = after.split_at(end);
                if field.is_empty() {
                    return None;
                }
                steps.push(Step::Field(field.to_string()));
                rest = tail;
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']')?;
                let (inside, tail) = after.split_at(end);
                steps.push(bracket(inside)?);
                rest = tail.get(1..)?;
            } else {
                return None;
            }
        }
        Some(JsonPath { steps })
    }

    /// The value the path names in `obj`, if any.
    pub fn find<'a>(&self, obj: &'a Value) -> Option<&'a Value> {
        let mut node = obj;
        for step in &self.steps {
            node = match step {
                Step::Field(f) => node.get(f)?,
                Step::Index(i) => node.get(*i)?,
                Step::Any => node.as_array()?.first()?,
                Step::Filter(field, value) => node.as_array()?.iter().find(|item| {
                    item.get(field).is_some_and(|v| match v {
                        Value::String(s) => s == value,
                        other => other.to_string().as_str() == value.as_str(),
                    })
                })?,
            };
        }
        Some(node)
    }
}

fn bracket(inside: &str) -> Option<Step> {
    if inside == "*" {
        return Some(Step::Any);
    }
    if let Ok(i) = inside.parse::<usize>() {
        return Some(Step::Index(i));
    }
    let filter = inside.strip_prefix("?(@.")?.strip_suffix(')')?;
    let (field, value) = filter.split_once("==")?;
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    Some(Step::Filter(field.trim().to_string(), value.to_string()))
}

/// The Table of custom objects printed with `columns`.
pub fn custom_table(
    columns: &[CustomColumn],
    objects: &[Value],
    list_meta: Value,
    include_object: &str,
    now: Timestamp,
) -> Value {
    let definitions: Vec<Column> = std::iter::once(NAME)
        .chain(columns.iter().map(|c| c.column.clone()))
        .collect();
    build(
        &definitions,
        objects,
        list_meta,
        include_object,
        |obj, row| {
            let name = obj.pointer("/metadata/name").cloned().unwrap_or(json!(""));
            let cells: Vec<Value> = std::iter::once(name)
                .chain(columns.iter().map(|c| cell(c, obj, now)))
                .collect();
            row.insert("cells".into(), Value::Array(cells));
        },
    )
}

/// A cell as upstream types it: strings printed as JSONPath prints them, integers and
/// numbers as numbers, dates as ages; a missing or mistyped value is an empty cell.
fn cell(column: &CustomColumn, obj: &Value, now: Timestamp) -> Value {
    let Some(value) = column.path.find(obj) else {
        return Value::Null;
    };
    match column.column.type_ {
        "integer" => value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        "number" => value.as_f64().map_or(Value::Null, |f| json!(f)),
        "boolean" => value.as_bool().map_or(Value::Null, |b| json!(b)),
        "date" => value
            .as_str()
            .and_then(|s| s.parse::<Timestamp>().ok())
            .map_or(Value::Null, |t| json!(human_signed(now.duration_since(t)))),
        _ => match value {
            Value::String(s) => json!(s),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &'static str, type_: &'static str, path: &str) -> CustomColumn {
        CustomColumn {
            column: Column {
                name,
                type_,
                format: "",
                description: "",
                priority: 0,
            },
            path: JsonPath::parse(path).unwrap(),
        }
    }

    #[test]
    fn paths_read_fields_indexes_and_filters() {
        let obj = json!({"status": {"conditions": [
            {"type": "Progressing", "status": "True"},
            {"type": "Ready", "status": "False"}
        ]}});
        let ready = JsonPath::parse(r#".status.conditions[?(@.type=="Ready")].status"#).unwrap();
        assert_eq!(ready.find(&obj), Some(&json!("False")));
        let first = JsonPath::parse(".status.conditions[0].type").unwrap();
        assert_eq!(first.find(&obj), Some(&json!("Progressing")));
        assert!(JsonPath::parse(".spec..x").is_none());
        assert!(JsonPath::parse("spec").is_none());
    }

    #[test]
    fn cells_follow_column_types_and_missing_values_are_empty() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let columns = [
            column("Deployment", "string", ".spec.deploymentName"),
            column("Replicas", "integer", ".spec.replicas"),
            column("Available", "integer", ".status.availableReplicas"),
            column("Age", "date", ".metadata.creationTimestamp"),
        ];
        let obj = json!({
            "metadata": {"name": "example", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"deploymentName": "example-foo", "replicas": 3}
        });
        let table = custom_table(&columns, &[obj], json!({"resourceVersion": "7"}), "", now);
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["example", "example-foo", 3, null, "10m"])
        );
        let names: Vec<&Value> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["name"])
            .collect();
        assert_eq!(
            names,
            ["Name", "Deployment", "Replicas", "Available", "Age"]
        );
    }
}
