//! The `kubernetes` Service's endpoints list every API server of the cluster that is up,
//! as upstream's lease endpoint reconciler keeps them. Each server holds the store key
//! `/registry/masterleases/<ip>:<port>` under a 15 s store lease that it renews every 10 s,
//! and rewrites the `kubernetes` EndpointSlice and Endpoints in `default` to the addresses
//! whose keys exist. A server that dies drops out when its lease expires; one that shuts
//! down removes itself at once.
//!
//! Servers of one cluster serve one port, as upstream requires; were they not, the
//! endpoints list the servers sharing the port of the lowest key, so that every server
//! computes the same endpoints instead of overwriting each other's.

use std::net::SocketAddr;
use std::time::Duration;

use keelson_storage::{LeaseId, Member, Op, RangeRequest, TxnRequest};
use serde_json::{json, Value};

use crate::registry::{Registry, Target, WriteOptions};
use crate::status::ApiError;

const PREFIX: &str = "/registry/masterleases/";
/// How long a server's key outlives its last renewal (upstream's 15 s).
const TTL_SECONDS: u64 = 15;
/// How often a server renews its key and reconciles the endpoints.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// One server's part: its key, its lease, and the endpoints it writes.
pub struct EndpointReconciler {
    advertise: SocketAddr,
    lease: Option<LeaseId>,
}

impl EndpointReconciler {
    pub fn new(advertise: SocketAddr) -> EndpointReconciler {
        EndpointReconciler {
            advertise,
            lease: None,
        }
    }

    fn key(&self) -> Vec<u8> {
        format!("{PREFIX}{}", self.advertise).into_bytes()
    }

    /// Renews this server's key (granting a new lease when the old one is gone) and
    /// brings the endpoints in line with the servers that are up.
    pub async fn reconcile(&mut self, store: &Member, registry: &Registry) -> anyhow::Result<()> {
        let renewed = match self.lease {
            Some(id) => store.lease_keepalive(id).await.is_ok(),
            None => false,
        };
        if !renewed {
            let lease = store.lease_grant(TTL_SECONDS).await?;
            self.lease = Some(lease.id);
            store
                .txn(TxnRequest {
                    compare: Vec::new(),
                    success: vec![Op::Put {
                        key: self.key(),
                        value: self.advertise.to_string().into_bytes(),
                        lease: lease.id,
                    }],
                    failure: Vec::new(),
                })
                .await?;
        }
        write_endpoints(registry, &servers_up(store).await?).await
    }

    /// Removes this server's key and itself from the endpoints (a graceful shutdown).
    pub async fn remove(&mut self, store: &Member, registry: &Registry) -> anyhow::Result<()> {
        if let Some(id) = self.lease.take() {
            store.lease_revoke(id).await?;
        }
        let up: Vec<SocketAddr> = servers_up(store)
            .await?
            .into_iter()
            .filter(|s| *s != self.advertise)
            .collect();
        write_endpoints(registry, &up).await
    }
}

/// Keeps this server in the endpoints until `shutdown`, then removes it. The first
/// reconcile is the caller's (at start, so the writes it makes are done before the server
/// serves); this renews every [`INTERVAL`] after it.
pub async fn run(
    mut reconciler: EndpointReconciler,
    store: Member,
    state: std::sync::Arc<crate::ApiServerState>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        if let Err(e) = reconciler.reconcile(&store, &state.registry).await {
            tracing::warn!("cannot keep the kubernetes Service's endpoints: {e:#}");
        }
    }
    if let Err(e) = reconciler.remove(&store, &state.registry).await {
        tracing::warn!("cannot remove this server from the kubernetes Service's endpoints: {e:#}");
    }
}

/// The servers whose keys exist, in key order.
async fn servers_up(store: &Member) -> anyhow::Result<Vec<SocketAddr>> {
    let range = store
        .range(RangeRequest {
            prefix: PREFIX.as_bytes().to_vec(),
            ..RangeRequest::default()
        })
        .await?;
    let mut servers: Vec<SocketAddr> = range
        .kvs
        .iter()
        .filter_map(|kv| std::str::from_utf8(&kv.value).ok()?.parse().ok())
        .collect();
    servers.sort();
    Ok(servers)
}

