//! A pod spec's volumes: their defaults and upstream's `ValidateVolumes`, plus the path
//! and downward-API checks that volume mounts and environment variables share.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::quantity::Quantity;
use super::rules::{int, list, text};
use super::{set_default, set_default_if_empty};
use crate::status::Cause;
use crate::validation::{dns1123_label_errors, label_key_errors, push_invalid};

/// Upstream's message for a file mode out of range.
const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const MAX_FILE_MODE: i64 = 0o777;

/// The volume sources in the order upstream checks them, each with the name its
/// "more than 1 volume type" error uses (upstream misspells two of them).
const SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

/// The fields a downward-API volume file may name.
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// The container resources a downward-API reference may name (plus hugepages).
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// The labels `ConvertDownwardAPIFieldLabel` accepts for pods.
const DOWNWARD_LABELS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
    "spec.host",
];

/// The defaults of one volume (`SetDefaults_Volume` and the generated source defaults).
pub fn default_volume(volume: &mut Value) {
    let has_source = volume
        .as_object()
        .is_some_and(|m| m.iter().any(|(k, v)| k != "name" && !v.is_null()));
    if !has_source {
        set_default(volume, &["emptyDir"], json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if volume.get(source).is_some_and(Value::is_object) {
            set_default(volume, &[source, "defaultMode"], json!(420));
        }
    }
    if let Some(items) = volume
        .pointer_mut("/downwardAPI/items")
        .and_then(Value::as_array_mut)
    {
        items.iter_mut().for_each(default_field_ref);
    }
    let sources = volume
        .pointer_mut("/projected/sources")
        .and_then(Value::as_array_mut);
    for source in sources.into_iter().flatten() {
        if source
            .get("serviceAccountToken")
            .is_some_and(Value::is_object)
        {
            set_default(
                source,
                &["serviceAccountToken", "expirationSeconds"],
                json!(3600),
            );
        }
        if let Some(items) = source
            .pointer_mut("/downwardAPI/items")
            .and_then(Value::as_array_mut)
        {
            items.iter_mut().for_each(default_field_ref);
        }
    }
    let source_defaults: &[(&str, &str, Value)] = &[
        ("hostPath", "type", json!("")),
        ("iscsi", "iscsiInterface", json!("default")),
        ("rbd", "pool", json!("rbd")),
        ("rbd", "user", json!("admin")),
        ("rbd", "keyring", json!("/etc/ceph/keyring")),
        ("azureDisk", "cachingMode", json!("ReadWrite")),
        ("azureDisk", "fsType", json!("ext4")),
        ("azureDisk", "readOnly", json!(false)),
        ("azureDisk", "kind", json!("Shared")),
        ("scaleIO", "storageMode", json!("ThinProvisioned")),
        ("scaleIO", "fsType", json!("xfs")),
    ];
    for (source, field, value) in source_defaults {
        if volume.get(*source).is_some_and(Value::is_object) {
            set_default(volume, &[source, field], value.clone());
        }
    }
    if let Some(template) = volume.pointer_mut("/ephemeral/volumeClaimTemplate") {
        set_default(template, &["spec", "volumeMode"], json!("Filesystem"));
    }
    if let Some(image) = volume.get_mut("image").filter(|i| i.is_object()) {
        let policy = pull_policy(text(Some(image), "reference"));
        set_default_if_empty(image, &["pullPolicy"], json!(policy));
    }
}

/// `fieldRef.apiVersion` defaults to `v1` (`SetDefaults_ObjectFieldSelector`).
pub fn default_field_ref(item: &mut Value) {
    if item.get("fieldRef").is_some_and(Value::is_object) {
        set_default_if_empty(item, &["fieldRef", "apiVersion"], json!("v1"));
    }
}

/// The pull policy upstream defaults for an image: `Always` for the `latest` tag (which an
/// image without tag or digest has), otherwise `IfNotPresent`.
pub fn pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repository, tag) = match last.split_once(':') {
        Some((repository, tag)) => (repository, Some(tag)),
        None => (last, None),
    };
    // An image upstream cannot parse (empty, upper-case repository) has no tag.
    let unparsable = name.is_empty() || repository.chars().any(|c| c.is_ascii_uppercase());
    match (tag, digest) {
        _ if unparsable => "IfNotPresent",
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

/// The valid volumes of a pod spec by name: what volume mounts may name.
pub type VolumeMap<'a> = HashMap<&'a str, &'a Value>;

/// `ValidateVolumes`: each volume's name and source. A volume with any error is left out
/// of the returned map.
pub fn validate_volumes<'a>(
    spec: Option<&'a Value>,
    at: &str,
    causes: &mut Vec<Cause>,
) -> VolumeMap<'a> {
    let mut valid = VolumeMap::new();
    for (i, volume) in list(spec, "volumes").iter().enumerate() {
        let at = format!("{at}.volumes[{i}]");
        let name = text(Some(volume), "name");
        let mut errors = Vec::new();
        validate_source(volume, &at, &mut errors);
        if name.is_empty() {
            errors.push(Cause::required(format!("{at}.name")));
        } else {
            push_invalid(
                &mut errors,
                &format!("{at}.name"),
                name,
                dns1123_label_errors(name),
            );
        }
        if valid.contains_key(name) {
            errors.push(Cause::duplicate(format!("{at}.name"), name));
        }
        if errors.is_empty() {
            valid.insert(name, volume);
        } else {
            causes.extend(errors);
        }
    }
    valid
}

