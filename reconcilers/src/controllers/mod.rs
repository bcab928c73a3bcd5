//! The built-in controllers, and what they share: the pods they own ([`pods`]), the
//! creations and deletions they wait to see ([`expectations`]), and events.

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod expectations;
pub mod foo;
pub mod garbage_collector;
pub mod history;
pub mod job;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod podgc;
pub mod pods;
pub mod replicaset;
pub mod resourcequota;
pub mod root_ca;
pub mod serviceaccount;
pub mod statefulset;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};

/// Publishes an event about `reference`; failing to record one does not fail a reconcile.
pub async fn publish(
    recorder: &Recorder,
    reference: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: reason.into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, reference).await {
        tracing::debug!("cannot record an event: {e}");
    }
}

/// The objects of kind `K` in `namespace` whose controller is the object with `uid`, from
/// the shared informer's cache.
pub fn controlled_by<K: crate::Informed>(
    ctx: &crate::Context,
    namespace: &str,
    uid: &str,
) -> Vec<std::sync::Arc<K>> {
    ctx.informers
        .get::<K>()
        .store()
        .state()
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
        .filter(|o| pods::controller_of(o.meta()).is_some_and(|r| r.uid == uid))
        .collect()
}

/// Whether an API error says the object is not there.
pub fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 404)
}