/// The addresses to list and their port: those of the servers sharing the first's port.
fn endpoints_of(servers: &[SocketAddr]) -> Option<(Vec<String>, u16)> {
    let port = servers.first()?.port();
    let mut addresses: Vec<String> = servers
        .iter()
        .filter(|s| s.port() == port)
        .map(|s| s.ip().to_string())
        .collect();
    addresses.dedup();
    Some((addresses, port))
}

/// Rewrites the `kubernetes` EndpointSlice and Endpoints when they list other addresses.
/// With no server up (the last one leaving), they are left as they are.
async fn write_endpoints(registry: &Registry, servers: &[SocketAddr]) -> anyhow::Result<()> {
    let Some((addresses, port)) = endpoints_of(servers) else {
        return Ok(());
    };
    let ipv4 = servers.first().is_some_and(SocketAddr::is_ipv4);
    let slice = json!({
        "addressType": if ipv4 { "IPv4" } else { "IPv6" },
        "endpoints": addresses.iter().map(|a| json!({"addresses": [a], "conditions": {"ready": true}})).collect::<Vec<_>>(),
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    let endpoints = json!({
        "subsets": [{
            "addresses": addresses.iter().map(|a| json!({"ip": a})).collect::<Vec<_>>(),
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }],
    });
    replace_fields(registry, "discovery.k8s.io", "endpointslices", slice).await?;
    replace_fields(registry, "", "endpoints", endpoints).await
}

/// Sets `fields` on the `kubernetes` object of a resource in `default` (creating it if
/// missing) unless it already has them. Another server may write it meanwhile: a create
/// that finds it made is retried as an update.
async fn replace_fields(
    registry: &Registry,
    group: &str,
    plural: &str,
    fields: Value,
) -> anyhow::Result<()> {
    let target = Target::builtin(group, "v1", plural, Some("default"))
        .ok_or_else(|| anyhow::anyhow!("{plural} is missing from the route table"))?;
    let mut last = None;
    for _ in 0..3 {
        let current = match registry.get(&target, "kubernetes").await {
            Ok(current) => Some(current),
            Err(e) if e.reason == "NotFound" => None,
            Err(e) => return Err(api_error(e)),
        };
        // The slice is made at bootstrap; the Endpoints here, labelled as upstream labels
        // them so that no mirroring controller makes a second slice of them.
        let mut object = current.clone().unwrap_or_else(|| {
            json!({"metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}})
        });
        let (Some(wanted), Some(obj)) = (fields.as_object(), object.as_object_mut()) else {
            return Ok(());
        };
        if wanted.iter().all(|(k, v)| obj.get(k) == Some(v)) {
            return Ok(());
        }
        for (k, v) in wanted {
            obj.insert(k.clone(), v.clone());
        }
        let written = match current {
            Some(_) => {
                registry
                    .update(
                        &target,
                        "kubernetes",
                        None,
                        object,
                        &WriteOptions::default(),
                    )
                    .await
            }
            None => {
                registry
                    .create(&target, object, &WriteOptions::default())
                    .await
            }
        };
        match written {
            Ok(_) => return Ok(()),
            Err(e) if matches!(e.reason, "AlreadyExists" | "Conflict" | "NotFound") => {
                last = Some(e);
            }
            Err(e) => return Err(api_error(e)),
        }
    }
    Err(last.map_or_else(|| anyhow::anyhow!("no attempt made"), api_error))
}

fn api_error(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.reason, e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoints_list_the_servers_sharing_the_first_port() {
        let servers: Vec<SocketAddr> = ["127.0.0.1:6443", "127.0.0.2:6443", "127.0.0.3:7443"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            endpoints_of(&servers),
            Some((vec!["127.0.0.1".to_string(), "127.0.0.2".to_string()], 6443))
        );
        assert_eq!(endpoints_of(&[]), None);
    }
}
