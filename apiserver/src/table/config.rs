//! Printers of configuration objects: config maps and secrets.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    col("Data", "string", "Number of data and binaryData entries."),
    AGE,
];

#[rustfmt::skip]
static SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", "Type of the secret."),
    col("Data", "string", "Number of data entries."),
    AGE,
];

/// `v1/configmaps`.
pub struct ConfigMaps;

impl Printer for ConfigMaps {
    fn columns(&self) -> &'static [Column] {
        CONFIG_MAP_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let n = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
        vec![name(obj), json!(n), age(obj, now)]
    }
}

/// `v1/secrets`.
pub struct Secrets;

impl Printer for Secrets {
    fn columns(&self) -> &'static [Column] {
        SECRET_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        secret_cells(obj, now)
    }
}

fn secret_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    // stringData is write-only and merged into data on write; count any stray keys once.
    let mut keys: BTreeSet<&str> = obj(o, &["data"])
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect();
    keys.extend(
        obj(o, &["stringData"])
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str()),
    );
    vec![
        name(o),
        json!(st(o, &["type"])),
        json!(keys.len()),
        age(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn configmap_data_count() {
        let cm = json!({
            "metadata": meta("cfg", "2024-05-01T11:59:50Z"),
            "data": {"a": "1", "b": "2"},
            "binaryData": {"c": "AAEC"}
        });
        assert_eq!(
            cells("", "configmaps", &cm, now()),
            vec![json!("cfg"), json!(3), json!("10s")]
        );
        let secret = json!({"metadata": meta("s", "2024-05-01T11:00:00Z"), "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(
            cells("", "secrets", &secret, now()),
            vec![json!("s"), json!("Opaque"), json!(1), json!("60m")]
        );
    }
}
