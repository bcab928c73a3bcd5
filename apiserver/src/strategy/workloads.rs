//! The workload kinds: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! ReplicationControllers, Jobs and CronJobs. One [`Workload`] strategy serves them all,
//! parameterised by each kind's name format, defaults, where its pod template is, and its
//! spec validation; the template gets a pod spec's defaults and validation. The apps and
//! core kinds' specs are checked here, the batch kinds' in `jobs.rs`.

use serde_json::{json, Map, Value};

use super::jobs::{cron_job_defaults, job_defaults, prepare_job, validate_cron_job, validate_job};
use super::pods::{default_pod_spec, validate_pod_template};
use super::rules::{
    go_struct, int, int_or_percent, int_or_percent_value, label_selector, nonnegative,
    not_over_100_percent, selector_is_empty, text,
};
use super::{immutable, set_default, set_default_if_empty, FieldLabel, NameRule, Strategy};
use crate::selectors::LabelSelector;
use crate::status::Cause;
use crate::validation::validate_annotations;
use crate::validation::validate_labels;

/// A workload kind.
pub struct Workload {
    name_rule: NameRule,
    /// The kind's own defaults.
    defaults: fn(&mut Value),
    /// Where the pod template's spec is (`/spec/template/spec`).
    template_spec: &'static str,
    /// Whether the template is optional (a pointer upstream, so not defaulted when absent).
    optional_template: bool,
    /// What the registry sets on create besides the generic metadata.
    prepare: fn(&mut Value),
    /// The kind's validation of its spec (and template).
    validate: fn(&Value, &mut Vec<Cause>),
    /// Fields that may not change, as JSON pointers.
    immutable: &'static [&'static str],
    field_labels: &'static [FieldLabel],
}

