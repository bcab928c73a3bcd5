//! The controller manager: runs the loops `--controllers` selects, in upstream's form (`*`
//! for the default set, `name` to add one, `-name` to leave one out; upstream v1.35's names,
//! their older aliases accepted), while holding the `kube-controller-manager` Lease when
//! leader election is on. Losing the lease stops the loops; the manager then competes for
//! it again. Shutdown stops the loops and releases the lease.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::leader::LeaderElection;
use crate::{controllers, run, Context};

type Start = fn(Arc<Context>, CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A loop the manager can run.
pub struct Known {
    /// Upstream's canonical name (`--controllers`).
    pub name: &'static str,
    /// Older names that mean the same loop.
    pub aliases: &'static [&'static str],
    /// Whether `*` includes it.
    pub default: bool,
    start: Start,
}

macro_rules! known {
    ($name:literal, [$($alias:literal),*], $default:expr, $reconciler:expr) => {
        Known {
            name: $name,
            aliases: &[$($alias),*],
            default: $default,
            start: |ctx, shutdown| Box::pin(run($reconciler, ctx, shutdown)),
        }
    };
}

/// A loop that is not a per-object reconciler (the garbage collector's graph).
macro_rules! known_loop {
    ($name:literal, [$($alias:literal),*], $default:expr, $run:path) => {
        Known {
            name: $name,
            aliases: &[$($alias),*],
            default: $default,
            start: |ctx, shutdown| Box::pin($run(ctx, shutdown)),
        }
    };
}

/// Every loop Keelson's controller manager has, by upstream's names.
pub static KNOWN: &[Known] = &[
    known!(
        "namespace-controller",
        ["namespace"],
        true,
        controllers::namespace::NamespaceLifecycle
    ),
    known!(
        "cronjob-controller",
        ["cronjob"],
        true,
        controllers::cronjob::CronJobs
    ),
    known!(
        "daemonset-controller",
        ["daemonset"],
        true,
        controllers::daemonset::DaemonSets
    ),
    known!(
        "deployment-controller",
        ["deployment"],
        true,
        controllers::deployment::Deployments
    ),
    known_loop!(
        "garbage-collector-controller",
        ["garbagecollector"],
        true,
        controllers::garbage_collector::run
    ),
    known_loop!("job-controller", ["job"], true, controllers::job::run),
    known!(
        "ttl-after-finished-controller",
        ["ttl-after-finished"],
        true,
        controllers::job::ttl::TtlAfterFinished
    ),
    known!(
        "endpoints-controller",
        ["endpoint"],
        true,
        controllers::endpoints::LegacyEndpoints
    ),
    known!(
        "endpointslice-controller",
        ["endpointslice"],
        true,
        controllers::endpoints::EndpointSlices
    ),
    known!(
        "root-ca-certificate-publisher-controller",
        ["root-ca-cert-publisher"],
        true,
        controllers::root_ca::RootCaPublisher
    ),
    known!(
        "disruption-controller",
        ["disruption"],
        true,
        controllers::disruption::Disruption
    ),
    known_loop!(
        "pod-garbage-collector-controller",
        ["podgc"],
        true,
        controllers::podgc::run
    ),
    known_loop!(
        "node-lifecycle-controller",
        ["nodelifecycle"],
        true,
        controllers::node_lifecycle::run
    ),
    known_loop!(
        "taint-eviction-controller",
        [],
        true,
        controllers::node_lifecycle::evict
    ),
    known!(
        "node-ipam-controller",
        ["nodeipam"],
        true,
        controllers::node_ipam::NodeIpam::default()
    ),
    known!(
        "replicaset-controller",
        ["replicaset"],
        true,
        controllers::replicaset::replica_sets()
    ),
    known!(
        "replicationcontroller-controller",
        ["replicationcontroller"],
        true,
        controllers::replicaset::replication_controllers()
    ),
    known!(
        "resourcequota-controller",
        ["resourcequota"],
        true,
        controllers::resourcequota::ResourceQuotas
    ),
    known!(
        "statefulset-controller",
        ["statefulset"],
        true,
        controllers::statefulset::StatefulSets
    ),
    known!(
        "serviceaccount-controller",
        ["serviceaccount"],
        true,
        controllers::serviceaccount::DefaultServiceAccount
    ),
    // Keelson's example operator, for its own `Foo` custom resource.
    known!("foo-controller", ["foo"], true, controllers::foo::Foos),
    // codegen new: controllers
];

