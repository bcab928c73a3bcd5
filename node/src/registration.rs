//! The node's `Node` object, as upstream's kubelet registers and reports it: the standard
//! labels, a pod CIDR (a free `/24` of the cluster CIDR, as the node-ipam controller would
//! give), capacity and allocatable, addresses, `nodeInfo`, the daemon endpoint and the
//! conditions (`MemoryPressure`, `DiskPressure`, `PIDPressure` false and `Ready` true, with
//! upstream's reasons). A node that exists already (this process ran before) is taken
//! over with its pod CIDR. The status is computed every `nodeStatusUpdateFrequency` and
//! written when it changed or `nodeStatusReportFrequency` passed (the heartbeat); a Node
//! deleted meanwhile is registered again.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Api;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::SimulatedNodesConfig;
use crate::ipam::{self, Cidr};
use crate::jitter;

/// The port kubelets serve on (`daemonEndpoints.kubeletEndpoint`).
pub const KUBELET_PORT: i32 = 10250;

/// A registered node: what its pod loop and heartbeats need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub name: String,
    pub pod_cidr: Cidr,
    /// Its InternalIP.
    pub address: Ipv4Addr,
}

/// Why a node could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    #[error("no pod CIDR yet: is the node-ipam controller running?")]
    NoPodCidr,
}

/// What a node says of itself beyond its name and addresses.
#[derive(Clone, Debug)]
pub struct Facts {
    /// `nodeInfo.containerRuntimeVersion`.
    pub runtime_version: String,
    /// `nodeInfo.bootID`: new each time the process starts.
    pub boot_id: String,
}

/// How often a node waiting for its pod CIDR looks again.
const POD_CIDR_POLL: std::time::Duration = std::time::Duration::from_millis(200);
/// How long one registration attempt waits for the pod CIDR before it is retried.
const POD_CIDR_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Registers node `name` (or takes it over), waits for the node-ipam controller to give it
/// a pod CIDR (as a kubelet's network waits for one), and writes its first status.
pub async fn register(
    client: &kube::Client,
    config: &SimulatedNodesConfig,
    facts: &Facts,
    name: &str,
) -> Result<Registered, RegistrationError> {
    let api: Api<Node> = Api::all(client.clone());
    let mut stored = match api.get_opt(name).await? {
        None => {
            api.create(&PostParams::default(), &node_object(name, None, config))
                .await?
        }
        Some(_) => {
            // Ours from an earlier run: labels as configured now.
            let object = node_object(name, None, config);
            let patch = json!({
                "metadata": {
                    "labels": object.metadata.labels,
                    "annotations": object.metadata.annotations,
                },
            });
            api.patch(name, &PatchParams::default(), &Patch::Strategic(patch))
                .await?
        }
    };
    let waiting = tokio::time::Instant::now();
    let pod_cidr = loop {
        if let Some(cidr) = stored
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_deref()?.parse::<Cidr>().ok())
        {
            break cidr;
        }
        if waiting.elapsed() >= POD_CIDR_WAIT {
            return Err(RegistrationError::NoPodCidr);
        }
        tokio::time::sleep(POD_CIDR_POLL).await;
        stored = api.get(name).await?;
    };
    let node = Registered {
        name: name.to_string(),
        pod_cidr,
        address: ipam::node_address(&pod_cidr),
    };
    let status = node_status(
        &node,
        config,
        facts,
        stored.status.as_ref(),
        Timestamp::now(),
    );
    write_status(&api, name, &status).await?;
    tracing::info!(node = %name, pod_cidr = %pod_cidr, address = %node.address, "registered the node");
    Ok(node)
}

/// Upstream's `GOARCH` name of this machine's architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The Node as registered: labels, annotations and, when it had one, its pod CIDR.
pub fn node_object(name: &str, pod_cidr: Option<Cidr>, config: &SimulatedNodesConfig) -> Node {
    let mut labels = BTreeMap::from([
        ("beta.kubernetes.io/arch".to_string(), go_arch().to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), go_arch().to_string()),
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
    ]);
    labels.extend(config.labels.clone());
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
                "true".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: pod_cidr.map(|c| c.to_string()),
            pod_cidrs: pod_cidr.map(|c| vec![c.to_string()]),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

