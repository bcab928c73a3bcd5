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

async fn collect(ctx: &Context, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) -> Result<(), kube::Error> {
    let names: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
    let api = |pod: &Pod| -> Api<Pod> {
        Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default())
    };
    for pod in pods {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        match node {
            Some(node) if !names.contains(&node) => {
                // Orphaned: its node is gone.
                if !finished(pod) {
                    let now = jiff::Timestamp::now()
                        .strftime("%Y-%m-%dT%H:%M:%SZ")
                        .to_string();
                    let status = json!({"status": {
                        "phase": "Failed",
                        "conditions": [{
                            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                            "message": "PodGC: node no longer exists", "lastTransitionTime": now,
                        }],
                    }});
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
            None if pod.metadata.deletion_timestamp.is_some() => {
                force_delete(&api(pod), &pod.name_any()).await?;
            }
            _ => {}
        }
    }
    let mut terminated: Vec<&Arc<Pod>> = pods.iter().filter(|p| finished(p)).collect();
    if terminated.len() > TERMINATED_THRESHOLD {
        terminated.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let excess = terminated.len() - TERMINATED_THRESHOLD;
        for pod in terminated.into_iter().take(excess) {
            force_delete(&api(pod), &pod.name_any()).await?;
        }
    }
    Ok(())
}
