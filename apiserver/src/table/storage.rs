//! Printers of storage: persistent volumes, their claims and storage classes.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, wide, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static PERSISTENT_VOLUME_COLUMNS: &[Column] = &[
    NAME,
    col("Capacity", "string", "Storage capacity of the volume."),
    col("Access Modes", "string", "Ways the volume can be mounted."),
    col("Reclaim Policy", "string", "What happens to the volume when released."),
    col("Status", "string", "Phase of the volume."),
    col("Claim", "string", "Claim bound to the volume."),
    col("StorageClass", "string", "StorageClass of the volume."),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the volume."),
    col("Reason", "string", "Reason for the volume's phase."),
    AGE,
    wide("VolumeMode", "string", "Whether the volume is a filesystem or a block device."),
];

#[rustfmt::skip]
static PERSISTENT_VOLUME_CLAIM_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Phase of the claim."),
    col("Volume", "string", "Volume bound to the claim."),
    col("Capacity", "string", "Storage capacity of the bound volume."),
    col("Access Modes", "string", "Access modes of the bound volume."),
    col("StorageClass", "string", "StorageClass of the claim."),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the claim."),
    AGE,
    wide("VolumeMode", "string", "Whether the claim wants a filesystem or a block device."),
];

#[rustfmt::skip]
static STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Provisioner", "string", "Volume plugin that provisions volumes of this class."),
    col("ReclaimPolicy", "string", "Reclaim policy of provisioned volumes."),
    col("VolumeBindingMode", "string", "When volumes are bound and provisioned."),
    col("AllowVolumeExpansion", "string", "Whether volumes of this class can be expanded."),
    AGE,
];

/// `v1/persistentvolumes`.
pub struct PersistentVolumes;

impl Printer for PersistentVolumes {
    fn columns(&self) -> &'static [Column] {
        PERSISTENT_VOLUME_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        persistent_volume_cells(obj, now)
    }
}

/// `v1/persistentvolumeclaims`.
pub struct PersistentVolumeClaims;

impl Printer for PersistentVolumeClaims {
    fn columns(&self) -> &'static [Column] {
        PERSISTENT_VOLUME_CLAIM_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        persistent_volume_claim_cells(obj, now)
    }
}

/// `storage.k8s.io/v1/storageclasses`.
pub struct StorageClasses;

impl Printer for StorageClasses {
    fn columns(&self) -> &'static [Column] {
        STORAGE_CLASS_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        storage_class_cells(obj, now)
    }
}

fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The legacy beta annotation takes precedence over spec.storageClassName.
fn storage_class_of(o: &Value) -> String {
    match obj(o, &["metadata", "annotations"]).and_then(|a| a.get(BETA_STORAGE_CLASS_ANNOTATION)) {
        Some(v) => text(v),
        None => st(o, &["spec", "storageClassName"]).to_string(),
    }
}

fn unset_if_absent(o: &Value, path: &[&str]) -> String {
    at(o, path).map_or_else(|| "<unset>".to_string(), text)
}

fn persistent_volume_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match at(o, &["spec", "claimRef"]).filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", st(c, &["namespace"]), st(c, &["name"])),
        None => String::new(),
    };
    let phase = if deleting(o) {
        "Terminating"
    } else {
        st(o, &["status", "phase"])
    };
    vec![
        name(o),
        json!(quantity(at(o, &["spec", "capacity", "storage"]))),
        json!(access_modes(arr(o, &["spec", "accessModes"]))),
        json!(st(o, &["spec", "persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(storage_class_of(o)),
        json!(unset_if_absent(o, &["spec", "volumeAttributesClassName"])),
        json!(st(o, &["status", "reason"])),
        age(o, now),
        json!(unset_if_absent(o, &["spec", "volumeMode"])),
    ]
}

fn persistent_volume_claim_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if deleting(o) {
        "Terminating"
    } else {
        st(o, &["status", "phase"])
    };
    let volume = st(o, &["spec", "volumeName"]);
    // Capacity and access modes are only meaningful once bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(o, &["status", "capacity", "storage"])),
            access_modes(arr(o, &["status", "accessModes"])),
        )
    };
    vec![
        name(o),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class_of(o)),
        json!(unset_if_absent(o, &["spec", "volumeAttributesClassName"])),
        age(o, now),
        json!(unset_if_absent(o, &["spec", "volumeMode"])),
    ]
}

fn storage_class_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let annotations = obj(o, &["metadata", "annotations"]);
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|k| annotations.and_then(|a| a.get(*k)).and_then(Value::as_str) == Some("true"));
    let mut display = st(o, &["metadata", "name"]).to_string();
    if is_default {
        display.push_str(" (default)");
    }
    let or = |path: &[&str], dflt: &'static str| {
        let v = st(o, path);
        if at(o, path).is_some() {
            v.to_string()
        } else {
            dflt.to_string()
        }
    };
    vec![
        json!(display),
        json!(st(o, &["provisioner"])),
        json!(or(&["reclaimPolicy"], "Delete")),
        json!(or(&["volumeBindingMode"], "Immediate")),
        json!(flag(o, &["allowVolumeExpansion"])),
        age(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn claim_and_storage_class_rows() {
        let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv1", "storageClassName": "fast"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
        assert_eq!(
            cells("", "persistentvolumeclaims", &pvc, now())[1..7],
            [
                json!("Bound"),
                json!("pv1"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("fast"),
                json!("<unset>")
            ]
        );
        let sc = json!({"metadata": {"name": "std", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "rancher.io/local-path"});
        assert_eq!(
            cells("storage.k8s.io", "storageclasses", &sc, now())[0..5],
            [
                json!("std (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
    }
}