/// A stable 32-hex-digit id made from `text` (FNV-1a, twice).
fn stable_id(text: &str) -> String {
    let fnv = |seed: u64| {
        text.bytes().fold(seed, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    )
}

/// A UUID-shaped form of [`stable_id`].
fn stable_uuid(text: &str) -> String {
    let id = stable_id(text);
    let part = |from: usize, to: usize| id.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The node's status at `now`; conditions keep their transition times from `old` while
/// their status holds.
pub fn node_status(
    node: &Registered,
    config: &SimulatedNodesConfig,
    facts: &Facts,
    old: Option<&NodeStatus>,
    now: Timestamp,
) -> NodeStatus {
    let now = Time(Timestamp::from_second(now.as_second()).unwrap_or(now));
    let resources: BTreeMap<String, Quantity> = config
        .capacity
        .iter()
        .map(|(k, v)| (k.clone(), Quantity(v.clone())))
        .collect();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        let before = old
            .and_then(|o| o.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_));
        let transition = match before {
            Some(b) if b.status == status => b.last_transition_time.clone(),
            _ => None,
        };
        NodeCondition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: transition.or_else(|| Some(now.clone())),
        }
    };
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            ),
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: node.address.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: node.name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: go_arch().to_string(),
            boot_id: facts.boot_id.clone(),
            container_runtime_version: facts.runtime_version.clone(),
            kernel_version: kernel_version(),
            kube_proxy_version: String::new(),
            kubelet_version: format!("{}-keelson", keelson_apis::KUBERNETES_VERSION),
            machine_id: stable_id(&node.name),
            operating_system: "linux".into(),
            os_image: "Keelson simulated node".into(),
            system_uuid: stable_uuid(&format!("system/{}", node.name)),
            ..NodeSystemInfo::default()
        }),
        ..old.cloned().unwrap_or_default()
    }
}

/// Whether two statuses differ in more than heartbeat times.
fn changed(a: &NodeStatus, b: &NodeStatus) -> bool {
    let without_heartbeats = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_heartbeat_time = None;
        }
        s
    };
    without_heartbeats(a) != without_heartbeats(b)
}

async fn write_status(api: &Api<Node>, name: &str, status: &NodeStatus) -> Result<(), kube::Error> {
    let patch = json!({ "status": status });
    api.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .map(|_| ())
}

/// Keeps node `node`'s status current until `shutdown`, reading the Node from the shared
/// informer's cache `nodes`.
pub async fn keep_status(
    client: kube::Client,
    node: Registered,
    config: SimulatedNodesConfig,
    facts: Facts,
    nodes: Store<Node>,
    shutdown: CancellationToken,
) {
    let api: Api<Node> = Api::all(client);
    let mut reported = tokio::time::Instant::now();
    let mut wait = jitter::phase(config.status_update_frequency);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = jitter::jittered(config.status_update_frequency);
        let Some(current) = nodes.get(&ObjectRef::new(&node.name)) else {
            // Deleted (or not seen yet): register it again.
            if let Err(e) = reregister(&api, &node, &config, &facts).await {
                tracing::warn!(node = %node.name, "cannot register the node again: {e}");
            }
            continue;
        };
        let now = Timestamp::now();
        let desired = node_status(&node, &config, &facts, current.status.as_ref(), now);
        let due = reported.elapsed() >= config.status_report_frequency;
        let old = current.status.clone().unwrap_or_default();
        if !due && !changed(&old, &desired) {
            continue;
        }
        match write_status(&api, &node.name, &desired).await {
            Ok(()) => reported = tokio::time::Instant::now(),
            Err(e) => tracing::warn!(node = %node.name, "cannot update the node status: {e}"),
        }
    }
}

