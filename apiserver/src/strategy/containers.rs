//! The containers of a pod spec (regular, init and ephemeral): their defaults and
//! upstream's checks of each (`validateContainerCommon`: name, image, ports, environment,
//! volume mounts and devices, pull policy, resources) and of each kind's own rules (probes
//! and lifecycle handlers, sidecars, unique names, host ports).

use std::collections::HashSet;

use serde_json::{json, Value};

use super::quantity::Quantity;
use super::rules::{
    int, list, nonnegative, one_of, optional_one_of, port_number, port_number_or_name, text,
    PROTOCOLS,
};
use super::volumes::{
    default_field_ref, local_descending_path, object_field_selector, pull_policy,
    resource_field_selector, VolumeMap,
};
use super::{set_default, set_default_if_empty};
use crate::status::Cause;
use crate::validation::{
    config_key_errors, dns1123_label_errors, dns1123_subdomain_errors, env_var_name_errors,
    http_header_name_errors, label_key_errors, port_name_errors, push_invalid,
};

const PROBES: [&str; 3] = ["livenessProbe", "readinessProbe", "startupProbe"];

/// The fields an environment variable's `fieldRef` may name.
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// The fields of an ephemeral container upstream refuses when set, in its struct order.
const NOT_FOR_EPHEMERAL: &[&str] = &[
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
];

/// The standard resources (`helper.IsStandardResourceName`) an unprefixed name may be.
const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
    "requests.storage",
    "storage",
];

/// What the containers of one pod spec are checked against.
pub struct PodContext<'a> {
    /// The valid volumes, by name.
    pub volumes: &'a VolumeMap<'a>,
    /// `terminationGracePeriodSeconds`, which bounds a sleep handler.
    pub grace: Option<i64>,
}

