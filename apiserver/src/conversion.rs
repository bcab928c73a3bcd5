//! Versions that share storage: an object is stored at its resource's storage version and
//! converted when served at another. Core `v1` Events are stored and `events.k8s.io/v1`
//! Events converted; `autoscaling/v2` HorizontalPodAutoscalers are stored and `v1` converted
//! (what v1 cannot say rides in annotations, as upstream does).

use serde_json::{json, Map, Value};

/// The conversion a served version needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// Served at its storage version.
    None,
    /// `events.k8s.io/v1` Events over core `v1`.
    Event,
    /// `autoscaling/v1` HorizontalPodAutoscalers over `v2`.
    HpaV1,
    /// A custom resource version served over another stored version of the same schema
    /// (a CRD's conversion strategy `None`: only `apiVersion` changes).
    ApiVersion {
        served: &'static str,
        stored: &'static str,
    },
}

impl Conversion {
    pub fn of(group: &str, version: &str, plural: &str) -> Conversion {
        match (group, version, plural) {
            ("events.k8s.io", "v1", "events") => Conversion::Event,
            ("autoscaling", "v1", "horizontalpodautoscalers") => Conversion::HpaV1,
            _ => Conversion::None,
        }
    }

    /// An object served at this version, in its storage version.
    pub fn to_storage(self, obj: Value) -> Value {
        match self {
            Conversion::None => obj,
            Conversion::Event => event_to_core(obj),
            Conversion::HpaV1 => hpa_v1_to_v2(obj),
            Conversion::ApiVersion { stored, .. } => with_api_version(obj, stored),
        }
    }

    /// A stored object, at the version it is served at.
    pub fn from_storage(self, obj: Value) -> Value {
        match self {
            Conversion::None => obj,
            Conversion::Event => event_from_core(obj),
            Conversion::HpaV1 => hpa_v2_to_v1(obj),
            Conversion::ApiVersion { served, .. } => with_api_version(obj, served),
        }
    }
}

fn with_api_version(mut obj: Value, api_version: &str) -> Value {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), json!(api_version));
    }
    obj
}

/// Moves fields between names: `(from, to)` pairs; the rest is kept as is.
fn rename(obj: Value, api_version: &str, pairs: &[(&str, &str)]) -> Value {
    let Value::Object(mut map) = obj else {
        return obj;
    };
    for (from, to) in pairs {
        if let Some(v) = map.remove(*from) {
            map.insert(to.to_string(), v);
        }
    }
    map.insert("apiVersion".into(), json!(api_version));
    Value::Object(map)
}

const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn event_to_core(obj: Value) -> Value {
    rename(obj, "v1", EVENT_FIELDS)
}

fn event_from_core(obj: Value) -> Value {
    let reversed: Vec<(&str, &str)> = EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)).collect();
    rename(obj, "events.k8s.io/v1", &reversed)
}

const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

fn is_cpu_utilization(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && metric.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && metric
            .pointer("/resource/target/type")
            .and_then(Value::as_str)
            == Some("Utilization")
}

fn annotations(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = obj
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    meta.as_object_mut()?
        .entry("annotations")
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

fn take_annotation(obj: &mut Value, key: &str) -> Option<Value> {
    let text = annotations(obj)?.remove(key)?;
    serde_json::from_str(text.as_str()?).ok()
}

fn drop_empty_annotations(obj: &mut Value) {
    let empty = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty);
    if empty {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("annotations");
        }
    }
}

