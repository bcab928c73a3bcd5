//! Leader election over a `coordination.k8s.io/v1` Lease, as upstream's client-go
//! `leaderelection` does it: a candidate takes the lease when it is absent or its holder has
//! not renewed it within `leaseDurationSeconds`, renews it every retry period while it
//! leads, and stops leading when it could not renew within the renew deadline. Every write
//! is conditional on the resourceVersion read, so two candidates never both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use tokio_util::sync::CancellationToken;

/// Upstream's defaults (`--leader-elect-lease-duration`, `-renew-deadline`, `-retry-period`).
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub namespace: String,
    /// The lease's name: `kube-controller-manager`, `kube-scheduler`.
    pub name: String,
    /// Who is asking: unique per process (host name and a random suffix).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderElection {
    /// Upstream's default timings for the lease `name` in `kube-system`.
    pub fn new(name: &str) -> LeaderElection {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "keelson".into());
        LeaderElection {
            namespace: "kube-system".into(),
            name: name.into(),
            identity: format!("{host}_{}", uuid::Uuid::new_v4()),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Waits until this candidate holds the lease (or `shutdown` is cancelled: `false`).
    pub async fn acquire(&self, client: &kube::Client, shutdown: &CancellationToken) -> bool {
        let api: Api<Lease> = Api::namespaced(client.clone(), &self.namespace);
        loop {
            match self.try_acquire_or_renew(&api).await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became the leader");
                    return true;
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(lease = %self.name, "cannot take the lease yet: {e}"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(self.retry_period) => {}
            }
        }
    }

    /// Renews the lease every retry period; returns when it could not be renewed within the
    /// renew deadline (leadership is lost) or `shutdown` is cancelled (then it is released).
    pub async fn hold(&self, client: &kube::Client, shutdown: &CancellationToken) {
        let api: Api<Lease> = Api::namespaced(client.clone(), &self.namespace);
        let mut renewed = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    self.release(&api).await;
                    return;
                }
                _ = tokio::time::sleep(self.retry_period) => {}
            }
            match self.try_acquire_or_renew(&api).await {
                Ok(true) => renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::warn!(lease = %self.name, "another candidate took the lease");
                    return;
                }
                Err(e) => tracing::warn!(lease = %self.name, "cannot renew the lease: {e}"),
            }
            if renewed.elapsed() > self.renew_deadline {
                tracing::warn!(lease = %self.name, "lost the lease: not renewed within the deadline");
                return;
            }
        }
    }

    /// Takes the lease if free or expired, renews it if held; whether this candidate holds it.
    async fn try_acquire_or_renew(&self, api: &Api<Lease>) -> Result<bool, kube::Error> {
        let now = jiff::Timestamp::now();
        let duration = i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let held_by_me = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if !held_by_me {
            let held_for = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.lease_duration, Duration::from_secs);
            let expired = spec.renew_time.as_ref().is_none_or(|t| {
                let age = now.duration_since(t.0);
                age.as_secs_f64() > held_for.as_secs_f64()
            });
            let free = spec.holder_identity.as_deref().is_none_or(str::is_empty);
            if !expired && !free {
                return Ok(false);
            }
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(duration);
        // The resourceVersion read makes the write conditional.
        match api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up at shutdown so another candidate need not wait for it to expire.
    async fn release(&self, api: &Api<Lease>) {
        let Ok(Some(mut lease)) = api.get_opt(&self.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        let _ = api
            .replace(&self.name, &PostParams::default(), &lease)
            .await;
    }
}