/// The defaults of a container (`SetDefaults_Container` and the generated defaults of its
/// ports, environment, probes and handlers).
pub fn default_container(c: &mut Value) {
    let policy = pull_policy(text(Some(c), "image"));
    set_default_if_empty(c, &["imagePullPolicy"], json!(policy));
    set_default_if_empty(
        c,
        &["terminationMessagePath"],
        json!("/dev/termination-log"),
    );
    set_default_if_empty(c, &["terminationMessagePolicy"], json!("File"));
    set_default(c, &["resources"], json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports {
            set_default_if_empty(port, &["protocol"], json!("TCP"));
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for var in env {
            if let Some(from) = var.get_mut("valueFrom").filter(|v| v.is_object()) {
                default_field_ref(from);
                if from.get("fileKeyRef").is_some_and(Value::is_object) {
                    set_default(from, &["fileKeyRef", "optional"], json!(false));
                }
            }
        }
    }
    for probe in PROBES {
        if let Some(probe) = c.get_mut(probe).filter(|p| p.is_object()) {
            for (field, value) in [
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
            ] {
                set_default(probe, &[field], json!(value));
            }
            default_handler(probe);
            if probe.get("grpc").is_some_and(Value::is_object) {
                set_default(probe, &["grpc", "service"], json!(""));
            }
        }
    }
    for hook in ["postStart", "preStop"] {
        if let Some(handler) = c
            .get_mut("lifecycle")
            .and_then(|l| l.get_mut(hook))
            .filter(|h| h.is_object())
        {
            default_handler(handler);
        }
    }
}

/// `SetDefaults_HTTPGetAction`: path `/`, scheme `HTTP`.
fn default_handler(handler: &mut Value) {
    if handler.get("httpGet").is_some_and(Value::is_object) {
        set_default_if_empty(handler, &["httpGet", "path"], json!("/"));
        set_default_if_empty(handler, &["httpGet", "scheme"], json!("HTTP"));
    }
}

/// `validateContainers`: the regular containers.
pub fn validate_containers(
    spec: Option<&Value>,
    at: &str,
    ctx: &PodContext,
    causes: &mut Vec<Cause>,
) {
    let at = format!("{at}.containers");
    let containers = list(spec, "containers");
    if containers.is_empty() {
        causes.push(Cause::required(at));
        return;
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let path = format!("{at}[{i}]");
        validate_common(c, &path, ctx, causes);
        let name = text(Some(c), "name");
        if !names.insert(name) {
            causes.push(Cause::duplicate(format!("{path}.name"), name));
        }
        validate_handlers_and_probes(c, &path, ctx, causes);
        optional_one_of(
            c.get("restartPolicy"),
            &format!("{path}.restartPolicy"),
            &["Always", "Never", "OnFailure"],
            causes,
        );
    }
    host_port_conflicts(containers, &at, causes);
}

/// `validateInitContainers`: common checks, sidecars (`restartPolicy: Always`), names
/// unique with the regular containers, host ports within each.
pub fn validate_init_containers(
    spec: Option<&Value>,
    at: &str,
    ctx: &PodContext,
    causes: &mut Vec<Cause>,
) {
    let at = format!("{at}.initContainers");
    let mut names: HashSet<&str> = list(spec, "containers")
        .iter()
        .map(|c| text(Some(c), "name"))
        .collect();
    for (i, c) in list(spec, "initContainers").iter().enumerate() {
        let path = format!("{at}[{i}]");
        validate_common(c, &path, ctx, causes);
        let sidecar = c.get("restartPolicy").and_then(Value::as_str) == Some("Always");
        optional_one_of(
            c.get("restartPolicy"),
            &format!("{path}.restartPolicy"),
            &["Always"],
            causes,
        );
        let name = text(Some(c), "name");
        if names.contains(name) {
            causes.push(Cause::duplicate(format!("{path}.name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        // Init containers run one by one: host ports conflict only within one, which
        // upstream reports at index 0.
        host_port_conflicts(std::slice::from_ref(c), &at, causes);
        if sidecar {
            validate_handlers_and_probes(c, &path, ctx, causes);
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if c.get(field).is_some_and(|v| !v.is_null()) {
                    causes.push(Cause::forbidden(
                        format!("{path}.{field}"),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// `validateEphemeralContainers`: common checks, names unique across all containers, the
/// target container, and the fields an ephemeral container may not set.
pub fn validate_ephemeral_containers(
    spec: Option<&Value>,
    at: &str,
    ctx: &PodContext,
    causes: &mut Vec<Cause>,
) {
    let at = format!("{at}.ephemeralContainers");
    let others: HashSet<&str> = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| list(spec, l))
        .map(|c| text(Some(c), "name"))
        .collect();
    let mut names = others.clone();
    for (i, c) in list(spec, "ephemeralContainers").iter().enumerate() {
        let path = format!("{at}[{i}]");
        validate_common(c, &path, ctx, causes);
        image_whitespace(c, &path, causes);
        let name = text(Some(c), "name");
        if !names.insert(name) {
            causes.push(Cause::duplicate(format!("{path}.name"), name));
        }
        let target = text(Some(c), "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            causes.push(Cause::not_found(
                format!("{path}.targetContainerName"),
                target,
            ));
        }
        for field in NOT_FOR_EPHEMERAL {
            let set = match c.get(*field) {
                None | Some(Value::Null) => false,
                Some(Value::Object(m)) if *field == "resources" => m.values().any(|v| match v {
                    Value::Object(o) => !o.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    Value::Null => false,
                    _ => true,
                }),
                Some(Value::Array(a)) => !a.is_empty(),
                Some(_) => true,
            };
            if set {
                causes.push(Cause::forbidden(
                    format!("{path}.{field}"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, mount) in list(Some(c), "volumeMounts").iter().enumerate() {
            for field in ["subPath", "subPathExpr"] {
                if !text(Some(mount), field).is_empty() {
                    causes.push(Cause::forbidden(
                        format!("{path}.volumeMounts[{j}].{field}"),
                        "cannot be set for an Ephemeral Container",
                    ));
                }
            }
        }
    }
}

/// A Pod's (not a template's) containers may not have an image with surrounding spaces.
pub fn image_whitespace(c: &Value, path: &str, causes: &mut Vec<Cause>) {
    let image = text(Some(c), "image");
    if image.trim() != image {
        causes.push(Cause::invalid(
            format!("{path}.image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
}

/// `validateContainerCommon`.
fn validate_common(c: &Value, path: &str, ctx: &PodContext, causes: &mut Vec<Cause>) {
    let name = text(Some(c), "name");
    if name.is_empty() {
        causes.push(Cause::required(format!("{path}.name")));
    } else {
        push_invalid(
            causes,
            &format!("{path}.name"),
            name,
            dns1123_label_errors(name),
        );
    }
    if text(Some(c), "image").is_empty() {
        causes.push(Cause::required(format!("{path}.image")));
    }
    one_of(
        text(Some(c), "terminationMessagePolicy"),
        &format!("{path}.terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
        causes,
    );
    validate_ports(c, path, causes);
    validate_env(c, path, causes);
    validate_env_from(c, path, causes);
    validate_volume_mounts(c, path, ctx, causes);
    validate_volume_devices(c, path, ctx, causes);
    one_of(
        text(Some(c), "imagePullPolicy"),
        &format!("{path}.imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        causes,
    );
    validate_resources(c.get("resources"), &format!("{path}.resources"), causes);
}

/// `validateContainerPorts`.
fn validate_ports(c: &Value, path: &str, causes: &mut Vec<Cause>) {
    let mut names = HashSet::new();
    for (j, port) in list(Some(c), "ports").iter().enumerate() {
        let at = format!("{path}.ports[{j}]");
        let name = text(Some(port), "name");
        if !name.is_empty() {
            let errors = port_name_errors(name);
            if !errors.is_empty() {
                push_invalid(causes, &format!("{at}.name"), name, errors);
            } else if !names.insert(name) {
                causes.push(Cause::duplicate(format!("{at}.name"), name));
            }
        }
        match int(Some(port), "containerPort").unwrap_or(0) {
            0 => causes.push(Cause::required(format!("{at}.containerPort"))),
            n => port_number(n, &format!("{at}.containerPort"), causes),
        }
        let host_port = int(Some(port), "hostPort").unwrap_or(0);
        if host_port != 0 {
            port_number(host_port, &format!("{at}.hostPort"), causes);
        }
        one_of(
            text(Some(port), "protocol"),
            &format!("{at}.protocol"),
            PROTOCOLS,
            causes,
        );
    }
}

/// `AccumulateUniqueHostPorts`: a protocol, host IP and host port used twice.
fn host_port_conflicts(containers: &[Value], at: &str, causes: &mut Vec<Cause>) {
    let mut seen = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        for (j, port) in list(Some(c), "ports").iter().enumerate() {
            let host_port = int(Some(port), "hostPort").unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{host_port}",
                text(Some(port), "protocol"),
                text(Some(port), "hostIP")
            );
            if !seen.insert(key.clone()) {
                causes.push(Cause::duplicate(
                    format!("{at}[{i}].ports[{j}].hostPort"),
                    key.as_str(),
                ));
            }
        }
    }
}

/// `ValidateEnv`.
fn validate_env(c: &Value, path: &str, causes: &mut Vec<Cause>) {
    for (j, var) in list(Some(c), "env").iter().enumerate() {
        let at = format!("{path}.env[{j}]");
        let name = text(Some(var), "name");
        if name.is_empty() {
            causes.push(Cause::required(format!("{at}.name")));
        } else {
            push_invalid(
                causes,
                &format!("{at}.name"),
                name,
                env_var_name_errors(name),
            );
        }
        let Some(from) = var.get("valueFrom").filter(|v| !v.is_null()) else {
            continue;
        };
        let at = format!("{at}.valueFrom");
        let mut sources = 0;
        if let Some(field_ref) = from.get("fieldRef").filter(|v| !v.is_null()) {
            sources += 1;
            object_field_selector(
                field_ref,
                ENV_FIELD_PATHS,
                &format!("{at}.fieldRef"),
                causes,
            );
        }
        if let Some(resource) = from.get("resourceFieldRef").filter(|v| !v.is_null()) {
            sources += 1;
            resource_field_selector(resource, false, &format!("{at}.resourceFieldRef"), causes);
        }
        for kind in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(selector) = from.get(kind).filter(|v| !v.is_null()) {
                sources += 1;
                key_selector(selector, &format!("{at}.{kind}"), causes);
            }
        }
        if from.get("fileKeyRef").is_some_and(|v| !v.is_null()) {
            sources += 1;
        }
        if sources == 0 {
            causes.push(Cause::invalid(
                at,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`",
            ));
        } else if !text(Some(var), "value").is_empty() {
            causes.push(Cause::invalid(
                at,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            causes.push(Cause::invalid(
                at,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

/// `validateConfigMapKeySelector` / `validateSecretKeySelector`.
fn key_selector(selector: &Value, at: &str, causes: &mut Vec<Cause>) {
    let name = text(Some(selector), "name");
    push_invalid(
        causes,
        &format!("{at}.name"),
        name,
        dns1123_subdomain_errors(name),
    );
    let key = text(Some(selector), "key");
    if key.is_empty() {
        causes.push(Cause::required(format!("{at}.key")));
    } else {
        push_invalid(causes, &format!("{at}.key"), key, config_key_errors(key));
    }
}

/// `ValidateEnvFrom`.
fn validate_env_from(c: &Value, path: &str, causes: &mut Vec<Cause>) {
    for (j, source) in list(Some(c), "envFrom").iter().enumerate() {
        let at = format!("{path}.envFrom[{j}]");
        let prefix = text(Some(source), "prefix");
        if !prefix.is_empty() {
            push_invalid(
                causes,
                &format!("{at}.prefix"),
                prefix,
                env_var_name_errors(prefix),
            );
        }
        let mut sources = 0;
        for kind in ["configMapRef", "secretRef"] {
            let Some(reference) = source.get(kind).filter(|v| !v.is_null()) else {
                continue;
            };
            sources += 1;
            let name = text(Some(reference), "name");
            if name.is_empty() {
                causes.push(Cause::required(format!("{at}.{kind}.name")));
            } else {
                // Checked as a name prefix: a trailing dash is allowed.
                let masked = match name.strip_suffix('-') {
                    Some(stem) => format!("{stem}a"),
                    None => name.to_string(),
                };
                push_invalid(
                    causes,
                    &format!("{at}.{kind}.name"),
                    name,
                    dns1123_subdomain_errors(&masked),
                );
            }
        }
        // Upstream reports these at the list, not the entry.
        if sources == 0 {
            causes.push(Cause::invalid(
                format!("{path}.envFrom"),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if sources > 1 {
            causes.push(Cause::invalid(
                format!("{path}.envFrom"),
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

/// `ValidateVolumeMounts`.
fn validate_volume_mounts(c: &Value, path: &str, ctx: &PodContext, causes: &mut Vec<Cause>) {
    let devices = list(Some(c), "volumeDevices");
    let device_names: HashSet<&str> = devices.iter().map(|d| text(Some(d), "name")).collect();
    let device_paths: HashSet<&str> = devices
        .iter()
        .map(|d| text(Some(d), "devicePath"))
        .collect();
    let privileged = c
        .pointer("/securityContext/privileged")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mounts_at = format!("{path}.volumeMounts");
    let mut mount_points = HashSet::new();
    for (j, mount) in list(Some(c), "volumeMounts").iter().enumerate() {
        let at = format!("{mounts_at}[{j}]");
        let name = text(Some(mount), "name");
        let mount_path = text(Some(mount), "mountPath");
        if name.is_empty() {
            causes.push(Cause::required(format!("{at}.name")));
        }
        if !ctx.volumes.contains_key(name) {
            causes.push(Cause::not_found(format!("{at}.name"), name));
        }
        if mount_path.is_empty() {
            causes.push(Cause::required(format!("{at}.mountPath")));
        }
        if !mount_points.insert(mount_path) {
            causes.push(Cause::invalid(
                format!("{at}.mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        if device_names.contains(name) {
            causes.push(Cause::invalid(
                format!("{at}.name"),
                name,
                "must not already exist in volumeDevices",
            ));
        }
        if device_paths.contains(mount_path) {
            causes.push(Cause::invalid(
                format!("{at}.mountPath"),
                mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = text(Some(mount), "subPath");
        let sub_path_expr = text(Some(mount), "subPathExpr");
        if ctx
            .volumes
            .get(name)
            .is_some_and(|v| v.get("image").is_some_and(|i| !i.is_null()))
        {
            for (field, value) in [("subPath", sub_path), ("subPathExpr", sub_path_expr)] {
                if !value.is_empty() {
                    causes.push(Cause::invalid(
                        format!("{at}.{field}"),
                        value,
                        "not allowed in image volume sources",
                    ));
                }
            }
        }
        // Upstream reports these paths without the mount's index.
        if !sub_path.is_empty() {
            local_descending_path(sub_path, &format!("{mounts_at}.subPath"), causes);
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                causes.push(Cause::invalid(
                    format!("{at}.subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            local_descending_path(sub_path_expr, &format!("{mounts_at}.subPathExpr"), causes);
        }
        let propagation = mount.get("mountPropagation").filter(|v| !v.is_null());
        if let Some(mode) = propagation {
            let field = format!("{mounts_at}.mountPropagation");
            optional_one_of(
                Some(mode),
                &field,
                &["Bidirectional", "HostToContainer", "None"],
                causes,
            );
            if mode.as_str() == Some("Bidirectional") && !privileged {
                causes.push(Cause::forbidden(
                    field,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = mount.get("recursiveReadOnly").filter(|v| !v.is_null()) {
            let field = format!("{mounts_at}.recursiveReadOnly");
            match rro.as_str() {
                Some("Disabled") => {}
                Some("Enabled" | "IfPossible") => {
                    if !mount
                        .get("readOnly")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                    {
                        causes.push(Cause::forbidden(
                            field.as_str(),
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if propagation.is_some_and(|p| p.as_str() != Some("None")) {
                        causes.push(Cause::forbidden(
                            field,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                _ => causes.push(Cause::not_supported(
                    field,
                    rro,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
}

/// `ValidateVolumeDevices`.
fn validate_volume_devices(c: &Value, path: &str, ctx: &PodContext, causes: &mut Vec<Cause>) {
    let mounts = list(Some(c), "volumeMounts");
    let mount_names: HashSet<&str> = mounts.iter().map(|m| text(Some(m), "name")).collect();
    let mount_paths: HashSet<&str> = mounts.iter().map(|m| text(Some(m), "mountPath")).collect();
    let mut names = HashSet::new();
    let mut paths = HashSet::new();
    for (j, device) in list(Some(c), "volumeDevices").iter().enumerate() {
        let at = format!("{path}.volumeDevices[{j}]");
        let name = text(Some(device), "name");
        let device_path = text(Some(device), "devicePath");
        let volume = ctx.volumes.get(name);
        let claim = volume.is_some_and(|v| {
            ["persistentVolumeClaim", "ephemeral"]
                .iter()
                .any(|k| v.get(*k).is_some_and(|s| !s.is_null()))
        });
        if name.is_empty() {
            causes.push(Cause::required(format!("{at}.name")));
        }
        if names.contains(name) {
            causes.push(Cause::invalid(format!("{at}.name"), name, "must be unique"));
        }
        if volume.is_some() && !claim {
            causes.push(Cause::invalid(
                format!("{at}.name"),
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            ));
        }
        if volume.is_none() {
            causes.push(Cause::not_found(format!("{at}.name"), name));
        }
        if device_path.is_empty() {
            causes.push(Cause::required(format!("{at}.devicePath")));
        }
        if paths.contains(device_path) {
            causes.push(Cause::invalid(
                format!("{at}.devicePath"),
                device_path,
                "must be unique",
            ));
        }
        if !device_path.is_empty() && device_path.split('/').any(|p| p == "..") {
            causes.push(Cause::invalid(
                format!("{at}.devicePath"),
                device_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(device_path);
        }
        if mount_names.contains(name) {
            causes.push(Cause::invalid(
                format!("{at}.name"),
                name,
                "must not already exist in volumeMounts",
            ));
        }
        if mount_paths.contains(device_path) {
            causes.push(Cause::invalid(
                format!("{at}.devicePath"),
                device_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

/// Whether a resource name has no prefix or the `kubernetes.io/` one.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `helper.IsExtendedResourceName`.
fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && label_key_errors(&format!("requests.{name}")).is_empty()
}

/// `validateContainerResourceName`.
fn resource_name(name: &str, field: &str, causes: &mut Vec<Cause>) {
    let qualified = label_key_errors(name);
    let valid_name = qualified.is_empty();
    push_invalid(causes, field, name, qualified);
    let unprefixed = !name.contains('/');
    if valid_name
        && unprefixed
        && !STANDARD_RESOURCES.contains(&name)
        && !name.starts_with("hugepages-")
        && !name.starts_with("requests.hugepages-")
    {
        causes.push(Cause::invalid(
            field,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if unprefixed {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage")
            && !name.starts_with("hugepages-")
        {
            causes.push(Cause::invalid(
                field,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        causes.push(Cause::invalid(
            field,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// A quantity of a resource list, checked as `ValidateResourceQuantityValue`; `None` when
/// it does not parse (which is reported).
fn quantity(name: &str, value: &Value, field: &str, causes: &mut Vec<Cause>) -> Option<Quantity> {
    let text = value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string());
    let q = match Quantity::parse(&text) {
        Ok(q) => q,
        Err(e) => {
            causes.push(Cause::invalid(field, text.as_str(), e));
            return None;
        }
    };
    if q.is_negative() {
        causes.push(Cause::invalid(field, q.to_string(), super::rules::NEGATIVE));
    }
    if is_extended(name) && !q.is_whole() {
        causes.push(Cause::invalid(field, q.to_string(), "must be an integer"));
    }
    Some(q)
}

/// `ValidateContainerResourceRequirements` (claims are not checked).
pub fn validate_resources(resources: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let limits = resources
        .and_then(|r| r.get("limits"))
        .and_then(Value::as_object);
    let requests = resources
        .and_then(|r| r.get("requests"))
        .and_then(Value::as_object);
    let mut cpu_or_memory = false;
    let mut huge_pages = false;
    let mut limit_values = std::collections::HashMap::new();
    for (name, value) in limits.into_iter().flatten() {
        let field = format!("{at}.limits[{name}]");
        resource_name(name, &field, causes);
        if let Some(q) = quantity(name, value, &field, causes) {
            limit_values.insert(name.as_str(), q);
        }
        huge_pages |= name.starts_with("hugepages-");
        cpu_or_memory |= matches!(name.as_str(), "cpu" | "memory");
    }
    for (name, value) in requests.into_iter().flatten() {
        let field = format!("{at}.requests[{name}]");
        resource_name(name, &field, causes);
        let request = quantity(name, value, &field, causes);
        let overcommit = is_native(name) && !name.starts_with("hugepages-");
        let limit = limit_values.get(name.as_str());
        let limited = limits.is_some_and(|l| l.contains_key(name));
        match (request, limit) {
            (Some(request), Some(limit)) if !overcommit && request != *limit => {
                causes.push(Cause::invalid(
                    format!("{at}.requests"),
                    request.to_string(),
                    &format!("must be equal to {name} limit of {limit}"),
                ))
            }
            (Some(request), Some(limit)) if request > *limit => causes.push(Cause::invalid(
                format!("{at}.requests"),
                request.to_string(),
                &format!("must be less than or equal to {name} limit of {limit}"),
            )),
            _ if !limited && !overcommit => causes.push(Cause::required_with(
                format!("{at}.limits"),
                "Limit must be set for non overcommitable resources",
            )),
            _ => {}
        }
        huge_pages |= name.starts_with("hugepages-");
        cpu_or_memory |= matches!(name.as_str(), "cpu" | "memory");
    }
    if huge_pages && !cpu_or_memory {
        causes.push(Cause::forbidden(at, "HugePages require cpu or memory"));
    }
}

/// A regular container's (or sidecar's) lifecycle handlers and probes.
fn validate_handlers_and_probes(c: &Value, path: &str, ctx: &PodContext, causes: &mut Vec<Cause>) {
    if let Some(lifecycle) = c.get("lifecycle").filter(|l| !l.is_null()) {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = lifecycle.get(hook).filter(|h| !h.is_null()) {
                validate_handler(
                    handler,
                    &["exec", "httpGet", "tcpSocket", "sleep"],
                    &format!("{path}.lifecycle.{hook}"),
                    ctx,
                    causes,
                );
            }
        }
    }
    for probe in PROBES {
        let Some(p) = c.get(probe).filter(|p| !p.is_null()) else {
            continue;
        };
        let at = format!("{path}.{probe}");
        validate_handler(
            p,
            &["exec", "httpGet", "tcpSocket", "grpc"],
            &at,
            ctx,
            causes,
        );
        for field in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            nonnegative(int(Some(p), field), &format!("{at}.{field}"), causes);
        }
        let grace = int(Some(p), "terminationGracePeriodSeconds");
        if let Some(g) = grace.filter(|g| *g <= 0) {
            causes.push(Cause::invalid(
                format!("{at}.terminationGracePeriodSeconds"),
                g,
                "must be greater than 0",
            ));
        }
        if probe == "readinessProbe" {
            if let Some(g) = grace {
                causes.push(Cause::invalid(
                    format!("{at}.terminationGracePeriodSeconds"),
                    g,
                    "must not be set for readinessProbes",
                ));
            }
        } else {
            let success = int(Some(p), "successThreshold").unwrap_or(0);
            if success != 1 {
                causes.push(Cause::invalid(
                    format!("{at}.successThreshold"),
                    success,
                    "must be 1",
                ));
            }
        }
    }
}

/// `validateHandler`: exactly one of the `kinds` of handler, each checked.
fn validate_handler(
    handler: &Value,
    kinds: &[&str],
    at: &str,
    ctx: &PodContext,
    causes: &mut Vec<Cause>,
) {
    let mut found = false;
    for kind in kinds {
        let Some(action) = handler.get(*kind).filter(|a| !a.is_null()) else {
            continue;
        };
        let path = format!("{at}.{kind}");
        if found {
            causes.push(Cause::forbidden(
                path,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        found = true;
        match *kind {
            "exec" if list(Some(action), "command").is_empty() => {
                causes.push(Cause::required(format!("{path}.command")));
            }
            "httpGet" => {
                if text(Some(action), "path").is_empty() {
                    causes.push(Cause::required(format!("{path}.path")));
                }
                port_number_or_name(action.get("port"), &format!("{path}.port"), causes);
                let scheme = text(Some(action), "scheme");
                if !matches!(scheme, "HTTP" | "HTTPS") {
                    causes.push(Cause::not_supported(
                        format!("{path}.scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for header in list(Some(action), "httpHeaders") {
                    let name = text(Some(header), "name");
                    push_invalid(
                        causes,
                        &format!("{path}.httpHeaders"),
                        name,
                        http_header_name_errors(name),
                    );
                }
            }
            "tcpSocket" => port_number_or_name(action.get("port"), &format!("{path}.port"), causes),
            "grpc" => port_number(
                int(Some(action), "port").unwrap_or(0),
                &format!("{path}.port"),
                causes,
            ),
            "sleep" => {
                let seconds = int(Some(action), "seconds").unwrap_or(0);
                if let Some(grace) = ctx.grace {
                    if seconds < 0 || seconds > grace {
                        causes.push(Cause::invalid(
                            path,
                            seconds,
                            &format!(
                                "must be non-negative and less than terminationGracePeriodSeconds ({grace})"
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if !found {
        causes.push(Cause::required_with(at, "must specify a handler type"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The causes for a pod spec's containers (defaulted first).
    fn errors(mut spec: Value) -> Vec<(String, String)> {
        for l in ["containers", "initContainers", "ephemeralContainers"] {
            for c in spec
                .get_mut(l)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                default_container(c);
            }
        }
        let mut causes = Vec::new();
        let volumes_value = json!({"data": {"emptyDir": {}}, "claim": {"persistentVolumeClaim": {"claimName": "c"}}});
        let mut volumes = VolumeMap::new();
        for (name, v) in volumes_value.as_object().into_iter().flatten() {
            volumes.insert(name.as_str(), v);
        }
        let ctx = PodContext {
            volumes: &volumes,
            grace: Some(30),
        };
        validate_containers(Some(&spec), "spec", &ctx, &mut causes);
        validate_init_containers(Some(&spec), "spec", &ctx, &mut causes);
        validate_ephemeral_containers(Some(&spec), "spec", &ctx, &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    fn with(container: Value) -> Value {
        let mut c = json!({"name": "app", "image": "nginx"});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), container.as_object()) {
            for (k, v) in extra {
                c.insert(k.clone(), v.clone());
            }
        }
        json!({ "containers": [c] })
    }

    #[test]
    fn defaults() {
        let mut c = json!({"name": "a", "image": "nginx:1", "ports": [{"containerPort": 80}],
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "livenessProbe": {"httpGet": {"port": 80}},
            "readinessProbe": {"grpc": {"port": 9000}},
            "lifecycle": {"preStop": {"httpGet": {"port": 80}}}});
        default_container(&mut c);
        assert_eq!(
            c,
            json!({"name": "a", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}}],
                "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                "readinessProbe": {"grpc": {"port": 9000, "service": ""}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}}},
                "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File", "resources": {}})
        );
    }

    #[test]
    fn names_images_and_uniqueness() {
        let cases = [
            (with(json!({})), vec![]),
            (json!({"containers": []}), one("spec.containers", "Required value")),
            (with(json!({"name": ""})), one("spec.containers[0].name", "Required value")),
            (
                with(json!({"name": "App"})),
                one("spec.containers[0].name", "Invalid value: \"App\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
            ),
            (with(json!({"image": ""})), one("spec.containers[0].image", "Required value")),
            (
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "x"}]}),
                one("spec.containers[1].name", "Duplicate value: \"a\""),
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "a", "image": "x"}]}),
                one("spec.initContainers[0].name", "Duplicate value: \"a\""),
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "a", "image": "x"}]}),
                one("spec.ephemeralContainers[0].name", "Duplicate value: \"a\""),
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "d", "image": "x", "targetContainerName": "b"}]}),
                one("spec.ephemeralContainers[0].targetContainerName", "Not found: \"b\""),
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "d", "image": "x", "ports": [{"containerPort": 80}]}]}),
                one("spec.ephemeralContainers[0].ports", "Forbidden: cannot be set for an Ephemeral Container"),
            ),
            (
                with(json!({"imagePullPolicy": "Sometimes"})),
                one("spec.containers[0].imagePullPolicy", "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""),
            ),
            (
                with(json!({"terminationMessagePolicy": "Log"})),
                one("spec.containers[0].terminationMessagePolicy", "Unsupported value: \"Log\": supported values: \"File\", \"FallbackToLogsOnError\""),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn ports() {
        let cases = [
            (
                with(
                    json!({"ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]}),
                ),
                one(
                    "spec.containers[0].ports[1].name",
                    "Duplicate value: \"http\"",
                ),
            ),
            (
                with(json!({"ports": [{"containerPort": 80, "name": "web-server-port-1"}]})),
                one(
                    "spec.containers[0].ports[0].name",
                    "Invalid value: \"web-server-port-1\": must be no more than 15 characters",
                ),
            ),
            (
                with(json!({"ports": [{"containerPort": 0}]})),
                one(
                    "spec.containers[0].ports[0].containerPort",
                    "Required value",
                ),
            ),
            (
                with(json!({"ports": [{"containerPort": 70000}]})),
                one(
                    "spec.containers[0].ports[0].containerPort",
                    "Invalid value: 70000: must be between 1 and 65535, inclusive",
                ),
            ),
            (
                with(json!({"ports": [{"containerPort": 80, "hostPort": 70000}]})),
                one(
                    "spec.containers[0].ports[0].hostPort",
                    "Invalid value: 70000: must be between 1 and 65535, inclusive",
                ),
            ),
            (
                with(json!({"ports": [{"containerPort": 80, "protocol": "HTTP"}]})),
                one(
                    "spec.containers[0].ports[0].protocol",
                    "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                ),
            ),
            (
                json!({"containers": [
                    {"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                    {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}),
                one(
                    "spec.containers[1].ports[0].hostPort",
                    "Duplicate value: \"TCP//8080\"",
                ),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn environment() {
        let cases = [
            (with(json!({"env": [{"name": "my.var-1 x"}]})), vec![]),
            (with(json!({"env": [{"name": ""}]})), one("spec.containers[0].env[0].name", "Required value")),
            (
                with(json!({"env": [{"name": "A=B"}]})),
                one("spec.containers[0].env[0].name", "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"),
            ),
            (
                with(json!({"env": [{"name": "A", "valueFrom": {}}]})),
                one("spec.containers[0].env[0].valueFrom", "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`"),
            ),
            (
                with(json!({"env": [{"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]})),
                one("spec.containers[0].env[0].valueFrom", "Invalid value: \"\": may not be specified when `value` is not empty"),
            ),
            (
                with(json!({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}, "configMapKeyRef": {"name": "c", "key": "k"}}}]})),
                one("spec.containers[0].env[0].valueFrom", "Invalid value: \"\": may not have more than one field specified at a time"),
            ),
            (
                with(json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c"}}}]})),
                one("spec.containers[0].env[0].valueFrom.configMapKeyRef.key", "Required value"),
            ),
            (
                with(json!({"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}}]})),
                one("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "Unsupported value: \"metadata.labels\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\""),
            ),
            (
                with(json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]})),
                one("spec.containers[0].env[0].valueFrom.resourceFieldRef.resource", "Unsupported value: \"limits.gpu\": supported values: \"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", \"requests.ephemeral-storage\", \"requests.memory\""),
            ),
            (
                with(json!({"envFrom": [{}]})),
                one("spec.containers[0].envFrom", "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"),
            ),
            (
                with(json!({"envFrom": [{"prefix": "P_", "configMapRef": {"name": "cfg-"}}]})),
                vec![],
            ),
            (
                with(json!({"envFrom": [{"secretRef": {"name": ""}}]})),
                one("spec.containers[0].envFrom[0].secretRef.name", "Required value"),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn volume_mounts_and_devices() {
        let cases = [
            (with(json!({"volumeMounts": [{"name": "data", "mountPath": "/d"}]})), vec![]),
            (
                with(json!({"volumeMounts": [{"name": "nope", "mountPath": "/d"}]})),
                one("spec.containers[0].volumeMounts[0].name", "Not found: \"nope\""),
            ),
            (
                with(json!({"volumeMounts": [{"name": "", "mountPath": "/d"}]})),
                vec![
                    ("spec.containers[0].volumeMounts[0].name".to_string(), "Required value".to_string()),
                    ("spec.containers[0].volumeMounts[0].name".to_string(), "Not found: \"\"".to_string()),
                ],
            ),
            (
                with(json!({"volumeMounts": [{"name": "data", "mountPath": ""}]})),
                one("spec.containers[0].volumeMounts[0].mountPath", "Required value"),
            ),
            (
                with(json!({"volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "data", "mountPath": "/d"}]})),
                one("spec.containers[0].volumeMounts[1].mountPath", "Invalid value: \"/d\": must be unique"),
            ),
            (
                with(json!({"volumeMounts": [{"name": "data", "mountPath": "/d", "subPath": "../x"}]})),
                one("spec.containers[0].volumeMounts.subPath", "Invalid value: \"../x\": must not contain '..'"),
            ),
            (
                with(json!({"volumeMounts": [{"name": "data", "mountPath": "/d", "mountPropagation": "Bidirectional"}]})),
                one("spec.containers[0].volumeMounts.mountPropagation", "Forbidden: Bidirectional mount propagation is available only to privileged containers"),
            ),
            (
                with(json!({"volumeDevices": [{"name": "data", "devicePath": "/dev/x"}]})),
                one("spec.containers[0].volumeDevices[0].name", "Invalid value: \"data\": can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"),
            ),
            (with(json!({"volumeDevices": [{"name": "claim", "devicePath": "/dev/x"}]})), vec![]),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn resources() {
        let cases = [
            (with(json!({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}})), vec![]),
            (
                with(json!({"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}})),
                one("spec.containers[0].resources.requests", "Invalid value: \"2\": must be less than or equal to cpu limit of 1"),
            ),
            (
                with(json!({"resources": {"requests": {"memory": "-1"}}})),
                one("spec.containers[0].resources.requests[memory]", "Invalid value: \"-1\": must be greater than or equal to 0"),
            ),
            (
                with(json!({"resources": {"limits": {"cpu": "abc"}}})),
                one("spec.containers[0].resources.limits[cpu]", "Invalid value: \"abc\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
            ),
            (
                with(json!({"resources": {"limits": {"foo": "1"}}})),
                vec![
                    ("spec.containers[0].resources.limits[foo]".to_string(), "Invalid value: \"foo\": must be a standard resource type or fully qualified".to_string()),
                    ("spec.containers[0].resources.limits[foo]".to_string(), "Invalid value: \"foo\": must be a standard resource for containers".to_string()),
                ],
            ),
            (
                with(json!({"resources": {"limits": {"example.com/gpu": "1500m"}, "requests": {"example.com/gpu": "1500m"}}})),
                vec![
                    ("spec.containers[0].resources.limits[example.com/gpu]".to_string(), "Invalid value: \"1500m\": must be an integer".to_string()),
                    ("spec.containers[0].resources.requests[example.com/gpu]".to_string(), "Invalid value: \"1500m\": must be an integer".to_string()),
                ],
            ),
            (
                with(json!({"resources": {"limits": {"example.com/gpu": "2"}, "requests": {"example.com/gpu": "1"}}})),
                one("spec.containers[0].resources.requests", "Invalid value: \"1\": must be equal to example.com/gpu limit of 2"),
            ),
            (
                with(json!({"resources": {"requests": {"example.com/gpu": "1"}}})),
                one("spec.containers[0].resources.limits", "Required value: Limit must be set for non overcommitable resources"),
            ),
            (
                with(json!({"resources": {"limits": {"hugepages-2Mi": "2Mi"}, "requests": {"hugepages-2Mi": "2Mi"}}})),
                one("spec.containers[0].resources", "Forbidden: HugePages require cpu or memory"),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn probes_and_handlers() {
        let cases = [
            (with(json!({"livenessProbe": {"tcpSocket": {"port": "http"}}})), vec![]),
            (
                with(json!({"livenessProbe": {}})),
                one("spec.containers[0].livenessProbe", "Required value: must specify a handler type"),
            ),
            (
                with(json!({"livenessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}})),
                one("spec.containers[0].livenessProbe.tcpSocket", "Forbidden: may not specify more than 1 handler type"),
            ),
            (
                with(json!({"readinessProbe": {"exec": {}}})),
                one("spec.containers[0].readinessProbe.exec.command", "Required value"),
            ),
            (
                with(json!({"livenessProbe": {"httpGet": {"port": 0}}})),
                one("spec.containers[0].livenessProbe.httpGet.port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
            ),
            (
                with(json!({"livenessProbe": {"httpGet": {"port": 80, "scheme": "FTP"}}})),
                one("spec.containers[0].livenessProbe.httpGet.scheme", "Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\""),
            ),
            (
                with(json!({"livenessProbe": {"httpGet": {"port": 80, "httpHeaders": [{"name": "X Y", "value": "v"}]}}})),
                one("spec.containers[0].livenessProbe.httpGet.httpHeaders", "Invalid value: \"X Y\": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')"),
            ),
            (
                with(json!({"livenessProbe": {"tcpSocket": {"port": 80}, "successThreshold": 2}})),
                one("spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1"),
            ),
            (
                with(json!({"startupProbe": {"tcpSocket": {"port": 80}, "periodSeconds": -1}})),
                one("spec.containers[0].startupProbe.periodSeconds", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                with(json!({"readinessProbe": {"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 5}})),
                one("spec.containers[0].readinessProbe.terminationGracePeriodSeconds", "Invalid value: 5: must not be set for readinessProbes"),
            ),
            (
                with(json!({"livenessProbe": {"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 0}})),
                one("spec.containers[0].livenessProbe.terminationGracePeriodSeconds", "Invalid value: 0: must be greater than 0"),
            ),
            (
                with(json!({"lifecycle": {"preStop": {"sleep": {"seconds": 60}}}})),
                one("spec.containers[0].lifecycle.preStop.sleep", "Invalid value: 60: must be non-negative and less than terminationGracePeriodSeconds (30)"),
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "i", "image": "x", "readinessProbe": {"tcpSocket": {"port": 80}}}]}),
                one("spec.initContainers[0].readinessProbe", "Forbidden: may not be set for init containers without restartPolicy=Always"),
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "i", "image": "x", "restartPolicy": "Always", "readinessProbe": {"tcpSocket": {"port": 80}}}]}),
                vec![],
            ),
            (
                json!({"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "i", "image": "x", "restartPolicy": "Never"}]}),
                one("spec.initContainers[0].restartPolicy", "Unsupported value: \"Never\": supported values: \"Always\""),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
    }

    #[test]
    fn image_whitespace_is_refused_on_pods() {
        let mut causes = Vec::new();
        image_whitespace(
            &json!({"image": " nginx"}),
            "spec.containers[0]",
            &mut causes,
        );
        assert_eq!(
            causes,
            vec![Cause::invalid(
                "spec.containers[0].image",
                " nginx",
                "must not have leading or trailing whitespace"
            )]
        );
    }
}
