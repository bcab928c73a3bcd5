//! Pods and pod templates: the pod spec's defaults and upstream's `ValidatePodSpec` and
//! `ValidatePodTemplateSpec`, which the workload kinds share for their templates. The
//! containers and the volumes of a spec are checked in their own files.

use serde_json::{json, Value};

use super::containers::{
    default_container, image_whitespace, validate_containers, validate_ephemeral_containers,
    validate_init_containers, PodContext,
};
use super::rules::{int, is_create, list, non_empty, one_of, text};
use super::volumes::{default_volume, validate_volumes};
use super::{set, set_default, FieldLabel, Strategy};
use crate::status::Cause;
use crate::validation::{
    dns1123_label_errors, dns1123_subdomain_errors, push_invalid, validate_annotations,
    validate_labels,
};

/// The containers of every kind in a pod spec.
const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// `InclusiveRangeError(0, math.MaxInt32)` for user and group IDs.
const ID_RANGE: &str = "must be between 0 and 2147483647, inclusive";

/// The defaults of a pod spec, in a pod or in a workload's template
/// (`SetDefaults_PodSpec` and the container and volume defaults).
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
    for list in CONTAINER_LISTS {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            default_container(c);
        }
    }
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes.iter_mut().for_each(default_volume);
    }
}

/// `SetDefaults_Pod`, which only Pods get (not templates): missing requests are the
/// limits, and with the host network a port's host port is its container port.
fn default_pod_only(spec: &mut Value) {
    let host_network = spec
        .get("hostNetwork")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            if let Some(limits) = c.pointer("/resources/limits").and_then(Value::as_object) {
                let limits = limits.clone();
                set_default(c, &["resources", "requests"], json!({}));
                if let Some(requests) = c
                    .pointer_mut("/resources/requests")
                    .and_then(Value::as_object_mut)
                {
                    for (name, value) in limits {
                        requests.entry(name).or_insert(value);
                    }
                }
            }
            if host_network {
                for port in c
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    let unset = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0;
                    if let (true, Some(container_port)) =
                        (unset, port.get("containerPort").cloned())
                    {
                        set(port, &["hostPort"], container_port);
                    }
                }
            }
        }
    }
}

/// Upstream's DefaultTolerationSeconds admission: a new pod tolerates its node being not
/// ready or unreachable for 300 s (unless it says otherwise), before it is evicted.
fn add_default_tolerations(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let covered = list.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
            (k == key || (k.is_empty() && exists)) && (effect.is_empty() || effect == "NoExecute")
        });
        if !covered {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }));
        }
    }
}

/// Pod templates: their spec gets a pod spec's defaults and a template's validation.
pub struct PodTemplates;
impl Strategy for PodTemplates {
    fn default(&self, obj: &mut Value) {
        set_default(obj, &["template", "spec"], json!({}));
        if let Some(spec) = obj.pointer_mut("/template/spec") {
            default_pod_spec(spec);
        }
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validate_pod_template(obj.get("template"), "template", causes);
    }
}

pub struct Pods;
impl Strategy for Pods {
    fn write_subresource(
        &self,
        name: &str,
        current: &Value,
        body: &Value,
        decode: &mut dyn FnMut(&Value) -> crate::status::ApiResult<Value>,
    ) -> Option<crate::status::ApiResult<Value>> {
        use super::pod_subresources as sub;
        Some(match name {
            "binding" => sub::binding(current, body),
            "ephemeralcontainers" => {
                decode(body).and_then(|d| sub::ephemeral_containers(current, &d))
            }
            "resize" => decode(body).and_then(|d| sub::resize(current, &d)),
            _ => return None,
        })
    }
    fn on_create(&self, subresource: Option<&str>) -> super::CreateAction {
        match subresource {
            None => super::CreateAction::Store,
            Some("binding") => super::CreateAction::Bind,
            Some("eviction") => super::CreateAction::Evict,
            Some(_) => super::CreateAction::NotAllowed,
        }
    }
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec") {
            default_pod_spec(spec);
            // Only pods themselves get these (the service-account admission and the pod
            // defaulter), not the templates of workloads.
            default_pod_only(spec);
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
        add_default_tolerations(obj);
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        validate_pod(obj, causes);
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
        // A pod on a node stops there first; an unscheduled or finished one has nothing to
        // stop (upstream's `CheckGracefulDelete`).
        let on_node = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            obj.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        on_node && !finished
    }
    fn default_grace_period(&self, obj: &Value) -> i64 {
        // The pod's own, which defaulting set (30 s unless the spec says).
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    }
}