/// Creates the Node again with its pod CIDR (409: it exists after all, fine).
async fn reregister(
    api: &Api<Node>,
    node: &Registered,
    config: &SimulatedNodesConfig,
    facts: &Facts,
) -> Result<(), kube::Error> {
    match api
        .create(
            &PostParams::default(),
            &node_object(&node.name, Some(node.pod_cidr), config),
        )
        .await
    {
        Ok(_) => {
            tracing::info!(node = %node.name, "registered the node again");
        }
        Err(kube::Error::Api(e)) if e.code == 409 => return Ok(()),
        Err(e) => return Err(e),
    }
    write_status(
        api,
        &node.name,
        &node_status(node, config, facts, None, Timestamp::now()),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Registered {
        let pod_cidr: Cidr = "10.244.3.0/24".parse().unwrap();
        Registered {
            name: "keelson-node-4".into(),
            pod_cidr,
            address: ipam::node_address(&pod_cidr),
        }
    }

    fn facts() -> Facts {
        Facts {
            runtime_version: "fake://0.1.0".into(),
            boot_id: "b".into(),
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn a_node_registers_with_the_standard_labels_and_its_pod_cidr() {
        let mut config = SimulatedNodesConfig::new(4, "keelson-node");
        config.labels = BTreeMap::from([("tier".to_string(), "db".to_string())]);
        let node = node();
        let object = node_object(&node.name, Some(node.pod_cidr), &config);
        let labels = object.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "keelson-node-4");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], go_arch());
        assert_eq!(labels["tier"], "db");
        let spec = object.spec.unwrap();
        assert_eq!(spec.pod_cidr.as_deref(), Some("10.244.3.0/24"));
        assert_eq!(spec.pod_cidrs, Some(vec!["10.244.3.0/24".to_string()]));
    }

    #[test]
    fn the_status_says_ready_with_capacity_addresses_and_node_info() {
        let config = SimulatedNodesConfig::new(4, "keelson-node");
        let status = node_status(&node(), &config, &facts(), None, at(0));
        let capacity = status.capacity.clone().unwrap();
        assert_eq!(capacity["cpu"], Quantity("32".into()));
        assert_eq!(capacity["pods"], Quantity("110".into()));
        assert_eq!(status.allocatable, status.capacity);
        let conditions: Vec<(String, String, Option<String>)> = status
            .conditions
            .clone()
            .unwrap()
            .into_iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect();
        assert_eq!(
            conditions,
            [
                (
                    "MemoryPressure".into(),
                    "False".into(),
                    Some("KubeletHasSufficientMemory".into())
                ),
                (
                    "DiskPressure".into(),
                    "False".into(),
                    Some("KubeletHasNoDiskPressure".into())
                ),
                (
                    "PIDPressure".into(),
                    "False".into(),
                    Some("KubeletHasSufficientPID".into())
                ),
                ("Ready".into(), "True".into(), Some("KubeletReady".into())),
            ]
        );
        let addresses = status.addresses.clone().unwrap();
        assert_eq!(addresses[0].type_, "InternalIP");
        assert_eq!(addresses[0].address, "127.244.3.1");
        let info = status.node_info.clone().unwrap();
        assert_eq!(info.kubelet_version, "v1.35.0-keelson");
        assert_eq!(info.container_runtime_version, "fake://0.1.0");
        assert_eq!(info.machine_id.len(), 32);
        assert_eq!(info.system_uuid.len(), 36);
        // A later heartbeat keeps the transition times and only moves the heartbeat.
        let later = node_status(&node(), &config, &facts(), Some(&status), at(60));
        let ready = later
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.last_transition_time, Some(Time(at(0))));
        assert_eq!(ready.last_heartbeat_time, Some(Time(at(60))));
        assert!(!changed(&status, &later));
        let mut bigger = config.clone();
        bigger.capacity.insert("cpu".into(), "64".into());
        assert!(changed(
            &status,
            &node_status(&node(), &bigger, &facts(), Some(&status), at(60))
        ));
    }
}
