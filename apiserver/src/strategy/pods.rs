//! Pods and pod templates: the pod spec's defaults and validation, which the workload
//! kinds share for their templates.

use serde_json::{json, Value};

use super::{set, set_default, FieldLabel, Strategy};
use crate::status::Cause;

/// The defaults of a pod spec, in a pod or in a workload's template.
pub fn default_pod_spec(spec: &mut Value) {
    for (field, value) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("securityContext", json!({})),
    ] {
        set_default(spec, &[field], value);
    }
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            default_container(c);
        }
    }
}

fn default_container(c: &mut Value) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
    let latest = !image.contains(':') || image.ends_with(":latest");
    let policy = if latest { "Always" } else { "IfNotPresent" };
    set_default(c, &["imagePullPolicy"], json!(policy));
    set_default(
        c,
        &["terminationMessagePath"],
        json!("/dev/termination-log"),
    );
    set_default(c, &["terminationMessagePolicy"], json!("File"));
    set_default(c, &["resources"], json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports {
            set_default(port, &["protocol"], json!("TCP"));
        }
    }
}

/// Pod templates: their spec gets a pod spec's defaults.
pub struct PodTemplates;
impl Strategy for PodTemplates {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.pointer_mut("/template/spec") {
            default_pod_spec(spec);
        }
    }
}

pub struct Pods;
impl Strategy for Pods {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec") {
            default_pod_spec(spec);
            // Only pods themselves get these (the service-account admission and the pod
            // defaulter), not the templates of workloads.
            set_default(spec, &["enableServiceLinks"], json!(true));
            set_default(spec, &["serviceAccountName"], json!("default"));
        }
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set(
            obj,
            &["status"],
            json!({ "phase": "Pending", "qosClass": "BestEffort" }),
        );
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validate_pod_spec(obj.get("spec"), "spec", causes);
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        // Only images (and a few scheduling fields) of a pod may change.
        let strip = |v: &Value| {
            let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
            for list in ["containers", "initContainers"] {
                if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                    for c in cs {
                        if let Some(c) = c.as_object_mut() {
                            c.shift_remove("image");
                        }
                    }
                }
            }
            if let Some(s) = spec.as_object_mut() {
                for field in [
                    "activeDeadlineSeconds",
                    "tolerations",
                    "terminationGracePeriodSeconds",
                ] {
                    s.shift_remove(field);
                }
            }
            spec
        };
        if strip(new) != strip(old) {
            causes.push(Cause::forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`",
            ));
        }
    }
    fn field_labels(&self) -> &'static [FieldLabel] {
        const LABELS: &[FieldLabel] = &[
            FieldLabel::field("spec.nodeName"),
            FieldLabel::field("spec.restartPolicy"),
            FieldLabel::field("spec.schedulerName"),
            FieldLabel::field("spec.serviceAccountName"),
            FieldLabel::boolean("spec.hostNetwork"),
            FieldLabel::field("status.phase"),
            FieldLabel::field("status.podIP"),
            // Accepted, but upstream never matches it to anything but "".
            FieldLabel {
                name: "status.podIPs",
                paths: &["status.podIPs.none"],
                unset: "",
            },
            FieldLabel::field("status.nominatedNodeName"),
        ];
        LABELS
    }
    fn graceful_delete(&self, obj: &Value) -> bool {
        // A pod on a node stops there first; an unscheduled one has nothing to stop.
        obj.pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
    }
}

pub fn validate_pod_spec(spec: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => causes.push(Cause::required(format!("{at}.containers"))),
        Some(cs) if cs.is_empty() => causes.push(Cause::required(format!("{at}.containers"))),
        Some(cs) => {
            let mut seen = std::collections::HashSet::new();
            for (i, c) in cs.iter().enumerate() {
                match c.get("name").and_then(Value::as_str) {
                    None | Some("") => {
                        causes.push(Cause::required(format!("{at}.containers[{i}].name")))
                    }
                    Some(n) => {
                        if !seen.insert(n) {
                            causes.push(Cause {
                                reason: "FieldValueDuplicate",
                                field: format!("{at}.containers[{i}].name"),
                                message: format!("Duplicate value: \"{n}\""),
                            });
                        }
                    }
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push(Cause::required(format!("{at}.containers[{i}].image")));
                }
            }
        }
    }
}
