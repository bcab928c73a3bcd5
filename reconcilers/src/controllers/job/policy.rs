//! A Job's policies over its finished pods: `podFailurePolicy` (what a failed pod means:
//! fail the Job, fail its index, ignore it, or count it against the back-off limit) and
//! `successPolicy` (which succeeded indexes complete an Indexed Job early), as upstream
//! evaluates them.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::{JobSpec, PodFailurePolicyRule};
use k8s_openapi::api::core::v1::Pod;

/// What a failed pod means for its Job.
#[derive(Debug, PartialEq, Eq)]
pub enum FailureAction {
    /// The Job fails at once, with this message (reason `PodFailurePolicy`).
    FailJob(String),
    /// The pod's index fails (with `backoffLimitPerIndex`).
    FailIndex,
    /// Not counted against any limit.
    Ignore,
    /// Counted against the back-off limits (no rule matched, or a `Count` rule).
    Count,
}

/// The first of `rule`'s exit codes a container of `pod` failed with, as `(container, code)`.
/// Containers that exited 0 are never matched, as upstream.
fn exit_code_match(rule: &PodFailurePolicyRule, pod: &Pod) -> Option<(String, i32)> {
    let requirement = rule.on_exit_codes.as_ref()?;
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .filter(|c| {
            requirement
                .container_name
                .as_deref()
                .is_none_or(|name| name == c.name)
        })
        .filter_map(|c| {
            let code = c.state.as_ref()?.terminated.as_ref()?.exit_code;
            Some((c.name.clone(), code))
        })
        .filter(|(_, code)| *code != 0)
        .find(|(_, code)| {
            let listed = requirement.values.contains(code);
            match requirement.operator.as_str() {
                "In" => listed,
                "NotIn" => !listed,
                _ => false,
            }
        })
}

/// The first of `rule`'s pod conditions `pod` has.
fn condition_match(rule: &PodFailurePolicyRule, pod: &Pod) -> Option<String> {
    let patterns = rule.on_pod_conditions.as_ref()?;
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    patterns.iter().find_map(|pattern| {
        let wanted = pattern.status.as_deref().unwrap_or("True");
        conditions
            .iter()
            .any(|c| c.type_ == pattern.type_ && c.status == wanted)
            .then(|| pattern.type_.clone())
    })
}

/// What the Job's `podFailurePolicy` makes of the failed `pod` (`Count` without one).
pub fn failure_action(spec: &JobSpec, pod: &Pod) -> FailureAction {
    let Some(policy) = spec.pod_failure_policy.as_ref() else {
        return FailureAction::Count;
    };
    let pod_name = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    );
    for (at, rule) in policy.rules.iter().enumerate() {
        let matched = match exit_code_match(rule, pod) {
            Some((container, code)) => Some(format!(
                "Container {container} for pod {pod_name} failed with exit code {code} matching {} rule at index {at}",
                rule.action
            )),
            None => condition_match(rule, pod).map(|condition| {
                format!(
                    "Pod {pod_name} has condition {condition} matching {} rule at index {at}",
                    rule.action
                )
            }),
        };
        let Some(message) = matched else {
            continue;
        };
        return match rule.action.as_str() {
            "FailJob" => FailureAction::FailJob(message),
            "FailIndex" => FailureAction::FailIndex,
            "Ignore" => FailureAction::Ignore,
            _ => FailureAction::Count,
        };
    }
    FailureAction::Count
}

/// The index of the first `successPolicy` rule the succeeded indexes meet, if any.
pub fn success_rule_met(spec: &JobSpec, succeeded: &BTreeSet<i32>) -> Option<usize> {
    let rules = &spec.success_policy.as_ref()?.rules;
    rules.iter().position(
        |rule| match (rule.succeeded_indexes.as_deref(), rule.succeeded_count) {
            (Some(indexes), count) => {
                let wanted = super::plan::expand(indexes);
                let met = wanted.intersection(succeeded).count();
                match count {
                    Some(count) => i64::try_from(met).unwrap_or(i64::MAX) >= i64::from(count),
                    None => met == wanted.len(),
                }
            }
            (None, Some(count)) => {
                i64::try_from(succeeded.len()).unwrap_or(i64::MAX) >= i64::from(count)
            }
            (None, None) => false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> JobSpec {
        let mut value = value;
        value["template"] = json!({});
        serde_json::from_value(value).unwrap()
    }

    fn failed_pod(code: i32, conditions: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "conditions": conditions, "containerStatuses": [
                {"name": "main", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": code}}},
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let job = spec(json!({"podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}},
        ]}}));
        assert_eq!(
            failure_action(&job, &failed_pod(42, json!([]))),
            FailureAction::FailJob(
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 0".into()
            )
        );
        let disrupted = failed_pod(137, json!([{"type": "DisruptionTarget", "status": "True"}]));
        assert_eq!(failure_action(&job, &disrupted), FailureAction::Ignore);
        assert_eq!(
            failure_action(&job, &failed_pod(3, json!([]))),
            FailureAction::Count
        );
        assert_eq!(
            failure_action(&job, &failed_pod(1, json!([]))),
            FailureAction::Count
        );
        assert_eq!(
            failure_action(&spec(json!({})), &failed_pod(42, json!([]))),
            FailureAction::Count
        );
    }

    #[test]
    fn exit_code_0_never_matches() {
        let job = spec(json!({"podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [5]}},
        ]}}));
        assert_eq!(
            failure_action(&job, &failed_pod(0, json!([]))),
            FailureAction::Count
        );
    }

    #[test]
    fn success_rules_by_indexes_and_count() {
        let job = spec(json!({"successPolicy": {"rules": [
            {"succeededIndexes": "0,2-3", "succeededCount": 2},
            {"succeededCount": 4},
        ]}}));
        let set = |v: &[i32]| v.iter().copied().collect::<BTreeSet<i32>>();
        assert_eq!(success_rule_met(&job, &set(&[0, 1])), None);
        assert_eq!(success_rule_met(&job, &set(&[0, 3])), Some(0));
        assert_eq!(success_rule_met(&job, &set(&[1, 4, 5, 6])), Some(1));
        let all = spec(json!({"successPolicy": {"rules": [{"succeededIndexes": "1-2"}]}}));
        assert_eq!(success_rule_met(&all, &set(&[1])), None);
        assert_eq!(success_rule_met(&all, &set(&[1, 2])), Some(0));
    }
}