impl Strategy for Workload {
    fn name_rule(&self) -> NameRule {
        self.name_rule
    }
    fn default(&self, obj: &mut Value) {
        (self.defaults)(obj);
        // An absent template gets the pod spec defaults too, as upstream's value types do.
        let path: Vec<&str> = self
            .template_spec
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        let parent = self.template_spec.rsplit_once('/').map_or("", |(p, _)| p);
        if !self.optional_template || obj.pointer(parent).is_some() {
            set_default(obj, &path, json!({}));
        }
        if let Some(spec) = obj.pointer_mut(self.template_spec) {
            default_pod_spec(spec);
        }
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        (self.prepare)(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        (self.validate)(obj, causes);
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

fn nothing(_: &mut Value) {}

pub static DEPLOYMENTS: Workload = Workload {
    name_rule: NameRule::Subdomain,
    defaults: deployment_defaults,
    template_spec: "/spec/template/spec",
    optional_template: false,
    prepare: nothing,
    validate: validate_deployment,
    immutable: &["/spec/selector"],
    field_labels: &[],
};

pub static REPLICA_SETS: Workload = Workload {
    name_rule: NameRule::Subdomain,
    defaults: replicas_default,
    template_spec: "/spec/template/spec",
    optional_template: false,
    prepare: nothing,
    validate: validate_replica_set,
    immutable: &["/spec/selector"],
    field_labels: &[FieldLabel::number("status.replicas", &["status.replicas"])],
};

pub static STATEFUL_SETS: Workload = Workload {
    name_rule: NameRule::Label,
    defaults: stateful_set_defaults,
    template_spec: "/spec/template/spec",
    optional_template: false,
    prepare: nothing,
    validate: validate_stateful_set,
    immutable: &["/spec/selector"],
    field_labels: &[],
};

pub static DAEMON_SETS: Workload = Workload {
    name_rule: NameRule::Subdomain,
    defaults: daemon_set_defaults,
    template_spec: "/spec/template/spec",
    optional_template: false,
    prepare: nothing,
    validate: validate_daemon_set,
    immutable: &["/spec/selector"],
    field_labels: &[],
};

pub static REPLICATION_CONTROLLERS: Workload = Workload {
    name_rule: NameRule::Subdomain,
    defaults: replication_controller_defaults,
    template_spec: "/spec/template/spec",
    optional_template: true,
    prepare: nothing,
    validate: validate_replication_controller,
    immutable: &[],
    field_labels: &[FieldLabel::number("status.replicas", &["status.replicas"])],
};

pub static JOBS: Workload = Workload {
    name_rule: NameRule::Subdomain,
    defaults: job_defaults,
    template_spec: "/spec/template/spec",
    optional_template: false,
    prepare: prepare_job,
    validate: validate_job,
    immutable: &["/spec/selector", "/spec/template"],
    field_labels: &[FieldLabel::number(
        "status.successful",
        &["status.succeeded"],
    )],
};

pub static CRON_JOBS: Workload = Workload {
    name_rule: NameRule::Subdomain,
    defaults: cron_job_defaults,
    template_spec: "/spec/jobTemplate/spec/template/spec",
    optional_template: false,
    prepare: nothing,
    validate: validate_cron_job,
    immutable: &[],
    field_labels: &[],
};

fn replicas_default(obj: &mut Value) {
    set_default(obj, &["spec", "replicas"], json!(1));
}

fn deployment_defaults(obj: &mut Value) {
    replicas_default(obj);
    set_default_if_empty(obj, &["spec", "strategy", "type"], json!("RollingUpdate"));
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
    set_default_if_empty(obj, &["spec", "podManagementPolicy"], json!("OrderedReady"));
    let unset = obj
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if unset {
        super::set(
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
    set_default_if_empty(
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

/// The template's labels, and how upstream prints them (`null` when there are none).
pub fn template_labels(spec: Option<&Value>) -> (Map<String, Value>, Value) {
    let labels = spec.and_then(|s| s.pointer("/template/metadata/labels"));
    (
        labels
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        labels.cloned().unwrap_or(Value::Null),
    )
}

/// Reports a selector that does not select the template's labels.
pub fn selector_matches_template(
    selector: &LabelSelector,
    spec: Option<&Value>,
    causes: &mut Vec<Cause>,
) {
    let (labels, shown) = template_labels(spec);
    if !selector.matches(&labels) {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            &shown,
            "`selector` does not match template `labels`",
        ));
    }
}

/// The selector of an apps kind: required, valid, and not empty (upstream names the kind
/// in the message: "deployment" for ReplicaSets too). Returns the parsed selector, or
/// `None` when it does not parse (which is reported as `parse_error` when set).
fn required_selector(
    spec: Option<&Value>,
    kind: &str,
    parse_error: &str,
    causes: &mut Vec<Cause>,
) -> Option<LabelSelector> {
    let selector = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null());
    match selector {
        None => causes.push(Cause::required("spec.selector")),
        Some(selector) => {
            label_selector(Some(selector), "spec.selector", causes);
            if selector_is_empty(selector) {
                causes.push(Cause::invalid(
                    "spec.selector",
                    selector,
                    &format!("empty selector is invalid for {kind}"),
                ));
            }
        }
    }
    let value = selector.cloned().unwrap_or(Value::Null);
    match LabelSelector::from_json(&value) {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            causes.push(Cause::invalid("spec.selector", &value, parse_error));
            None
        }
    }
}

/// `ValidatePodTemplateSpecForReplicaSet` and its equivalents: the selector matches the
/// labels (unless it selects everything), the template is valid, the pods restart
/// `Always`, and no deadline (`owner` names the kind in upstream's message).
fn template_for_controller(
    spec: Option<&Value>,
    selector: &LabelSelector,
    owner: &str,
    causes: &mut Vec<Cause>,
) {
    if !selector.is_empty() {
        selector_matches_template(selector, spec, causes);
    }
    validate_pod_template(
        spec.and_then(|s| s.get("template")),
        "spec.template",
        causes,
    );
    always_restarts(spec, owner, causes);
}

/// The pods of a controller restart `Always` and have no deadline.
fn always_restarts(spec: Option<&Value>, owner: &str, causes: &mut Vec<Cause>) {
    let pod_spec = spec.and_then(|s| s.pointer("/template/spec"));
    let restart = text(pod_spec, "restartPolicy");
    if restart != "Always" {
        causes.push(Cause::not_supported(
            "spec.template.spec.restartPolicy",
            restart,
            &["Always"],
        ));
    }
    if pod_spec
        .and_then(|s| s.get("activeDeadlineSeconds"))
        .is_some_and(|d| !d.is_null())
    {
        causes.push(Cause::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            &format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
}

/// How upstream prints a rolling update of its internal types.
fn rolling_update_struct(rolling: Option<&Value>) -> Value {
    match rolling.filter(|r| !r.is_null()) {
        Some(r) => go_struct(
            Some(r),
            &[
                ("MaxUnavailable", "maxUnavailable"),
                ("MaxSurge", "maxSurge"),
            ],
        ),
        None => Value::Null,
    }
}

/// An update strategy as upstream prints its internal struct.
fn strategy_struct(strategy: Option<&Value>, rolling: Value) -> Value {
    json!({
        "Type": text(strategy, "type"),
        "RollingUpdate": rolling,
    })
}

/// `ValidateDeploymentSpec`.
fn validate_deployment(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    nonnegative(int(spec, "replicas"), "spec.replicas", causes);
    if let Some(selector) = required_selector(spec, "deployment", "invalid label selector", causes)
    {
        template_for_controller(spec, &selector, "ReplicaSet", causes);
    }
    let strategy = spec.and_then(|s| s.get("strategy"));
    let rolling = strategy
        .and_then(|s| s.get("rollingUpdate"))
        .filter(|r| !r.is_null());
    match text(strategy, "type") {
        "Recreate" => {
            if rolling.is_some() {
                causes.push(Cause::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match rolling {
            None => causes.push(Cause::required_with(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(rolling) => {
                let at = "spec.strategy.rollingUpdate";
                let unavailable = rolling.get("maxUnavailable");
                let surge = rolling.get("maxSurge");
                int_or_percent(unavailable, &format!("{at}.maxUnavailable"), causes);
                int_or_percent(surge, &format!("{at}.maxSurge"), causes);
                if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                    causes.push(Cause::invalid(
                        format!("{at}.maxUnavailable"),
                        unavailable.unwrap_or(&json!(0)),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_over_100_percent(unavailable, &format!("{at}.maxUnavailable"), causes);
            }
        },
        _ => causes.push(Cause::not_supported(
            "spec.strategy",
            strategy_struct(strategy, rolling_update_struct(rolling)),
            &["Recreate", "RollingUpdate"],
        )),
    }
    let min_ready = int(spec, "minReadySeconds");
    nonnegative(min_ready, "spec.minReadySeconds", causes);
    nonnegative(
        int(spec, "revisionHistoryLimit"),
        "spec.revisionHistoryLimit",
        causes,
    );
    if let Some(deadline) = int(spec, "progressDeadlineSeconds") {
        nonnegative(Some(deadline), "spec.progressDeadlineSeconds", causes);
        if deadline <= min_ready.unwrap_or(0) {
            causes.push(Cause::invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// `ValidateReplicaSetSpec`.
fn validate_replica_set(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    nonnegative(int(spec, "replicas"), "spec.replicas", causes);
    nonnegative(int(spec, "minReadySeconds"), "spec.minReadySeconds", causes);
    // Upstream's message says "deployment" for ReplicaSets too.
    if let Some(selector) = required_selector(spec, "deployment", "invalid label selector", causes)
    {
        template_for_controller(spec, &selector, "ReplicaSet", causes);
    }
}

/// `ValidateStatefulSetSpec`. Upstream does not validate the template's pod spec (its
/// volumes may come from the claim templates), only its labels and annotations.
fn validate_stateful_set(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    match text(spec, "podManagementPolicy") {
        "" => causes.push(Cause::required("spec.podManagementPolicy")),
        "OrderedReady" | "Parallel" => {}
        other => causes.push(Cause::invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.and_then(|s| s.get("updateStrategy"));
    let rolling = strategy
        .and_then(|s| s.get("rollingUpdate"))
        .filter(|r| !r.is_null());
    let rolling_struct = rolling.map(|r| {
        go_struct(
            Some(r),
            &[
                ("Partition", "partition"),
                ("MaxUnavailable", "maxUnavailable"),
            ],
        )
    });
    match text(strategy, "type") {
        "" => causes.push(Cause::required("spec.updateStrategy")),
        "OnDelete" => {
            if let Some(shown) = &rolling_struct {
                causes.push(Cause::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    shown,
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(rolling) = rolling {
                let at = "spec.updateStrategy.rollingUpdate";
                nonnegative(
                    int(Some(rolling), "partition"),
                    &format!("{at}.partition"),
                    causes,
                );
                if let Some(max) = rolling.get("maxUnavailable").filter(|m| !m.is_null()) {
                    let field = format!("{at}.maxUnavailable");
                    int_or_percent(Some(max), &field, causes);
                    if int_or_percent_value(Some(max)) == 0 {
                        causes.push(Cause::invalid(field.as_str(), max, "cannot be 0"));
                    }
                    not_over_100_percent(Some(max), &field, causes);
                }
            }
        }
        _ => causes.push(Cause::invalid(
            "spec.updateStrategy",
            strategy_struct(strategy, rolling_struct.unwrap_or(Value::Null)),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = spec
        .and_then(|s| s.get("persistentVolumeClaimRetentionPolicy"))
        .filter(|p| !p.is_null())
    {
        for field in ["whenDeleted", "whenScaled"] {
            let value = text(Some(policy), field);
            if !matches!(value, "Retain" | "Delete") {
                causes.push(Cause::not_supported(
                    format!("spec.persistentVolumeClaimRetentionPolicy.{field}"),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    nonnegative(int(spec, "replicas"), "spec.replicas", causes);
    nonnegative(int(spec, "minReadySeconds"), "spec.minReadySeconds", causes);
    let ordinals = spec.and_then(|s| s.get("ordinals"));
    nonnegative(int(ordinals, "start"), "spec.ordinals.start", causes);
    if let Some(selector) = required_selector(spec, "statefulset", "", causes) {
        if !selector.is_empty() {
            selector_matches_template(&selector, spec, causes);
        }
        let meta = spec.and_then(|s| s.pointer("/template/metadata"));
        validate_labels(
            meta.and_then(|m| m.get("labels")),
            "spec.template.labels",
            causes,
        );
        validate_annotations(
            meta.and_then(|m| m.get("annotations")),
            "spec.template.annotations",
            causes,
        );
    }
    always_restarts(spec, "StatefulSet", causes);
}

/// `ValidateDaemonSetSpec`.
fn validate_daemon_set(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    let selector = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null());
    label_selector(selector, "spec.selector", causes);
    // A missing selector selects nothing, so it does not match either.
    if let Ok(parsed) = LabelSelector::from_json(selector.unwrap_or(&Value::Null)) {
        selector_matches_template(&parsed, spec, causes);
    }
    if let Some(selector) = selector.filter(|s| selector_is_empty(s)) {
        causes.push(Cause::invalid(
            "spec.selector",
            selector,
            "empty selector is invalid for daemonset",
        ));
    }
    validate_pod_template(
        spec.and_then(|s| s.get("template")),
        "spec.template",
        causes,
    );
    always_restarts(spec, "DaemonSet", causes);
    nonnegative(int(spec, "minReadySeconds"), "spec.minReadySeconds", causes);
    nonnegative(
        int(spec, "templateGeneration"),
        "spec.templateGeneration",
        causes,
    );
    let strategy = spec.and_then(|s| s.get("updateStrategy"));
    let rolling = strategy
        .and_then(|s| s.get("rollingUpdate"))
        .filter(|r| !r.is_null());
    match text(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match rolling {
            None => causes.push(Cause::required("spec.updateStrategy.rollingUpdate")),
            Some(rolling) => {
                let at = "spec.updateStrategy.rollingUpdate";
                let unavailable = rolling.get("maxUnavailable");
                let surge = rolling.get("maxSurge");
                int_or_percent(unavailable, &format!("{at}.maxUnavailable"), causes);
                int_or_percent(surge, &format!("{at}.maxSurge"), causes);
                not_over_100_percent(unavailable, &format!("{at}.maxUnavailable"), causes);
                not_over_100_percent(surge, &format!("{at}.maxSurge"), causes);
                let has_unavailable = int_or_percent_value(unavailable) != 0;
                let has_surge = int_or_percent_value(surge) != 0;
                if has_unavailable && has_surge {
                    causes.push(Cause::invalid(
                        format!("{at}.maxSurge"),
                        surge.unwrap_or(&Value::Null),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_unavailable && !has_surge {
                    causes.push(Cause::required_with(
                        format!("{at}.maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        _ => causes.push(Cause::not_supported(
            "spec.updateStrategy",
            strategy_struct(strategy, rolling_update_struct(rolling)),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    nonnegative(
        int(spec, "revisionHistoryLimit"),
        "spec.revisionHistoryLimit",
        causes,
    );
}

/// `ValidateReplicationControllerSpec`: a non-empty selector (a plain label map) that
/// matches the template.
fn validate_replication_controller(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    nonnegative(int(spec, "minReadySeconds"), "spec.minReadySeconds", causes);
    let selector = spec
        .and_then(|s| s.get("selector"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if selector.is_empty() {
        causes.push(Cause::required("spec.selector"));
    }
    match int(spec, "replicas") {
        None => causes.push(Cause::required("spec.replicas")),
        replicas => nonnegative(replicas, "spec.replicas", causes),
    }
    if spec
        .and_then(|s| s.get("template"))
        .is_none_or(Value::is_null)
    {
        causes.push(Cause::required("spec.template"));
        return;
    }
    let (labels, shown) = template_labels(spec);
    let matches = selector
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|l| l == v));
    if !selector.is_empty() && !matches {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            &shown,
            "`selector` does not match template `labels`",
        ));
    }
    validate_pod_template(
        spec.and_then(|s| s.get("template")),
        "spec.template",
        causes,
    );
    always_restarts(spec, "ReplicationController", causes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The causes for a workload after its defaults, without the generic metadata checks.
    pub(crate) fn errors(strategy: &Workload, mut obj: Value) -> Vec<(String, String)> {
        strategy.default(&mut obj);
        strategy.prepare_for_create(&mut obj);
        let mut causes = Vec::new();
        strategy.validate(&obj, &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    }

    /// A spec with a matching selector and template, plus `extra`.
    fn spec(extra: Value) -> Value {
        let mut spec = json!({"selector": {"matchLabels": {"app": "web"}}, "template": template()});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        json!({"metadata": {"name": "w"}, "spec": spec})
    }

    #[test]
    fn deployments() {
        let cases = [
            (spec(json!({})), vec![]),
            (
                spec(json!({"replicas": -1})),
                one("spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                json!({"spec": {"template": template()}}),
                vec![
                    ("spec.selector".to_string(), "Required value".to_string()),
                    ("spec.template.metadata.labels".to_string(), "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`".to_string()),
                ],
            ),
            (
                spec(json!({"selector": {}})),
                one("spec.selector", "Invalid value: {}: empty selector is invalid for deployment"),
            ),
            (
                spec(json!({"selector": {"matchLabels": {"app": "db"}}})),
                one("spec.template.metadata.labels", "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"),
            ),
            (
                spec(json!({"strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}})),
                one("spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0"),
            ),
            (
                spec(json!({"strategy": {"rollingUpdate": {"maxUnavailable": "120%"}}})),
                one("spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: \"120%\": must not be greater than 100%"),
            ),
            (
                spec(json!({"strategy": {"rollingUpdate": {"maxSurge": -1}}})),
                one("spec.strategy.rollingUpdate.maxSurge", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                spec(json!({"strategy": {"type": "Recreate", "rollingUpdate": {}}})),
                one("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'"),
            ),
            (
                spec(json!({"strategy": {"type": "BlueGreen"}})),
                one("spec.strategy", "Unsupported value: {\"Type\":\"BlueGreen\",\"RollingUpdate\":null}: supported values: \"Recreate\", \"RollingUpdate\""),
            ),
            (
                spec(json!({"minReadySeconds": 600})),
                one("spec.progressDeadlineSeconds", "Invalid value: 600: must be greater than minReadySeconds"),
            ),
            (
                spec(json!({"revisionHistoryLimit": -1})),
                one("spec.revisionHistoryLimit", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                spec(json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "Never", "activeDeadlineSeconds": 5, "containers": [{"name": "c", "image": "x"}]}}})),
                vec![
                    ("spec.template.spec.restartPolicy".to_string(), "Unsupported value: \"Never\": supported values: \"Always\"".to_string()),
                    ("spec.template.spec.activeDeadlineSeconds".to_string(), "Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported".to_string()),
                ],
            ),
            (
                spec(json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}})),
                one("spec.template.spec.containers", "Required value"),
            ),
            (
                spec(json!({"template": {"metadata": {"labels": {"app": "web", "bad key": "x"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}})),
                one("spec.template.labels", "Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
            ),
            (
                spec(json!({"selector": {"matchExpressions": [{"key": "app", "operator": "Near", "values": ["web"]}]}})),
                vec![
                    ("spec.selector.matchExpressions[0].operator".to_string(), "Invalid value: \"Near\": not a valid selector operator".to_string()),
                    ("spec.selector".to_string(), "Invalid value: {\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Near\",\"values\":[\"web\"]}]}: invalid label selector".to_string()),
                ],
            ),
        ];
        for (obj, expected) in cases {
            assert_eq!(errors(&DEPLOYMENTS, obj.clone()), expected, "{obj}");
        }
    }

    #[test]
    fn replica_sets() {
        assert_eq!(errors(&REPLICA_SETS, spec(json!({}))), vec![]);
        assert_eq!(
            errors(
                &REPLICA_SETS,
                spec(json!({"selector": {"matchLabels": {}}}))
            ),
            one(
                "spec.selector",
                "Invalid value: {\"matchLabels\":{}}: empty selector is invalid for deployment"
            )
        );
        assert_eq!(
            errors(&REPLICA_SETS, spec(json!({"minReadySeconds": -1}))),
            one(
                "spec.minReadySeconds",
                "Invalid value: -1: must be greater than or equal to 0"
            )
        );
    }

    #[test]
    fn stateful_sets() {
        let cases = [
            (spec(json!({})), vec![]),
            // The pod spec is not validated, only the template's labels.
            (
                spec(json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}}})),
                vec![],
            ),
            (
                spec(json!({"podManagementPolicy": "Random"})),
                one("spec.podManagementPolicy", "Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"),
            ),
            (
                spec(json!({"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}})),
                one("spec.updateStrategy.rollingUpdate", "Invalid value: {\"Partition\":1,\"MaxUnavailable\":null}: only allowed for updateStrategy 'RollingUpdate'"),
            ),
            (
                spec(json!({"updateStrategy": {"type": "Sometimes"}})),
                one("spec.updateStrategy", "Invalid value: {\"Type\":\"Sometimes\",\"RollingUpdate\":null}: must be 'RollingUpdate' or 'OnDelete'"),
            ),
            (
                spec(json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1, "maxUnavailable": 0}}})),
                vec![
                    ("spec.updateStrategy.rollingUpdate.partition".to_string(), "Invalid value: -1: must be greater than or equal to 0".to_string()),
                    ("spec.updateStrategy.rollingUpdate.maxUnavailable".to_string(), "Invalid value: 0: cannot be 0".to_string()),
                ],
            ),
            (
                spec(json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep", "whenScaled": "Retain"}})),
                one("spec.persistentVolumeClaimRetentionPolicy.whenDeleted", "Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\""),
            ),
            (
                spec(json!({"ordinals": {"start": -1}})),
                one("spec.ordinals.start", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                spec(json!({"selector": {}})),
                one("spec.selector", "Invalid value: {}: empty selector is invalid for statefulset"),
            ),
            (
                spec(json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "OnFailure", "containers": []}}})),
                one("spec.template.spec.restartPolicy", "Unsupported value: \"OnFailure\": supported values: \"Always\""),
            ),
        ];
        for (obj, expected) in cases {
            assert_eq!(errors(&STATEFUL_SETS, obj.clone()), expected, "{obj}");
        }
        assert_eq!(STATEFUL_SETS.name_rule(), NameRule::Label);
    }

    #[test]
    fn daemon_sets() {
        let cases = [
            (spec(json!({})), vec![]),
            (
                json!({"spec": {"template": template()}}),
                one("spec.template.metadata.labels", "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"),
            ),
            (
                spec(json!({"selector": {}})),
                one("spec.selector", "Invalid value: {}: empty selector is invalid for daemonset"),
            ),
            (
                spec(json!({"updateStrategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}})),
                one("spec.updateStrategy.rollingUpdate.maxSurge", "Invalid value: 1: may not be set when maxUnavailable is non-zero"),
            ),
            (
                spec(json!({"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}})),
                one("spec.updateStrategy.rollingUpdate.maxUnavailable", "Required value: cannot be 0 when maxSurge is 0"),
            ),
            (
                spec(json!({"updateStrategy": {"type": "Never"}})),
                one("spec.updateStrategy", "Unsupported value: {\"Type\":\"Never\",\"RollingUpdate\":null}: supported values: \"RollingUpdate\", \"OnDelete\""),
            ),
            (
                spec(json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"activeDeadlineSeconds": 5, "containers": [{"name": "c", "image": "x"}]}}})),
                one("spec.template.spec.activeDeadlineSeconds", "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported"),
            ),
        ];
        for (obj, expected) in cases {
            assert_eq!(errors(&DAEMON_SETS, obj.clone()), expected, "{obj}");
        }
    }

    #[test]
    fn replication_controllers() {
        // The selector defaults to the template's labels.
        assert_eq!(
            errors(
                &REPLICATION_CONTROLLERS,
                json!({"spec": {"template": template()}})
            ),
            vec![]
        );
        assert_eq!(
            errors(
                &REPLICATION_CONTROLLERS,
                json!({"spec": {"selector": {"app": "db"}, "template": template()}})
            ),
            one(
                "spec.template.metadata.labels",
                "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
            )
        );
        assert_eq!(
            errors(
                &REPLICATION_CONTROLLERS,
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}})
            ),
            one("spec.selector", "Required value")
        );
        assert_eq!(
            errors(
                &REPLICATION_CONTROLLERS,
                json!({"spec": {"replicas": -2, "template": template()}})
            ),
            one(
                "spec.replicas",
                "Invalid value: -2: must be greater than or equal to 0"
            )
        );
    }
}