fn hpa_v1_to_v2(mut obj: Value) -> Value {
    let extra_metrics = take_annotation(&mut obj, METRICS_ANNOTATION);
    let current_metrics = take_annotation(&mut obj, CURRENT_METRICS_ANNOTATION);
    let conditions = take_annotation(&mut obj, CONDITIONS_ANNOTATION);
    let behavior = take_annotation(&mut obj, BEHAVIOR_ANNOTATION);
    drop_empty_annotations(&mut obj);
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let mut metrics: Vec<Value> = match extra_metrics {
            Some(Value::Array(m)) => m,
            _ => Vec::new(),
        };
        if let Some(cpu) = spec.remove("targetCPUUtilizationPercentage") {
            metrics.insert(
                0,
                json!({ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": cpu } } }),
            );
        }
        if !metrics.is_empty() {
            spec.insert("metrics".into(), Value::Array(metrics));
        }
        if let Some(b) = behavior {
            spec.insert("behavior".into(), b);
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let mut current: Vec<Value> = match current_metrics {
            Some(Value::Array(m)) => m,
            _ => Vec::new(),
        };
        if let Some(cpu) = status.remove("currentCPUUtilizationPercentage") {
            current.insert(
                0,
                json!({ "type": "Resource", "resource": { "name": "cpu", "current": { "averageUtilization": cpu } } }),
            );
        }
        if !current.is_empty() {
            status.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(c) = conditions {
            status.insert("conditions".into(), c);
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), json!("autoscaling/v2"));
    }
    obj
}

fn hpa_v2_to_v1(mut obj: Value) -> Value {
    let mut carried: Vec<(&str, Value)> = Vec::new();
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let metrics = match spec.remove("metrics") {
            Some(Value::Array(m)) => m,
            _ => Vec::new(),
        };
        let (cpu, rest): (Vec<Value>, Vec<Value>) =
            metrics.into_iter().partition(is_cpu_utilization);
        if let Some(target) = cpu
            .first()
            .and_then(|m| m.pointer("/resource/target/averageUtilization"))
        {
            spec.insert("targetCPUUtilizationPercentage".into(), target.clone());
        }
        if !rest.is_empty() {
            carried.push((METRICS_ANNOTATION, Value::Array(rest)));
        }
        if let Some(b) = spec.remove("behavior") {
            carried.push((BEHAVIOR_ANNOTATION, b));
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let current = match status.remove("currentMetrics") {
            Some(Value::Array(m)) => m,
            _ => Vec::new(),
        };
        let (cpu, rest): (Vec<Value>, Vec<Value>) = current.into_iter().partition(|m| {
            m.get("type").and_then(Value::as_str) == Some("Resource")
                && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
                && m.pointer("/resource/current/averageUtilization").is_some()
        });
        if let Some(value) = cpu
            .first()
            .and_then(|m| m.pointer("/resource/current/averageUtilization"))
        {
            status.insert("currentCPUUtilizationPercentage".into(), value.clone());
        }
        if !rest.is_empty() {
            carried.push((CURRENT_METRICS_ANNOTATION, Value::Array(rest)));
        }
        if let Some(c) = status.remove("conditions") {
            carried.push((CONDITIONS_ANNOTATION, c));
        }
    }
    if !carried.is_empty() {
        if let Some(a) = annotations(&mut obj) {
            for (key, value) in carried {
                a.insert(key.into(), json!(value.to_string()));
            }
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), json!("autoscaling/v1"));
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_storage(group: &str, version: &str, plural: &str, obj: Value) -> Value {
        Conversion::of(group, version, plural).to_storage(obj)
    }

    fn from_storage(group: &str, version: &str, plural: &str, obj: Value) -> Value {
        Conversion::of(group, version, plural).from_storage(obj)
    }

    #[test]
    fn events_round_trip_between_versions() {
        let new = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": { "name": "e", "namespace": "default" },
            "regarding": { "kind": "Pod", "name": "p" }, "note": "pulled", "reason": "Pulled",
            "reportingController": "kubelet", "reportingInstance": "n1", "type": "Normal",
            "eventTime": "2026-01-01T00:00:00.000000Z", "action": "Pull",
        });
        let core = to_storage("events.k8s.io", "v1", "events", new.clone());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "pulled");
        assert_eq!(core["reportingComponent"], "kubelet");
        assert!(core.get("note").is_none());
        assert_eq!(from_storage("events.k8s.io", "v1", "events", core), new);
    }

    #[test]
    fn hpa_round_trips_and_keeps_what_v1_cannot_say() {
        let v2 = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": { "name": "h" },
            "spec": {
                "scaleTargetRef": { "kind": "Deployment", "name": "web", "apiVersion": "apps/v1" },
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    { "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 60 } } },
                    { "type": "Resource", "resource": { "name": "memory", "target": { "type": "AverageValue", "averageValue": "100Mi" } } },
                ],
            },
            "status": { "currentReplicas": 2, "desiredReplicas": 2, "conditions": [{ "type": "AbleToScale", "status": "True" }] },
        });
        let v1 = from_storage("autoscaling", "v1", "horizontalpodautoscalers", v2.clone());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert!(v1["spec"].get("metrics").is_none());
        assert!(v1["metadata"]["annotations"][METRICS_ANNOTATION].is_string());
        assert_eq!(
            to_storage("autoscaling", "v1", "horizontalpodautoscalers", v1),
            v2
        );
        // Other versions and resources pass through.
        assert_eq!(
            to_storage("", "v1", "events", json!({"a": 1})),
            json!({"a": 1})
        );
    }
}