/// Upstream's names of loops Keelson does not have (yet): naming them is not an error.
const UPSTREAM_ONLY: &[&str] = &[
    "serviceaccount-token-controller",
    "endpointslice-mirroring-controller",
    "horizontal-pod-autoscaler-controller",
    "certificatesigningrequest-signing-controller",
    "certificatesigningrequest-approving-controller",
    "certificatesigningrequest-cleaner-controller",
    "ttl-controller",
    "bootstrap-signer-controller",
    "token-cleaner-controller",
    "persistentvolume-binder-controller",
    "persistentvolume-attach-detach-controller",
    "persistentvolume-expander-controller",
    "clusterrole-aggregation-controller",
    "persistentvolumeclaim-protection-controller",
    "persistentvolume-protection-controller",
    "service-ca-certificate-publisher-controller",
    "ephemeral-volume-controller",
    "storageversion-garbage-collector-controller",
    "resourceclaim-controller",
    "legacy-serviceaccount-token-cleaner-controller",
    "validatingadmissionpolicy-status-controller",
    "service-lb-controller",
    "node-route-controller",
    "cloud-node-lifecycle-controller",
];

/// Upstream's older names of the loops Keelson does not have.
const UPSTREAM_ONLY_ALIASES: &[(&str, &str)] = &[
    ("serviceaccount-token", "serviceaccount-token-controller"),
    (
        "endpointslicemirroring",
        "endpointslice-mirroring-controller",
    ),
    (
        "horizontalpodautoscaling",
        "horizontal-pod-autoscaler-controller",
    ),
    ("csrsigning", "certificatesigningrequest-signing-controller"),
    (
        "csrapproving",
        "certificatesigningrequest-approving-controller",
    ),
    ("csrcleaner", "certificatesigningrequest-cleaner-controller"),
    ("ttl", "ttl-controller"),
    ("bootstrapsigner", "bootstrap-signer-controller"),
    ("tokencleaner", "token-cleaner-controller"),
    (
        "persistentvolume-binder",
        "persistentvolume-binder-controller",
    ),
    ("attachdetach", "persistentvolume-attach-detach-controller"),
    (
        "persistentvolume-expander",
        "persistentvolume-expander-controller",
    ),
    (
        "clusterrole-aggregation",
        "clusterrole-aggregation-controller",
    ),
    (
        "pvc-protection",
        "persistentvolumeclaim-protection-controller",
    ),
    ("pv-protection", "persistentvolume-protection-controller"),
    (
        "service-ca-cert-publisher",
        "service-ca-certificate-publisher-controller",
    ),
    ("ephemeral-volume", "ephemeral-volume-controller"),
    (
        "storage-version-gc",
        "storageversion-garbage-collector-controller",
    ),
    ("resource-claim-controller", "resourceclaim-controller"),
    (
        "legacy-service-account-token-cleaner",
        "legacy-serviceaccount-token-cleaner-controller",
    ),
    ("service", "service-lb-controller"),
    ("route", "node-route-controller"),
    ("cloud-node-lifecycle", "cloud-node-lifecycle-controller"),
];

/// A `--controllers` value that names no controller.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not in the list of known controllers")]
pub struct UnknownController(pub String);

/// The canonical name of a `--controllers` item (without its `-`).
fn canonical(name: &str) -> Result<&'static str, UnknownController> {
    if let Some(known) = KNOWN
        .iter()
        .find(|k| k.name == name || k.aliases.contains(&name))
    {
        return Ok(known.name);
    }
    if let Some(upstream) = UPSTREAM_ONLY.iter().find(|n| **n == name) {
        return Ok(upstream);
    }
    UPSTREAM_ONLY_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, canonical)| *canonical)
        .ok_or_else(|| UnknownController(name.to_string()))
}

/// The loops `--controllers` selects, in upstream's semantics: an item naming the loop
/// (`name` or `-name`) decides; otherwise `*` selects the loops enabled by default.
pub fn select(items: &[String]) -> Result<Vec<&'static Known>, UnknownController> {
    let mut decided: Vec<(&'static str, bool)> = Vec::new();
    let mut star = false;
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        if item == "*" {
            star = true;
            continue;
        }
        let (name, on) = match item.strip_prefix('-') {
            Some(name) => (name, false),
            None => (item, true),
        };
        decided.push((canonical(name)?, on));
    }
    Ok(KNOWN
        .iter()
        .filter(|k| {
            decided
                .iter()
                .find(|(name, _)| *name == k.name)
                .map_or(star && k.default, |(_, on)| *on)
        })
        .collect())
}

