//! The workload kinds: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! ReplicationControllers, Jobs and CronJobs. One [`Workload`] strategy serves them all,
//! parameterised by each kind's defaults and where its pod template is; the template gets a
//! pod spec's defaults and validation.

use serde_json::{json, Map, Value};

use super::pods::{default_pod_spec, validate_pod_spec};
use super::{immutable, set_default, FieldLabel, Strategy};
use crate::status::Cause;

/// A workload kind.
pub struct Workload {
    /// The kind in lower case, as upstream names it in messages.
    kind: &'static str,
    /// The kind's own defaults.
    defaults: fn(&mut Value),
    /// Where the pod template's spec is (`/spec/template/spec`).
    template_spec: &'static str,
    /// Whether `spec.selector` is required and must match the template's labels.
    selector: bool,
    /// Fields that may not change, as JSON pointers.
    immutable: &'static [&'static str],
    field_labels: &'static [FieldLabel],
}

impl Strategy for Workload {
    fn default(&self, obj: &mut Value) {
        (self.defaults)(obj);
        if let Some(spec) = obj.pointer_mut(self.template_spec) {
            default_pod_spec(spec);
        }
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        if self.selector {
            validate_selector_matches_template(obj, self.kind, causes);
        }
        let at = self.template_spec.trim_start_matches('/').replace('/', ".");
        validate_pod_spec(obj.pointer(self.template_spec), &at, causes);
    }
    fn validate_update(&self, new: &Value, old: &Value, causes: &mut Vec<Cause>) {
        for pointer in self.immutable {
            let field = pointer.trim_start_matches('/').replace('/', ".");
            immutable(new, old, pointer, &field, causes);
        }
    }
    fn field_labels(&self) -> &'static [FieldLabel] {
        self.field_labels
    }
}

pub static DEPLOYMENTS: Workload = Workload {
    kind: "deployment",
    defaults: deployment_defaults,
    template_spec: "/spec/template/spec",
    selector: true,
    immutable: &["/spec/selector"],
    field_labels: &[],
};

pub static REPLICA_SETS: Workload = Workload {
    kind: "deployment", // upstream's message says "deployment" for ReplicaSets too
    defaults: replicas_default,
    template_spec: "/spec/template/spec",
    selector: true,
    immutable: &["/spec/selector"],
    field_labels: &[FieldLabel::number("status.replicas", &["status.replicas"])],
};

pub static STATEFUL_SETS: Workload = Workload {
    kind: "statefulset",
    defaults: stateful_set_defaults,
    template_spec: "/spec/template/spec",
    selector: true,
    immutable: &["/spec/selector"],
    field_labels: &[],
};

pub static DAEMON_SETS: Workload = Workload {
    kind: "daemonset",
    defaults: daemon_set_defaults,
    template_spec: "/spec/template/spec",
    selector: true,
    immutable: &["/spec/selector"],
    field_labels: &[],
};

pub static REPLICATION_CONTROLLERS: Workload = Workload {
    kind: "replicationcontroller",
    defaults: replication_controller_defaults,
    template_spec: "/spec/template/spec",
    selector: false,
    immutable: &[],
    field_labels: &[FieldLabel::number("status.replicas", &["status.replicas"])],
};

pub static JOBS: Workload = Workload {
    kind: "job",
    defaults: job_defaults,
    template_spec: "/spec/template/spec",
    selector: false,
    immutable: &["/spec/selector", "/spec/template"],
    field_labels: &[FieldLabel::number(
        "status.successful",
        &["status.succeeded"],
    )],
};

pub static CRON_JOBS: Workload = Workload {
    kind: "cronjob",
    defaults: cron_job_defaults,
    template_spec: "/spec/jobTemplate/spec/template/spec",
    selector: false,
    immutable: &[],
    field_labels: &[],
};

fn replicas_default(obj: &mut Value) {
    set_default(obj, &["spec", "replicas"], json!(1));
}

fn deployment_defaults(obj: &mut Value) {
    replicas_default(obj);
    set_default(obj, &["spec", "strategy", "type"], json!("RollingUpdate"));
    if obj.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("RollingUpdate") {
        let rolling = ["spec", "strategy", "rollingUpdate"];
        set_default(
            obj,
            &[rolling[0], rolling[1], rolling[2], "maxUnavailable"],
            json!("25%"),
        );
        set_default(
            obj,
            &[rolling[0], rolling[1], rolling[2], "maxSurge"],
            json!("25%"),
        );
    }
    set_default(obj, &["spec", "revisionHistoryLimit"], json!(10));
    set_default(obj, &["spec", "progressDeadlineSeconds"], json!(600));
}

