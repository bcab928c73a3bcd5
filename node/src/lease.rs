//! The node's heartbeat: a `coordination.k8s.io/v1` Lease named after the node in
//! `kube-node-lease`, renewed every quarter of its duration (10 s of 40 s), owned by the
//! Node, as upstream's kubelet keeps it (`nodelease` controller: the last lease written is
//! updated in place; on failure it is read again, retrying after 200 ms doubling to 7 s).
//! After its first renewal, each node renews at its own random phase of the period, with
//! upstream's jitter ([`jitter`]).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference};
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use tokio_util::sync::CancellationToken;

use crate::jitter;

/// Where node leases live.
pub const NAMESPACE: &str = "kube-node-lease";

const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(7);

/// Renews the lease of node `name` until `shutdown`.
pub async fn keep(
    client: kube::Client,
    name: String,
    duration: Duration,
    shutdown: CancellationToken,
) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let nodes: Api<Node> = Api::all(client);
    let interval = duration / 4;
    let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
    let mut latest: Option<Lease> = None;
    let mut retry = RETRY_FIRST;
    let mut first = true;
    loop {
        let wait = match renew(&leases, &nodes, &name, seconds, latest.take()).await {
            Ok(lease) => {
                latest = Some(lease);
                retry = RETRY_FIRST;
                if std::mem::take(&mut first) {
                    jitter::phase(interval)
                } else {
                    jitter::jittered(interval)
                }
            }
            Err(e) => {
                tracing::warn!(node = %name, "cannot renew the node lease: {e}");
                let wait = retry;
                retry = retry.saturating_mul(2).min(RETRY_MAX);
                wait
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Writes a renewed lease: `latest` updated in place, or the stored one (created when
/// there is none).
async fn renew(
    leases: &Api<Lease>,
    nodes: &Api<Node>,
    name: &str,
    seconds: i32,
    latest: Option<Lease>,
) -> Result<Lease, kube::Error> {
    let stored = match latest {
        Some(lease) => Some(lease),
        None => leases.get_opt(name).await?,
    };
    let mut lease = stored.unwrap_or_else(|| Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        spec: None,
    });
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = Some(name.to_string());
    spec.lease_duration_seconds = Some(seconds);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    if lease
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(Vec::is_empty)
    {
        // As upstream: owned by the Node once it exists, so that it goes with it.
        if let Some(node) = nodes.get_opt(name).await? {
            lease.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: name.to_string(),
                uid: node.metadata.uid.unwrap_or_default(),
                ..OwnerReference::default()
            }]);
        }
    }
    if lease.metadata.resource_version.is_none() {
        leases.create(&PostParams::default(), &lease).await
    } else {
        leases.replace(name, &PostParams::default(), &lease).await
    }
}
