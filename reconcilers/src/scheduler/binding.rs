//! Binding (upstream's DefaultBinder, after VolumeBinding's PreBind marks claims to be
//! provisioned with the node): `POST pods/{name}/binding` with a `Binding` naming
//! the node, written off the scheduling loop so the next pod is scheduled meanwhile. The
//! outcome goes back to the loop, which forgets the assumption and requeues the pod when
//! the binding failed. A bound pod gets a `Scheduled` event.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource};
use tokio::sync::{mpsc, Semaphore};

use super::pod_info::DEFAULT_SCHEDULER_NAME;
use crate::Context;

/// How a binding went.
#[derive(Debug)]
pub struct Bound {
    /// `namespace/name` of the pod.
    pub key: String,
    pub node: String,
    /// The API's refusal, if it refused.
    pub error: Option<String>,
}

/// Writes the binding of `pod` to `node`; reports to `done`. `limit` bounds how many
/// bindings are written at once, so a burst of scheduled pods does not flood the API
/// server (the rest wait their turn here, not in the scheduling loop).
pub async fn bind(
    ctx: Arc<Context>,
    pod: Arc<Pod>,
    key: String,
    node: String,
    limit: Arc<Semaphore>,
    done: mpsc::UnboundedSender<Bound>,
) {
    let (Some(name), Some(namespace)) = (pod.metadata.name.clone(), pod.metadata.namespace.clone())
    else {
        return;
    };
    let error = {
        let _permit = limit.acquire().await;
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                uid: pod.metadata.uid.clone(),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.clone()),
                ..ObjectReference::default()
            },
        };
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
        match super::plugins::volume_binding::select_node(&ctx, &pod, &node).await {
            Err(e) => Some(format!("cannot mark the pod's claims for {node}: {e}")),
            Ok(()) => api
                .create_subresource::<_, serde_json::Value>(
                    "binding",
                    &name,
                    &PostParams::default(),
                    &binding,
                )
                .await
                .err()
                .map(|e| e.to_string()),
        }
    };
    let bound = error.is_none();
    // The loop may be gone (shutdown): nothing to tell then.
    let _ = done.send(Bound {
        key,
        node: node.clone(),
        error,
    });
    if bound {
        // A recorder of its own: a pod is scheduled once, so there is no series to keep
        // (and no cache of every scheduled pod's event to scan on each publish).
        let recorder = ctx.recorder(DEFAULT_SCHEDULER_NAME);
        let event = Event {
            type_: EventType::Normal,
            reason: "Scheduled".into(),
            note: Some(format!(
                "Successfully assigned {namespace}/{name} to {node}"
            )),
            action: "Binding".into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &pod.object_ref(&())).await {
            tracing::debug!(pod = %format!("{namespace}/{name}"), "cannot record the Scheduled event: {e}");
        }
    }
}
