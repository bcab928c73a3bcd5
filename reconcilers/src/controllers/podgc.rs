//! `pod-garbage-collector-controller`: every 20 s, deletes what no other loop will: pods
//! bound to nodes that no longer exist (marked Failed with a `DisruptionTarget` condition
//! first, as upstream does), unscheduled pods that are being deleted, and the oldest finished
//! pods beyond upstream's threshold of 12,500.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::not_found;
use crate::Context;

/// Upstream's `--terminated-pod-gc-threshold`.
const TERMINATED_THRESHOLD: usize = 12_500;
const PERIOD: Duration = Duration::from_secs(20);

fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Runs the pod garbage collector until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let pods = ctx.informers.get::<Pod>();
    let nodes = ctx.informers.get::<Node>();
    pods.ready().await;
    nodes.ready().await;
    loop {
        if let Err(e) = collect(&ctx, &pods.store().state(), &nodes.store().state()).await {
            tracing::debug!(controller = "pod-garbage-collector-controller", "{e}");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
    }
}

async fn force_delete(api: &Api<Pod>, name: &str) -> Result<(), kube::Error> {
    match api
        .delete(name, &DeleteParams::default().grace_period(0))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Why the collector deletes a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Garbage {
    /// Bound to a node that no longer exists; a pod not yet finished is first marked Failed.
    Orphaned { finished: bool },
    /// Never scheduled and being deleted: no kubelet will finish its deletion.
    UnscheduledTerminating,
    /// Finished, and among the oldest beyond the threshold.
    Terminated,
}

/// The pods to delete, in order: orphaned and unscheduled terminating pods as they come,
/// then the oldest finished pods beyond `threshold` of them (a pod may appear twice).
fn garbage<'a>(
    pods: &'a [Arc<Pod>],
    nodes: &[Arc<Node>],
    threshold: usize,
) -> Vec<(&'a Pod, Garbage)> {
    let names: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
    let mut found = Vec::new();
    for pod in pods {
        // An empty node name is no node: the pod is unscheduled, as upstream reads it.
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty());
        match node {
            Some(node) if !names.contains(node) => {
                found.push((
                    pod.as_ref(),
                    Garbage::Orphaned {
                        finished: finished(pod),
                    },
                ));
            }
            None if pod.metadata.deletion_timestamp.is_some() => {
                found.push((pod.as_ref(), Garbage::UnscheduledTerminating));
            }
            _ => {}
        }
    }
    let mut terminated: Vec<&Arc<Pod>> = pods.iter().filter(|p| finished(p)).collect();
    if terminated.len() > threshold {
        terminated.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let excess = terminated.len() - threshold;
        found.extend(
            terminated
                .into_iter()
                .take(excess)
                .map(|p| (p.as_ref(), Garbage::Terminated)),
        );
    }
    found
}

/// The status patch that marks an orphaned pod Failed at `now`.
fn orphan_status(now: jiff::Timestamp) -> serde_json::Value {
    let now = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({"status": {
        "phase": "Failed",
        "conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
            "message": "PodGC: node no longer exists", "lastTransitionTime": now,
        }],
    }})
}

