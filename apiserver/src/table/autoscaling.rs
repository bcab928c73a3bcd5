//! The printer of horizontal pod autoscalers, whose TARGETS cell renders each metric as
//! `current/target`.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static HPA_COLUMNS: &[Column] = &[
    NAME,
    col("Reference", "string", "Object whose scale is controlled."),
    col("Targets", "string", "Current and target values of the metrics."),
    col("MinPods", "string", "Lower limit on replicas."),
    col("MaxPods", "string", "Upper limit on replicas."),
    col("Replicas", "string", "Current number of replicas."),
    AGE,
];

/// `autoscaling/v2/horizontalpodautoscalers`.
pub struct HorizontalPodAutoscalers;

impl Printer for HorizontalPodAutoscalers {
    fn columns(&self) -> &'static [Column] {
        HPA_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        hpa_cells(obj, now)
    }
}

fn percent(v: Option<&Value>) -> Option<String> {
    v.and_then(as_int).map(|n| format!("{n}%"))
}

/// One HPA metric as "current/target", per upstream's formatHPAMetrics.
fn hpa_metric(spec: &Value, status: Option<&Value>) -> String {
    let unknown = || "<unknown>".to_string();
    // Status entries line up with spec entries by index and must be of the same source type.
    let current = |source: &str| {
        status
            .and_then(|s| at(s, &[source]))
            .filter(|c| c.is_object())
    };
    let value_or_average = |source: &str| {
        let target = at(spec, &[source, "target"]);
        match target.and_then(|t| at(t, &["averageValue"])) {
            Some(avg) => {
                let cur = current(source)
                    .and_then(|c| at(c, &["current", "averageValue"]))
                    .map_or_else(unknown, |v| quantity(Some(v)));
                format!("{cur}/{} (avg)", quantity(Some(avg)))
            }
            None => {
                let cur = current(source)
                    .map_or_else(unknown, |c| quantity(at(c, &["current", "value"])));
                format!("{cur}/{}", quantity(target.and_then(|t| at(t, &["value"]))))
            }
        }
    };
    let resource = |source: &str| {
        let res_name = st(spec, &[source, "name"]);
        let target = at(spec, &[source, "target"]);
        match target.and_then(|t| at(t, &["averageValue"])) {
            Some(avg) => {
                let cur = current(source)
                    .map_or_else(unknown, |c| quantity(at(c, &["current", "averageValue"])));
                format!("{res_name}: {cur}/{}", quantity(Some(avg)))
            }
            None => {
                let cur = percent(
                    current(source).and_then(|c| at(c, &["current", "averageUtilization"])),
                )
                .unwrap_or_else(unknown);
                let tgt = percent(target.and_then(|t| at(t, &["averageUtilization"])))
                    .unwrap_or_else(|| "<auto>".into());
                format!("{res_name}: {cur}/{tgt}")
            }
        }
    };
    match st(spec, &["type"]) {
        "External" => value_or_average("external"),
        "Object" => value_or_average("object"),
        "Pods" => {
            let cur = current("pods")
                .map_or_else(unknown, |c| quantity(at(c, &["current", "averageValue"])));
            format!(
                "{cur}/{}",
                quantity(at(spec, &["pods", "target", "averageValue"]))
            )
        }
        "Resource" => resource("resource"),
        "ContainerResource" => resource("containerResource"),
        _ => "<unknown type>".into(),
    }
}

fn hpa_targets(o: &Value) -> String {
    const MAX: usize = 2;
    let specs = arr(o, &["spec", "metrics"]);
    if specs.is_empty() {
        // autoscaling/v1 carries a single CPU utilisation target instead of metrics.
        return match percent(at(o, &["spec", "targetCPUUtilizationPercentage"])) {
            Some(target) => {
                let cur = percent(at(o, &["status", "currentCPUUtilizationPercentage"]))
                    .unwrap_or_else(|| "<unknown>".into());
                format!("cpu: {cur}/{target}")
            }
            None => "<none>".into(),
        };
    }
    let statuses = arr(o, &["status", "currentMetrics"]);
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .take(MAX)
        .map(|(i, s)| hpa_metric(s, statuses.get(i)))
        .collect();
    let ret = list.join(", ");
    if specs.len() > MAX {
        format!("{ret} + {} more...", specs.len() - MAX)
    } else {
        ret
    }
}

fn hpa_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        st(o, &["spec", "scaleTargetRef", "kind"]),
        st(o, &["spec", "scaleTargetRef", "name"])
    );
    let min_pods = at(o, &["spec", "minReplicas"])
        .and_then(as_int)
        .map_or_else(|| "<unset>".to_string(), |n| n.to_string());
    vec![
        name(o),
        json!(reference),
        json!(hpa_targets(o)),
        json!(min_pods),
        json!(int(o, &["spec", "maxReplicas"])),
        json!(int(o, &["status", "currentReplicas"])),
        age(o, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn hpa_row() {
        let hpa = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}});
        assert_eq!(
            cells("autoscaling", "horizontalpodautoscalers", &hpa, now())[1..6],
            [
                json!("Deployment/web"),
                json!("cpu: 12%/80%"),
                json!("<unset>"),
                json!(5),
                json!(2)
            ]
        );
    }
}
