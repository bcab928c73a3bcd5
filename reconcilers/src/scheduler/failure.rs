//! What a pod that could not be scheduled is told: the `PodScheduled=False` condition
//! (reason `Unschedulable`, or `SchedulerError` when the attempt failed rather than found
//! no node) and a `FailedScheduling` event, both with upstream's message:
//!
//! ```text
//! 0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: },
//! 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.
//! ```
//!
//! Each reason is counted over the nodes that gave it, and the `count reason` strings are
//! sorted as strings (as upstream's `FitError.Error()` sorts them).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Resource};

use super::framework::{FitError, Status};

/// Upstream's `NoNodeAvailableMsg`.
const NO_NODE_AVAILABLE: &str = "0/{} nodes are available";

/// `N reason` for each reason over `statuses` (plus `absent` for `absent_count` more
/// nodes), sorted as strings.
pub fn histogram<'a>(
    statuses: impl Iterator<Item = &'a Status>,
    absent: Option<(&Status, usize)>,
) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for status in statuses {
        for reason in &status.reasons {
            *counts.entry(reason.as_str()).or_insert(0) += 1;
        }
    }
    if let Some((status, n)) = absent {
        if n > 0 {
            for reason in &status.reasons {
                *counts.entry(reason.as_str()).or_insert(0) += n;
            }
        }
    }
    let mut out: Vec<String> = counts
        .into_iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    out.sort();
    out
}

/// `0/N nodes are available: <reasons>.` for a set of node statuses.
pub fn nodes_message(num_all_nodes: usize, reasons: &[String]) -> String {
    let mut message = NO_NODE_AVAILABLE.replace("{}", &num_all_nodes.to_string()) + ":";
    if !reasons.is_empty() {
        message.push(' ');
        message.push_str(&reasons.join(", "));
        message.push('.');
    }
    message
}

/// Upstream's `FitError.Error()`.
pub fn fit_message(fit: &FitError) -> String {
    let mut message = match &fit.pre_filter {
        // PreFilter rejected the pod for every node: its message only.
        Some(status) => format!(
            "{} {}.",
            nodes_message(fit.num_all_nodes, &[]),
            status.message()
        ),
        None => {
            let absent = fit
                .absent
                .as_ref()
                .map(|s| (s, fit.num_all_nodes.saturating_sub(fit.statuses.len())));
            nodes_message(fit.num_all_nodes, &histogram(fit.statuses.values(), absent))
        }
    };
    if let Some(post) = &fit.post_filter_msg {
        message.push(' ');
        message.push_str(post);
        if !post.ends_with('.') {
            message.push('.');
        }
    }
    message
}

/// The reason of the `PodScheduled=False` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No node fits.
    Unschedulable,
    /// The attempt failed (no nodes at all, an invalid selector, a failed binding).
    SchedulerError,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Unschedulable => "Unschedulable",
            Reason::SchedulerError => "SchedulerError",
        }
    }
}

/// What to do with `status.nominatedNodeName`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nomination {
    Keep,
    Set(String),
    Clear,
}

/// Records a failed attempt on the pod: the condition and nominated node (written only
/// when they change, as upstream's `updatePod`), and a `FailedScheduling` event.
pub async fn report(
    client: kube::Client,
    recorder: Recorder,
    pod: Arc<Pod>,
    reason: Reason,
    message: String,
    nomination: Nomination,
) {
    let (Some(name), Some(namespace)) = (
        pod.metadata.name.as_deref(),
        pod.metadata.namespace.as_deref(),
    ) else {
        return;
    };
    let status = pod.status.as_ref();
    let current = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let same_condition = current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some(reason.as_str())
            && c.message.as_deref() == Some(message.as_str())
    });
    let nominated = status
        .and_then(|s| s.nominated_node_name.as_deref())
        .unwrap_or("");
    let nominated_patch = match &nomination {
        Nomination::Set(node) if node != nominated => Some(serde_json::json!(node)),
        Nomination::Clear if !nominated.is_empty() => Some(serde_json::Value::Null),
        _ => None,
    };
    if !same_condition || nominated_patch.is_some() {
        // The transition time moves only when the condition's status does.
        let since = match current {
            Some(c) if c.status == "False" => c.last_transition_time.as_ref().map(|t| t.0),
            _ => None,
        }
        .unwrap_or_else(jiff::Timestamp::now);
        let mut status = serde_json::json!({
            "conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": reason.as_str(),
                "message": message,
                "lastProbeTime": null,
                "lastTransitionTime": since.to_string(),
            }],
        });
        if let Some(node) = nominated_patch {
            status["nominatedNodeName"] = node;
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let patch = serde_json::json!({"status": status});
        if let Err(e) = api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            tracing::debug!(pod = %format!("{namespace}/{name}"), "cannot record the scheduling failure: {e}");
        }
    }
    let event = Event {
        type_: EventType::Warning,
        reason: "FailedScheduling".into(),
        note: Some(message),
        action: "Scheduling".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &pod.object_ref(&())).await {
        tracing::debug!(pod = %format!("{namespace}/{name}"), "cannot record the FailedScheduling event: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::Code;

    fn status(code: Code, reasons: &[&str]) -> Status {
        Status {
            code,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            plugin: "Test",
        }
    }

    #[test]
    fn upstream_message() {
        let mut fit = FitError {
            num_all_nodes: 3,
            ..FitError::default()
        };
        fit.statuses.insert(
            "cp".into(),
            status(
                Code::UnschedulableAndUnresolvable,
                &["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"],
            ),
        );
        fit.statuses.insert(
            "a".into(),
            status(Code::Unschedulable, &["Insufficient cpu"]),
        );
        fit.statuses.insert(
            "b".into(),
            status(Code::Unschedulable, &["Insufficient cpu"]),
        );
        fit.post_filter_msg = Some(
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
                .into(),
        );
        assert_eq!(
            fit_message(&fit),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
             2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn reasons_are_counted_per_node_and_sorted_as_strings() {
        let statuses = [
            status(
                Code::Unschedulable,
                &["Insufficient cpu", "Insufficient memory"],
            ),
            status(Code::Unschedulable, &["Insufficient memory"]),
        ];
        let absent = status(
            Code::UnschedulableAndUnresolvable,
            &["node(s) didn't satisfy plugin(s) [NodeAffinity]"],
        );
        let reasons = histogram(statuses.iter(), Some((&absent, 10)));
        // "10 ..." sorts before "2 ...", as upstream's string sort has it.
        assert_eq!(
            reasons,
            [
                "1 Insufficient cpu",
                "10 node(s) didn't satisfy plugin(s) [NodeAffinity]",
                "2 Insufficient memory"
            ]
        );
    }

    #[test]
    fn a_pre_filter_rejection_speaks_for_every_node() {
        let fit = FitError {
            num_all_nodes: 5,
            pre_filter: Some(status(
                Code::UnschedulableAndUnresolvable,
                &["pod affinity terms conflict"],
            )),
            ..FitError::default()
        };
        assert_eq!(
            fit_message(&fit),
            "0/5 nodes are available: pod affinity terms conflict."
        );
    }
}