async fn collect(ctx: &Context, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) -> Result<(), kube::Error> {
    let api = |pod: &Pod| -> Api<Pod> {
        Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default())
    };
    for (pod, why) in garbage(pods, nodes, TERMINATED_THRESHOLD) {
        if why == (Garbage::Orphaned { finished: false }) {
            let status = orphan_status(jiff::Timestamp::now());
            let _ = api(pod)
                .patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(status),
                )
                .await;
        }
        force_delete(&api(pod), &pod.name_any()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn pod(name: &str, node: Option<&str>, phase: &str, created: &str) -> Arc<Pod> {
        let mut spec = json!({"containers": []});
        if let Some(node) = node {
            spec["nodeName"] = json!(node);
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
                "spec": spec,
                "status": {"phase": phase},
            }))
            .unwrap(),
        )
    }

    fn deleting(pod: Arc<Pod>) -> Arc<Pod> {
        let mut pod = (*pod).clone();
        pod.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2024-05-01T10:00:00Z".parse().unwrap(),
            ));
        Arc::new(pod)
    }

    fn node(name: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}})).unwrap())
    }

    fn collected(
        pods: &[Arc<Pod>],
        nodes: &[Arc<Node>],
        threshold: usize,
    ) -> Vec<(String, Garbage)> {
        garbage(pods, nodes, threshold)
            .into_iter()
            .map(|(pod, why)| (pod.name_any(), why))
            .collect()
    }

    const T0: &str = "2024-05-01T09:00:00Z";

    #[test]
    fn pods_on_existing_nodes_are_kept() {
        let pods = [
            pod("a", Some("n1"), "Running", T0),
            pod("b", Some("n1"), "Succeeded", T0),
        ];
        assert_eq!(collected(&pods, &[node("n1")], 10), []);
    }

    #[test]
    fn a_running_pod_on_a_vanished_node_is_collected_as_unfinished() {
        let pods = [pod("a", Some("gone"), "Running", T0)];
        assert_eq!(
            collected(&pods, &[node("n1")], 10),
            [("a".to_string(), Garbage::Orphaned { finished: false })]
        );
    }

    #[test]
    fn a_finished_pod_on_a_vanished_node_is_collected_as_finished() {
        let pods = [pod("a", Some("gone"), "Failed", T0)];
        assert_eq!(
            collected(&pods, &[node("n1")], 10),
            [("a".to_string(), Garbage::Orphaned { finished: true })]
        );
    }

    #[test]
    fn an_unscheduled_pod_being_deleted_is_collected() {
        let pods = [deleting(pod("a", None, "Pending", T0))];
        assert_eq!(
            collected(&pods, &[node("n1")], 10),
            [("a".to_string(), Garbage::UnscheduledTerminating)]
        );
    }

    #[test]
    fn a_pod_with_an_empty_node_name_is_unscheduled_not_orphaned() {
        let pods = [
            deleting(pod("deleting", Some(""), "Pending", T0)),
            pod("pending", Some(""), "Pending", T0),
        ];
        assert_eq!(
            collected(&pods, &[node("n1")], 10),
            [("deleting".to_string(), Garbage::UnscheduledTerminating)]
        );
    }

    #[test]
    fn an_unscheduled_pod_not_being_deleted_is_kept() {
        let pods = [pod("a", None, "Pending", T0)];
        assert_eq!(collected(&pods, &[node("n1")], 10), []);
    }

    #[test]
    fn a_scheduled_pod_being_deleted_on_a_live_node_is_left_to_its_kubelet() {
        let pods = [deleting(pod("a", Some("n1"), "Running", T0))];
        assert_eq!(collected(&pods, &[node("n1")], 10), []);
    }

    #[test]
    fn finished_pods_up_to_the_threshold_are_kept() {
        let pods = [
            pod("a", Some("n1"), "Succeeded", T0),
            pod("b", Some("n1"), "Failed", T0),
        ];
        assert_eq!(collected(&pods, &[node("n1")], 2), []);
    }

    #[test]
    fn the_oldest_finished_pods_beyond_the_threshold_are_collected_oldest_first() {
        let pods = [
            pod(
                "running-oldest",
                Some("n1"),
                "Running",
                "2024-05-01T00:00:00Z",
            ),
            pod("d", Some("n1"), "Succeeded", "2024-05-01T04:00:00Z"),
            pod("b", Some("n1"), "Failed", "2024-05-01T02:00:00Z"),
            pod("e", Some("n1"), "Succeeded", "2024-05-01T05:00:00Z"),
            pod("a", Some("n1"), "Succeeded", "2024-05-01T01:00:00Z"),
            pod("c", Some("n1"), "Failed", "2024-05-01T03:00:00Z"),
        ];
        assert_eq!(
            collected(&pods, &[node("n1")], 2),
            [
                ("a".to_string(), Garbage::Terminated),
                ("b".to_string(), Garbage::Terminated),
                ("c".to_string(), Garbage::Terminated),
            ]
        );
    }

    #[test]
    fn an_orphaned_pod_is_marked_failed_with_a_disruption_target_at_the_given_time() {
        let status: Value = orphan_status("2024-05-01T10:20:30.5Z".parse().unwrap());
        assert_eq!(
            status,
            json!({"status": {
                "phase": "Failed",
                "conditions": [{
                    "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists",
                    "lastTransitionTime": "2024-05-01T10:20:30Z",
                }],
            }})
        );
    }
}