/// Exactly one source, and the checks of the sources upstream validates in detail.
fn validate_source(volume: &Value, at: &str, causes: &mut Vec<Cause>) {
    let mut found = false;
    for (key, error_name) in SOURCES {
        let Some(source) = volume.get(*key).filter(|s| !s.is_null()) else {
            continue;
        };
        if found {
            causes.push(Cause::forbidden(
                format!("{at}.{error_name}"),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        found = true;
        let at = format!("{at}.{key}");
        match *key {
            "emptyDir" => {
                if let Some(limit) = source.get("sizeLimit").and_then(Value::as_str) {
                    if Quantity::parse(limit).is_ok_and(|q| q.is_negative()) {
                        causes.push(Cause::forbidden(
                            format!("{at}.sizeLimit"),
                            "SizeLimit field must be a valid resource quantity",
                        ));
                    }
                }
            }
            "hostPath" => validate_host_path(source, &at, causes),
            "gitRepo" => {
                if text(Some(source), "repository").is_empty() {
                    causes.push(Cause::required(format!("{at}.repository")));
                }
                local_descending_path(
                    text(Some(source), "directory"),
                    &format!("{at}.directory"),
                    causes,
                );
            }
            "secret" => {
                if text(Some(source), "secretName").is_empty() {
                    causes.push(Cause::required(format!("{at}.secretName")));
                }
                file_mode(
                    int(Some(source), "defaultMode"),
                    &format!("{at}.defaultMode"),
                    causes,
                );
                key_to_paths(source, &at, causes);
            }
            "configMap" => {
                if text(Some(source), "name").is_empty() {
                    causes.push(Cause::required(format!("{at}.name")));
                }
                file_mode(
                    int(Some(source), "defaultMode"),
                    &format!("{at}.defaultMode"),
                    causes,
                );
                key_to_paths(source, &at, causes);
            }
            "nfs" => {
                let path = text(Some(source), "path");
                if text(Some(source), "server").is_empty() {
                    causes.push(Cause::required(format!("{at}.server")));
                }
                if path.is_empty() {
                    causes.push(Cause::required(format!("{at}.path")));
                }
                if !path.starts_with('/') {
                    causes.push(Cause::invalid(
                        format!("{at}.path"),
                        path,
                        "must be an absolute path",
                    ));
                }
            }
            "persistentVolumeClaim" if text(Some(source), "claimName").is_empty() => {
                causes.push(Cause::required(format!("{at}.claimName")));
            }
            "downwardAPI" => {
                file_mode(
                    int(Some(source), "defaultMode"),
                    &format!("{at}.defaultMode"),
                    causes,
                );
                // Upstream reports the items without their index.
                for item in list(Some(source), "items") {
                    downward_api_file(item, &at, causes);
                }
            }
            "projected" => validate_projected(source, &at, causes),
            _ => {}
        }
    }
    if !found {
        causes.push(Cause::required_with(at, "must specify a volume type"));
    }
}

fn validate_host_path(source: &Value, at: &str, causes: &mut Vec<Cause>) {
    let path = text(Some(source), "path");
    if path.is_empty() {
        causes.push(Cause::required(format!("{at}.path")));
        return;
    }
    no_backsteps(path, &format!("{at}.path"), causes);
    if let Some(kind) = source.get("type").filter(|t| !t.is_null()) {
        if !kind.as_str().is_some_and(|k| HOST_PATH_TYPES.contains(&k)) {
            causes.push(Cause::not_supported(
                format!("{at}.type"),
                kind,
                HOST_PATH_TYPES,
            ));
        }
    }
}

/// A file mode, when set, is 0..=0777.
fn file_mode(mode: Option<i64>, field: &str, causes: &mut Vec<Cause>) {
    if let Some(mode) = mode.filter(|m| !(0..=MAX_FILE_MODE).contains(m)) {
        causes.push(Cause::invalid(field, mode, FILE_MODE));
    }
}

/// `validateKeyToPath` for each of `items`.
fn key_to_paths(source: &Value, at: &str, causes: &mut Vec<Cause>) {
    for (i, item) in list(Some(source), "items").iter().enumerate() {
        key_to_path(item, &format!("{at}.items[{i}]"), causes);
    }
}

fn key_to_path(item: &Value, at: &str, causes: &mut Vec<Cause>) {
    let path = text(Some(item), "path");
    if text(Some(item), "key").is_empty() {
        causes.push(Cause::required(format!("{at}.key")));
    }
    if path.is_empty() {
        causes.push(Cause::required(format!("{at}.path")));
    }
    local_non_reserved_path(path, &format!("{at}.path"), causes);
    file_mode(int(Some(item), "mode"), &format!("{at}.mode"), causes);
}

/// `validatePathNoBacksteps`: no `..` element.
pub fn no_backsteps(path: &str, field: &str, causes: &mut Vec<Cause>) {
    if path.split('/').any(|part| part == "..") {
        causes.push(Cause::invalid(field, path, "must not contain '..'"));
    }
}

/// `validateLocalDescendingPath`: relative, without `..` elements.
pub fn local_descending_path(path: &str, field: &str, causes: &mut Vec<Cause>) {
    if path.starts_with('/') {
        causes.push(Cause::invalid(field, path, "must be a relative path"));
    }
    no_backsteps(path, field, causes);
}

/// `ValidateLocalNonReservedPath`: a local descending path that does not start with `..`.
fn local_non_reserved_path(path: &str, field: &str, causes: &mut Vec<Cause>) {
    local_descending_path(path, field, causes);
    if path.starts_with("..") && !path.starts_with("../") {
        causes.push(Cause::invalid(field, path, "must not start with '..'"));
    }
}

/// `validateDownwardAPIVolumeFile`.
fn downward_api_file(file: &Value, at: &str, causes: &mut Vec<Cause>) {
    let path = text(Some(file), "path");
    if path.is_empty() {
        causes.push(Cause::required(format!("{at}.path")));
    }
    local_non_reserved_path(path, &format!("{at}.path"), causes);
    let field_ref = file.get("fieldRef").filter(|f| !f.is_null());
    let resource_ref = file.get("resourceFieldRef").filter(|f| !f.is_null());
    match (field_ref, resource_ref) {
        (Some(field_ref), resource) => {
            object_field_selector(
                field_ref,
                VOLUME_FIELD_PATHS,
                &format!("{at}.fieldRef"),
                causes,
            );
            if resource.is_some() {
                causes.push(Cause::invalid(
                    at,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(resource)) => {
            resource_field_selector(resource, true, &format!("{at}.resourceFieldRef"), causes)
        }
        (None, None) => causes.push(Cause::required_with(
            at,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    file_mode(int(Some(file), "mode"), &format!("{at}.mode"), causes);
}

/// `validateProjectedVolumeSource`.
fn validate_projected(source: &Value, at: &str, causes: &mut Vec<Cause>) {
    file_mode(
        int(Some(source), "defaultMode"),
        &format!("{at}.defaultMode"),
        causes,
    );
    let mut paths = std::collections::HashSet::new();
    let mut claim = |path: &str, shown: &str, causes: &mut Vec<Cause>| {
        if !path.is_empty() && !paths.insert(path.to_string()) {
            causes.push(Cause::invalid(at, shown, "conflicting duplicate paths"));
        }
    };
    for (i, projection) in list(Some(source), "sources").iter().enumerate() {
        let src = format!("{at}.sources[{i}]");
        let mut kinds = 0;
        for kind in ["secret", "configMap"] {
            let Some(object) = projection.get(kind).filter(|o| !o.is_null()) else {
                continue;
            };
            kinds += 1;
            let name = text(Some(object), "name");
            if name.is_empty() {
                causes.push(Cause::required(format!("{src}.{kind}.name")));
            }
            for (j, item) in list(Some(object), "items").iter().enumerate() {
                key_to_path(item, &format!("{src}.{kind}.items[{j}]"), causes);
                claim(text(Some(item), "path"), name, causes);
            }
        }
        if let Some(downward) = projection.get("downwardAPI").filter(|o| !o.is_null()) {
            kinds += 1;
            for item in list(Some(downward), "items") {
                downward_api_file(item, &format!("{src}.downwardAPI"), causes);
                let path = text(Some(item), "path");
                claim(path, path, causes);
            }
        }
        if let Some(token) = projection
            .get("serviceAccountToken")
            .filter(|o| !o.is_null())
        {
            kinds += 1;
            let field = format!("{src}.serviceAccountToken.expirationSeconds");
            let seconds = int(Some(token), "expirationSeconds").unwrap_or(0);
            if seconds < 10 * 60 {
                causes.push(Cause::invalid(
                    field.as_str(),
                    seconds,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if seconds > 1 << 32 {
                causes.push(Cause::invalid(
                    field,
                    seconds,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            // Upstream reports the token's path without the source.
            let path = text(Some(token), "path");
            if path.is_empty() {
                causes.push(Cause::required(format!("{at}.path")));
            } else {
                local_non_reserved_path(path, &format!("{at}.path"), causes);
            }
        }
        for other in ["clusterTrustBundle", "podCertificate"] {
            if projection.get(other).is_some_and(|o| !o.is_null()) {
                kinds += 1;
            }
        }
        if kinds > 1 {
            causes.push(Cause::forbidden(
                src,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}

/// `validateObjectFieldSelector`: a downward-API field reference.
pub fn object_field_selector(
    selector: &Value,
    allowed: &[&str],
    at: &str,
    causes: &mut Vec<Cause>,
) {
    let api_version = text(Some(selector), "apiVersion");
    let path = text(Some(selector), "fieldPath");
    if api_version.is_empty() {
        causes.push(Cause::required(format!("{at}.apiVersion")));
        return;
    }
    if path.is_empty() {
        causes.push(Cause::required(format!("{at}.fieldPath")));
        return;
    }
    let subscripted = path
        .strip_suffix("']")
        .and_then(|s| s.split_once("['"))
        .filter(|(base, _)| !base.is_empty());
    let conversion_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else {
        match subscripted {
            Some(("metadata.annotations" | "metadata.labels", _)) => None,
            Some(_) => Some(format!("field label does not support subscript: {path}")),
            None if DOWNWARD_LABELS.contains(&path) => None,
            None => Some(format!("field label not supported: {path}")),
        }
    };
    if let Some(error) = conversion_error {
        causes.push(Cause::invalid(
            format!("{at}.fieldPath"),
            path,
            &format!("error converting fieldPath: {error}"),
        ));
        return;
    }
    match subscripted {
        Some(("metadata.annotations", key)) => {
            let key = key.to_lowercase();
            push_invalid(causes, at, &key, label_key_errors(&key));
        }
        Some((_, key)) => push_invalid(causes, at, key, label_key_errors(key)),
        None => {
            let path = if path == "spec.host" {
                "spec.nodeName"
            } else {
                path
            };
            if !allowed.contains(&path) {
                causes.push(Cause::not_supported(
                    format!("{at}.fieldPath"),
                    path,
                    allowed,
                ));
            }
        }
    }
}

/// `validateContainerResourceFieldSelector` (the divisor is not checked).
pub fn resource_field_selector(selector: &Value, volume: bool, at: &str, causes: &mut Vec<Cause>) {
    let resource = text(Some(selector), "resource");
    if volume && text(Some(selector), "containerName").is_empty() {
        causes.push(Cause::required(format!("{at}.containerName")));
    } else if resource.is_empty() {
        causes.push(Cause::required(format!("{at}.resource")));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        causes.push(Cause::not_supported(
            format!("{at}.resource"),
            resource,
            RESOURCE_FIELD_PATHS,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(volumes: Value) -> Vec<(String, String)> {
        let mut spec = json!({ "volumes": volumes });
        for v in spec["volumes"].as_array_mut().into_iter().flatten() {
            default_volume(v);
        }
        let mut causes = Vec::new();
        validate_volumes(Some(&spec), "spec", &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    #[test]
    fn defaults() {
        let mut v = json!({"name": "a"});
        default_volume(&mut v);
        assert_eq!(v, json!({"name": "a", "emptyDir": {}}));
        let mut v = json!({"name": "a", "secret": {"secretName": "s"}});
        default_volume(&mut v);
        assert_eq!(v["secret"]["defaultMode"], 420);
        let mut v = json!({"name": "a", "hostPath": {"path": "/x"}});
        default_volume(&mut v);
        assert_eq!(v["hostPath"]["type"], "");
        let mut v = json!({"name": "a", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token"}},
            {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}});
        default_volume(&mut v);
        assert_eq!(v["projected"]["defaultMode"], 420);
        assert_eq!(
            v["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3600
        );
        assert_eq!(
            v["projected"]["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"],
            "v1"
        );
        let mut v = json!({"name": "a", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}});
        default_volume(&mut v);
        assert_eq!(v["downwardAPI"]["defaultMode"], 420);
        assert_eq!(v["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"], "v1");
        let mut v = json!({"name": "a", "configMap": {"name": "c"}});
        default_volume(&mut v);
        assert_eq!(v["configMap"]["defaultMode"], 420);
    }

    #[test]
    fn pull_policies() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry:5000/app", "Always"),
            ("registry:5000/app:v1", "IfNotPresent"),
            ("app@sha256:abc", "IfNotPresent"),
            ("app:latest@sha256:abc", "Always"),
            ("", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy(image), policy, "{image}");
        }
    }

    #[test]
    fn names_and_sources() {
        let cases = [
            (json!([{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}}]), vec![]),
            (json!([{"name": ""}]), one("spec.volumes[0].name", "Required value")),
            (
                json!([{"name": "a.b"}]),
                one("spec.volumes[0].name", "Invalid value: \"a.b\": must not contain dots"),
            ),
            (
                json!([{"name": "a"}, {"name": "a"}]),
                one("spec.volumes[1].name", "Duplicate value: \"a\""),
            ),
            (
                json!([{"name": "a", "emptyDir": {}, "configMap": {"name": "c"}}]),
                one("spec.volumes[0].configMap", "Forbidden: may not specify more than 1 volume type"),
            ),
            (
                json!([{"name": "a", "secret": {"secretName": "s"}, "downwardAPI": {}}]),
                one("spec.volumes[0].downwarAPI", "Forbidden: may not specify more than 1 volume type"),
            ),
            (
                json!([{"name": "a", "hostPath": {"path": "/a/../b"}}]),
                one("spec.volumes[0].hostPath.path", "Invalid value: \"/a/../b\": must not contain '..'"),
            ),
            (
                json!([{"name": "a", "hostPath": {"path": "/a", "type": "Pipe"}}]),
                one("spec.volumes[0].hostPath.type", "Unsupported value: \"Pipe\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\""),
            ),
            (
                json!([{"name": "a", "secret": {}}]),
                one("spec.volumes[0].secret.secretName", "Required value"),
            ),
            (
                json!([{"name": "a", "configMap": {"name": "c", "defaultMode": 1000}}]),
                one("spec.volumes[0].configMap.defaultMode", "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive"),
            ),
            (
                json!([{"name": "a", "configMap": {"name": "c", "items": [{"key": "k", "path": "/abs"}]}}]),
                one("spec.volumes[0].configMap.items[0].path", "Invalid value: \"/abs\": must be a relative path"),
            ),
            (
                json!([{"name": "a", "configMap": {"name": "c", "items": [{"key": "k", "path": "..x"}]}}]),
                one("spec.volumes[0].configMap.items[0].path", "Invalid value: \"..x\": must not start with '..'"),
            ),
            (
                json!([{"name": "a", "persistentVolumeClaim": {"claimName": ""}}]),
                one("spec.volumes[0].persistentVolumeClaim.claimName", "Required value"),
            ),
            (
                json!([{"name": "a", "emptyDir": {"sizeLimit": "-1Gi"}}]),
                one("spec.volumes[0].emptyDir.sizeLimit", "Forbidden: SizeLimit field must be a valid resource quantity"),
            ),
            (
                json!([{"name": "a", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 60}}]}}]),
                one("spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds", "Invalid value: 60: may not specify a duration less than 10 minutes"),
            ),
            (
                json!([{"name": "a", "projected": {"sources": [{"serviceAccountToken": {}}]}}]),
                one("spec.volumes[0].projected.path", "Required value"),
            ),
            (
                json!([{"name": "a", "projected": {"sources": [
                    {"configMap": {"name": "c", "items": [{"key": "k", "path": "p"}]}},
                    {"secret": {"name": "s", "items": [{"key": "k", "path": "p"}]}}]}}]),
                one("spec.volumes[0].projected", "Invalid value: \"s\": conflicting duplicate paths"),
            ),
            (
                json!([{"name": "a", "downwardAPI": {"items": [{"path": "p", "fieldRef": {"fieldPath": "spec.nodeName"}}]}}]),
                one("spec.volumes[0].downwardAPI.fieldRef.fieldPath", "Unsupported value: \"spec.nodeName\": supported values: \"metadata.annotations\", \"metadata.labels\", \"metadata.name\", \"metadata.namespace\", \"metadata.uid\""),
            ),
            (
                json!([{"name": "a", "downwardAPI": {"items": [{"path": "p"}]}}]),
                one("spec.volumes[0].downwardAPI", "Required value: one of fieldRef and resourceFieldRef is required"),
            ),
        ];
        for (volumes, expected) in cases {
            assert_eq!(errors(volumes.clone()), expected, "{volumes}");
        }
    }

    #[test]
    fn invalid_volumes_are_left_out() {
        let spec =
            json!({"volumes": [{"name": "good", "emptyDir": {}}, {"name": "bad", "secret": {}}]});
        let mut causes = Vec::new();
        let valid = validate_volumes(Some(&spec), "spec", &mut causes);
        assert!(valid.contains_key("good"));
        assert!(!valid.contains_key("bad"));
    }

    #[test]
    fn field_selectors() {
        let check = |selector: Value, allowed: &[&str]| {
            let mut causes = Vec::new();
            object_field_selector(&selector, allowed, "f", &mut causes);
            causes
                .into_iter()
                .map(|c| (c.field, c.message))
                .collect::<Vec<_>>()
        };
        assert!(check(
            json!({"apiVersion": "v1", "fieldPath": "metadata.labels['app']"}),
            &[]
        )
        .is_empty());
        assert_eq!(
            check(json!({"apiVersion": "v2", "fieldPath": "metadata.name"}), &[]),
            one("f.fieldPath", "Invalid value: \"metadata.name\": error converting fieldPath: unsupported pod version: v2")
        );
        assert_eq!(
            check(json!({"apiVersion": "v1", "fieldPath": "spec.containers"}), &[]),
            one("f.fieldPath", "Invalid value: \"spec.containers\": error converting fieldPath: field label not supported: spec.containers")
        );
        assert_eq!(
            check(json!({"apiVersion": "v1", "fieldPath": "metadata.labels['a b']"}), &[]),
            one("f", "Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
        );
        assert_eq!(
            check(json!({"fieldPath": "metadata.name"}), &[]),
            one("f.apiVersion", "Required value")
        );
    }
}