/// What a manager runs, and how it leads.
pub struct ManagerConfig {
    /// `--controllers`, as given (default `*`).
    pub controllers: Vec<String>,
    /// The lease to hold while running, or `None` to run at once (`--leader-elect=false`).
    pub leader_election: Option<LeaderElection>,
    /// The API server's CA (PEM), published in every namespace as `kube-root-ca.crt`.
    pub root_ca: Option<String>,
    /// `--node-monitor-grace-period`.
    pub node_monitor_grace_period: Option<std::time::Duration>,
    /// `--cluster-cidr`.
    pub cluster_cidr: Option<keelson_apis::cidr::Cidr>,
}

impl ManagerConfig {
    /// A context over `client` with what this configuration gives the loops.
    pub fn context(&self, client: kube::Client) -> Context {
        let mut context = Context::new(client);
        context.root_ca = self.root_ca.clone();
        context.node_monitor_grace_period = self.node_monitor_grace_period;
        if let Some(cidr) = self.cluster_cidr {
            context.cluster_cidr = cidr;
        }
        context
    }
}

/// A running manager.
pub struct Manager {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    metrics: Arc<crate::metrics::LoopMetrics>,
}

impl Manager {
    /// Starts the selected loops over `client` (after taking the lease, when electing).
    pub fn start(
        client: kube::Client,
        config: ManagerConfig,
    ) -> Result<Manager, UnknownController> {
        let ctx = Arc::new(config.context(client));
        Manager::start_shared(ctx, config)
    }

    /// Starts the selected loops over a context the process shares with its other loops
    /// (the scheduler), so that all of them read the same informers: one watch per type
    /// for the process, kept across leadership terms.
    pub fn start_shared(
        ctx: Arc<Context>,
        config: ManagerConfig,
    ) -> Result<Manager, UnknownController> {
        let selected = select(&config.controllers)?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let client = ctx.client.clone();
        let metrics = ctx.metrics.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(election) = &config.leader_election {
                    if !election.acquire(&client, &stop).await {
                        return;
                    }
                }
                let term = stop.child_token();
                let loops: Vec<_> = selected
                    .iter()
                    .map(|k| tokio::spawn((k.start)(ctx.clone(), term.clone())))
                    .collect();
                match &config.leader_election {
                    Some(election) => election.hold(&client, &stop).await,
                    None => stop.cancelled().await,
                }
                term.cancel();
                for handle in loops {
                    let _ = handle.await;
                }
                if stop.is_cancelled() {
                    return;
                }
            }
        });
        Ok(Manager {
            shutdown,
            task,
            metrics,
        })
    }

    /// The loops' metrics (the API server's `/metrics` serves them).
    pub fn metrics(&self) -> Arc<crate::metrics::LoopMetrics> {
        self.metrics.clone()
    }

    /// Stops the loops (letting reconciles in progress finish) and releases the lease.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(items: &[&str]) -> Vec<&'static str> {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        select(&items).unwrap().iter().map(|k| k.name).collect()
    }

    #[test]
    fn controllers_are_selected_as_upstream_selects_them() {
        let all: Vec<&str> = KNOWN.iter().filter(|k| k.default).map(|k| k.name).collect();
        assert_eq!(names(&["*"]), all);
        assert!(names(&[]).is_empty());
        assert_eq!(names(&["namespace"]), ["namespace-controller"]);
        let without: Vec<&str> = all
            .iter()
            .copied()
            .filter(|n| *n != "serviceaccount-controller")
            .collect();
        assert_eq!(names(&["*", "-serviceaccount-controller"]), without);
        assert_eq!(names(&["*", "-serviceaccount"]), without);
        // A loop Keelson does not have yet may be named, alone or by its old name.
        assert_eq!(
            names(&["*", "-bootstrap-signer-controller", "tokencleaner"]),
            all
        );
        let Err(unknown) = select(&["*".into(), "nope".into()]) else {
            panic!("an unknown controller was accepted");
        };
        assert_eq!(
            unknown.to_string(),
            "\"nope\" is not in the list of known controllers"
        );
    }
}