/// `ValidatePodCreate`/`ValidatePodUpdate`: the spec, and what only Pods are checked for.
fn validate_pod(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    validate_pod_spec(spec, "spec", true, causes);
    if text(spec, "serviceAccountName").is_empty() {
        for (i, volume) in list(spec, "volumes").iter().enumerate() {
            let sources = volume.get("projected").map(|p| list(Some(p), "sources"));
            for (j, source) in sources.unwrap_or_default().iter().enumerate() {
                if source
                    .get("serviceAccountToken")
                    .is_some_and(|t| !t.is_null())
                {
                    causes.push(Cause::forbidden(
                        format!("spec.volumes[{i}].projected.sources[{j}].serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for kind in ["containers", "initContainers"] {
        for (i, c) in list(spec, kind).iter().enumerate() {
            image_whitespace(c, &format!("spec.{kind}[{i}]"), causes);
        }
    }
    if is_create(obj) {
        if non_empty(spec, "ephemeralContainers") {
            causes.push(Cause::forbidden(
                "spec.ephemeralContainers",
                "cannot be set on create",
            ));
        }
        if !text(spec, "nodeName").is_empty() && non_empty(spec, "schedulingGates") {
            causes.push(Cause::forbidden(
                "spec.nodeName",
                "cannot be set until all schedulingGates have been cleared",
            ));
        }
    }
}

/// `ValidatePodTemplateSpec` of the template at `at` (such as `spec.template`): its labels
/// and annotations (at `<at>.labels`, not `metadata`), its spec, and no ephemeral
/// containers.
pub fn validate_pod_template(template: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let meta = template.and_then(|t| t.get("metadata"));
    validate_labels(
        meta.and_then(|m| m.get("labels")),
        &format!("{at}.labels"),
        causes,
    );
    validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &format!("{at}.annotations"),
        causes,
    );
    let spec = template.and_then(|t| t.get("spec"));
    let spec_at = format!("{at}.spec");
    validate_pod_spec(spec, &spec_at, false, causes);
    if non_empty(spec, "ephemeralContainers") {
        causes.push(Cause::forbidden(
            format!("{spec_at}.ephemeralContainers"),
            "ephemeral containers not allowed in pod templates",
        ));
    }
}

/// `ValidatePodSpec` at `at` (`spec`, or a template's `spec.template.spec`); `is_pod` for a
/// Pod itself, whose host ports are stricter.
pub fn validate_pod_spec(spec: Option<&Value>, at: &str, is_pod: bool, causes: &mut Vec<Cause>) {
    let grace = int(spec, "terminationGracePeriodSeconds");
    if grace.is_none() {
        causes.push(Cause::required(format!(
            "{at}.terminationGracePeriodSeconds"
        )));
    }
    let volumes = validate_volumes(spec, at, causes);
    let ctx = PodContext {
        volumes: &volumes,
        grace,
    };
    validate_containers(spec, at, &ctx, causes);
    validate_init_containers(spec, at, &ctx, causes);
    validate_ephemeral_containers(spec, at, &ctx, causes);

    if spec
        .and_then(|s| s.get("hostNetwork"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        for (i, c) in list(spec, "containers").iter().enumerate() {
            for (j, port) in list(Some(c), "ports").iter().enumerate() {
                let host = int(Some(port), "hostPort").unwrap_or(0);
                let container = int(Some(port), "containerPort").unwrap_or(0);
                // A template may leave the host port to the Pod's defaults.
                if (is_pod || host != 0) && host != container {
                    causes.push(Cause::invalid(
                        format!("{at}.containers[{i}].ports[{j}].hostPort"),
                        host,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    one_of(
        text(spec, "restartPolicy"),
        &format!("{at}.restartPolicy"),
        &["Always", "OnFailure", "Never"],
        causes,
    );
    let dns_policy = text(spec, "dnsPolicy");
    one_of(
        dns_policy,
        &format!("{at}.dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        causes,
    );
    validate_labels(
        spec.and_then(|s| s.get("nodeSelector")),
        &format!("{at}.nodeSelector"),
        causes,
    );
    let security = spec.and_then(|s| s.get("securityContext"));
    for field in ["fsGroup", "runAsUser", "runAsGroup"] {
        if let Some(id) = int(security, field).filter(|id| !(0..=i64::from(i32::MAX)).contains(id))
        {
            causes.push(Cause::invalid(
                format!("{at}.securityContext.{field}"),
                id,
                ID_RANGE,
            ));
        }
    }
    for (i, id) in list(security, "supplementalGroups").iter().enumerate() {
        if let Some(id) = id
            .as_i64()
            .filter(|id| !(0..=i64::from(i32::MAX)).contains(id))
        {
            causes.push(Cause::invalid(
                format!("{at}.securityContext.supplementalGroups[{i}]"),
                id,
                ID_RANGE,
            ));
        }
    }
    validate_dns_config(spec, dns_policy, at, causes);
    for field in ["serviceAccountName", "nodeName", "priorityClassName"] {
        let value = text(spec, field);
        if !value.is_empty() {
            push_invalid(
                causes,
                &format!("{at}.{field}"),
                value,
                dns1123_subdomain_errors(value),
            );
        }
    }
    if let Some(deadline) =
        int(spec, "activeDeadlineSeconds").filter(|d| !(1..=i64::from(i32::MAX)).contains(d))
    {
        causes.push(Cause::invalid(
            format!("{at}.activeDeadlineSeconds"),
            deadline,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    for field in ["hostname", "subdomain"] {
        let value = text(spec, field);
        if !value.is_empty() {
            push_invalid(
                causes,
                &format!("{at}.{field}"),
                value,
                dns1123_label_errors(value),
            );
        }
    }
    if let Some(policy) = spec
        .and_then(|s| s.get("preemptionPolicy"))
        .filter(|p| !p.is_null())
    {
        one_of(
            policy.as_str().unwrap_or_default(),
            &format!("{at}.preemptionPolicy"),
            &["PreemptLowerPriority", "Never"],
            causes,
        );
    }
}

/// `validatePodDNSConfig`: the `None` policy needs a configuration with a nameserver, and
/// upstream's limits on nameservers and search paths.
fn validate_dns_config(spec: Option<&Value>, policy: &str, at: &str, causes: &mut Vec<Cause>) {
    let at = format!("{at}.dnsConfig");
    let config = spec
        .and_then(|s| s.get("dnsConfig"))
        .filter(|c| !c.is_null());
    if policy == "None" {
        let Some(config) = config else {
            causes.push(Cause::required_with(
                at,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return;
        };
        if list(Some(config), "nameservers").is_empty() {
            causes.push(Cause::required_with(
                format!("{at}.nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return;
        }
    }
    let Some(config) = config else {
        return;
    };
    let nameservers = list(Some(config), "nameservers");
    if nameservers.len() > 3 {
        causes.push(Cause::invalid(
            format!("{at}.nameservers"),
            Value::Array(nameservers.to_vec()),
            "must not have more than 3 nameservers",
        ));
    }
    let searches = list(Some(config), "searches");
    if searches.len() > 32 {
        causes.push(Cause::invalid(
            format!("{at}.searches"),
            Value::Array(searches.to_vec()),
            "must not have more than 32 search paths",
        ));
    }
    for (i, option) in list(Some(config), "options").iter().enumerate() {
        if text(Some(option), "name").is_empty() {
            causes.push(Cause::required_with(
                format!("{at}.options[{i}]"),
                "must not be empty",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The causes for a Pod created with `spec` (defaulted first).
    fn errors(spec: Value) -> Vec<(String, String)> {
        errors_of(json!({"metadata": {"name": "p"}, "spec": spec}))
    }

    fn errors_of(mut obj: Value) -> Vec<(String, String)> {
        Pods.default(&mut obj);
        let mut causes = Vec::new();
        Pods.validate(&obj, &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    /// A valid pod spec with `extra` fields.
    fn spec(extra: Value) -> Value {
        let mut spec = json!({"containers": [{"name": "app", "image": "nginx"}]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        spec
    }

    #[test]
    fn pod_defaults() {
        let mut obj = json!({"spec": {"hostNetwork": true, "volumes": [{"name": "v"}],
            "containers": [{"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}}],
            "ephemeralContainers": [{"name": "e", "image": "busybox:1"}]}});
        Pods.default(&mut obj);
        let spec = &obj["spec"];
        assert_eq!(spec["containers"][0]["ports"][0]["hostPort"], 80);
        assert_eq!(
            spec["containers"][0]["resources"]["requests"],
            json!({"memory": "1Gi", "cpu": "1"})
        );
        assert_eq!(spec["volumes"][0], json!({"name": "v", "emptyDir": {}}));
        assert_eq!(
            spec["ephemeralContainers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        // Templates get neither the requests nor the host ports.
        let mut template = json!({"template": {"spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "nginx",
            "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}}}]}}});
        PodTemplates.default(&mut template);
        let c = &template["template"]["spec"]["containers"][0];
        assert!(c["ports"][0].get("hostPort").is_none());
        assert!(c["resources"].get("requests").is_none());
    }

    #[test]
    fn pod_spec_fields() {
        let cases = [
            (spec(json!({})), vec![]),
            (
                spec(json!({"restartPolicy": "Sometimes"})),
                one("spec.restartPolicy", "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""),
            ),
            (
                spec(json!({"dnsPolicy": "Google"})),
                one("spec.dnsPolicy", "Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""),
            ),
            (
                spec(json!({"dnsPolicy": "None"})),
                one("spec.dnsConfig", "Required value: must provide `dnsConfig` when `dnsPolicy` is None"),
            ),
            (
                spec(json!({"dnsPolicy": "None", "dnsConfig": {}})),
                one("spec.dnsConfig.nameservers", "Required value: must provide at least one DNS nameserver when `dnsPolicy` is None"),
            ),
            // A negative grace period is only a warning upstream.
            (spec(json!({"terminationGracePeriodSeconds": -1})), vec![]),
            (
                spec(json!({"activeDeadlineSeconds": 0})),
                one("spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive"),
            ),
            (
                spec(json!({"nodeSelector": {"disk": "-ssd"}})),
                one("spec.nodeSelector", "Invalid value: \"-ssd\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
            ),
            (
                spec(json!({"securityContext": {"runAsUser": -1}})),
                one("spec.securityContext.runAsUser", "Invalid value: -1: must be between 0 and 2147483647, inclusive"),
            ),
            (
                spec(json!({"hostname": "my.host"})),
                one("spec.hostname", "Invalid value: \"my.host\": must not contain dots"),
            ),
            (
                spec(json!({"serviceAccountName": "Bad"})),
                one("spec.serviceAccountName", "Invalid value: \"Bad\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
            ),
            (
                spec(json!({"preemptionPolicy": "Always"})),
                one("spec.preemptionPolicy", "Unsupported value: \"Always\": supported values: \"PreemptLowerPriority\", \"Never\""),
            ),
            (
                json!({"hostNetwork": true, "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
                one("spec.containers[0].ports[0].hostPort", "Invalid value: 8080: must match `containerPort` when `hostNetwork` is true"),
            ),
            (
                spec(json!({"containers": [{"name": "a", "image": " nginx"}]})),
                one("spec.containers[0].image", "Invalid value: \" nginx\": must not have leading or trailing whitespace"),
            ),
            (
                spec(json!({"serviceAccountName": "", "volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]})),
                one("spec.volumes[0].projected.sources[0].serviceAccountToken", "Forbidden: must not be specified when serviceAccountName is not set"),
            ),
            (
                spec(json!({"ephemeralContainers": [{"name": "d", "image": "busybox"}]})),
                one("spec.ephemeralContainers", "Forbidden: cannot be set on create"),
            ),
            (
                spec(json!({"nodeName": "n1", "schedulingGates": [{"name": "example.com/gate"}]})),
                one("spec.nodeName", "Forbidden: cannot be set until all schedulingGates have been cleared"),
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(errors(spec.clone()), expected, "{spec}");
        }
        // A Pod's required fields, when something removed their defaults.
        let mut causes = Vec::new();
        validate_pod_spec(Some(&json!({})), "spec", true, &mut causes);
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.terminationGracePeriodSeconds",
                "spec.containers",
                "spec.restartPolicy",
                "spec.dnsPolicy"
            ]
        );
    }

    #[test]
    fn updates_of_a_pod_may_add_ephemeral_containers() {
        let got = errors_of(json!({"metadata": {"name": "p", "resourceVersion": "3"},
            "spec": spec(json!({"ephemeralContainers": [{"name": "d", "image": "busybox"}]}))}));
        assert_eq!(got, vec![]);
    }

    #[test]
    fn deletion_waits_for_the_pods_own_grace_period_while_it_runs_on_a_node() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": spec(json!({"nodeName": "n1"}))});
        Pods.default(&mut pod);
        assert!(Pods.graceful_delete(&pod));
        assert_eq!(Pods.default_grace_period(&pod), 30);
        pod["spec"]["terminationGracePeriodSeconds"] = json!(3);
        assert_eq!(Pods.default_grace_period(&pod), 3);
        pod["status"] = json!({"phase": "Succeeded"});
        assert!(
            !Pods.graceful_delete(&pod),
            "a finished pod has nothing to stop"
        );
        let unscheduled = json!({"metadata": {"name": "p"}, "spec": spec(json!({}))});
        assert!(!Pods.graceful_delete(&unscheduled));
    }

    #[test]
    fn templates() {
        let check = |template: Value| {
            let mut obj = json!({ "template": template });
            PodTemplates.default(&mut obj);
            let mut causes = Vec::new();
            PodTemplates.validate(&obj, &mut causes);
            causes
                .into_iter()
                .map(|c| (c.field, c.message))
                .collect::<Vec<_>>()
        };
        assert_eq!(check(json!({"spec": spec(json!({}))})), vec![]);
        // Any restart policy, and host ports left to the Pod.
        assert_eq!(
            check(
                json!({"spec": spec(json!({"restartPolicy": "Never", "hostNetwork": true,
                "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]}]}))})
            ),
            vec![]
        );
        assert_eq!(
            check(
                json!({"spec": spec(json!({"ephemeralContainers": [{"name": "d", "image": "x"}]}))})
            ),
            one(
                "template.spec.ephemeralContainers",
                "Forbidden: ephemeral containers not allowed in pod templates"
            )
        );
        assert_eq!(
            check(json!({"metadata": {"annotations": {"a b": "x"}}, "spec": spec(json!({}))})),
            one("template.annotations", "Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
        );
        assert_eq!(
            check(json!({})),
            one("template.spec.containers", "Required value")
        );
    }
}