fn stateful_set_defaults(obj: &mut Value) {
    replicas_default(obj);
    set_default(obj, &["spec", "podManagementPolicy"], json!("OrderedReady"));
    if obj.pointer("/spec/updateStrategy/type").is_none() {
        set_default(
            obj,
            &["spec", "updateStrategy", "type"],
            json!("RollingUpdate"),
        );
        set_default(obj, &["spec", "updateStrategy", "rollingUpdate"], json!({}));
    }
    let rolling = obj
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("RollingUpdate");
    if rolling && obj.pointer("/spec/updateStrategy/rollingUpdate").is_some() {
        set_default(
            obj,
            &["spec", "updateStrategy", "rollingUpdate", "partition"],
            json!(0),
        );
        set_default(
            obj,
            &["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"],
            json!(1),
        );
    }
    set_default(
        obj,
        &["spec", "persistentVolumeClaimRetentionPolicy"],
        json!({ "whenDeleted": "Retain", "whenScaled": "Retain" }),
    );
    set_default(obj, &["spec", "revisionHistoryLimit"], json!(10));
}

fn daemon_set_defaults(obj: &mut Value) {
    set_default(
        obj,
        &["spec", "updateStrategy", "type"],
        json!("RollingUpdate"),
    );
    if obj
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("RollingUpdate")
    {
        set_default(
            obj,
            &["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"],
            json!(1),
        );
        set_default(
            obj,
            &["spec", "updateStrategy", "rollingUpdate", "maxSurge"],
            json!(0),
        );
    }
    set_default(obj, &["spec", "revisionHistoryLimit"], json!(10));
}

fn replication_controller_defaults(obj: &mut Value) {
    replicas_default(obj);
    let Some(labels) = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned()
    else {
        return;
    };
    let empty = |v: Option<&Value>| v.and_then(Value::as_object).is_none_or(Map::is_empty);
    if empty(obj.pointer("/spec/selector")) {
        super::set(obj, &["spec", "selector"], labels.clone());
    }
    if empty(obj.pointer("/metadata/labels")) {
        super::set(obj, &["metadata", "labels"], labels);
    }
}

fn job_defaults(obj: &mut Value) {
    let completions = obj.pointer("/spec/completions").is_some();
    let parallelism = obj.pointer("/spec/parallelism").is_some();
    if !completions && !parallelism {
        set_default(obj, &["spec", "completions"], json!(1));
    }
    set_default(obj, &["spec", "parallelism"], json!(1));
    let per_index = obj.pointer("/spec/backoffLimitPerIndex").is_some();
    set_default(
        obj,
        &["spec", "backoffLimit"],
        json!(if per_index { i32::MAX } else { 6 }),
    );
    set_default(obj, &["spec", "completionMode"], json!("NonIndexed"));
    set_default(obj, &["spec", "suspend"], json!(false));
    set_default(obj, &["spec", "manualSelector"], json!(false));
    let replacement = if obj.pointer("/spec/podFailurePolicy").is_some() {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_default(obj, &["spec", "podReplacementPolicy"], json!(replacement));
}

fn cron_job_defaults(obj: &mut Value) {
    set_default(obj, &["spec", "concurrencyPolicy"], json!("Allow"));
    set_default(obj, &["spec", "suspend"], json!(false));
    set_default(obj, &["spec", "successfulJobsHistoryLimit"], json!(3));
    set_default(obj, &["spec", "failedJobsHistoryLimit"], json!(1));
}

fn validate_selector_matches_template(obj: &Value, kind: &str, causes: &mut Vec<Cause>) {
    let Some(selector) = obj.pointer("/spec/selector") else {
        causes.push(Cause::required("spec.selector"));
        return;
    };
    let parsed = match crate::selectors::LabelSelector::from_json(selector) {
        Ok(s) => s,
        Err(e) => {
            causes.push(Cause::invalid("spec.selector", selector, &e.to_string()));
            return;
        }
    };
    if parsed.is_empty() {
        causes.push(Cause::invalid(
            "spec.selector",
            selector,
            &format!("empty selector is invalid for {kind}"),
        ));
        return;
    }
    let empty = Map::new();
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !parsed.matches(labels) {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            Value::Object(labels.clone()),
            "`selector` does not match template `labels`",
        ));
    }
}
