//! `endpointslice-controller` and `endpoints-controller`: a Service with a selector gets the
//! addresses of the pods it selects, as EndpointSlices (at most 100 endpoints each, with
//! upstream's labels, the ready/serving/terminating conditions, the pod as target and its
//! node) and as the legacy Endpoints object (ready and not-ready addresses, or all ready when
//! the Service publishes not-ready addresses). Ports are the Service's, each resolved on its
//! own against each pod's containers: a pod lacking a named port offers the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::{not_found, pods};
use crate::{Context, Error, Reconciler};

const SERVICE_NAME: &str = "kubernetes.io/service-name";
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGER: &str = "endpointslice-controller.k8s.io";
/// Upstream's `--max-endpoints-per-slice` default.
const MAX_PER_SLICE: usize = 100;

/// Triggers a Service's reconcile when a pod in its namespace changes.
fn pods_trigger(c: Controller<Service>, ctx: &Context) -> Controller<Service> {
    let services = ctx.informers.get::<Service>().store();
    c.watches_shared_stream(ctx.informers.get::<Pod>().subscribe(), move |pod| {
        let namespace = pod.namespace().unwrap_or_default();
        // The services that select the pod.
        services
            .state()
            .iter()
            .filter(|s| s.namespace().as_deref() == Some(namespace.as_str()))
            .filter(|s| selector_of(s).is_some_and(|sel| pods::selects(&sel, pod.meta())))
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect::<Vec<ObjectRef<Service>>>()
    })
}

fn selector_of(service: &Service) -> Option<Selector> {
    let labels = service.spec.as_ref()?.selector.clone()?;
    if labels.is_empty() {
        return None;
    }
    Selector::try_from(LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    })
    .ok()
}

/// The pods a Service routes to, with their IPs.
fn selected_pods(ctx: &Context, service: &Service) -> Option<Vec<Pod>> {
    routable_pods(
        service,
        ctx.informers
            .get::<Pod>()
            .store()
            .state()
            .iter()
            .map(Arc::as_ref),
    )
}

/// Of `pods`, those a Service routes to: in its namespace, selected, with an IP and not
/// finished (terminating pods included; the legacy Endpoints leave them out unless the
/// Service publishes not-ready addresses). `None` when the Service has no selector or is an
/// ExternalName Service, as upstream: its endpoints are not ours.
fn routable_pods<'a>(
    service: &Service,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> Option<Vec<Pod>> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    let selector = selector_of(service)?;
    let namespace = service.namespace()?;
    Some(
        pods.into_iter()
            .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
            .filter(|p| pods::selects(&selector, p.meta()))
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.pod_ip.as_deref())
                    .is_some_and(|ip| !ip.is_empty())
            })
            .filter(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            })
            .cloned()
            .collect(),
    )
}

/// A protocol as the API defaults it.
fn protocol_of(protocol: Option<&String>) -> &str {
    protocol.map_or("TCP", String::as_str)
}

/// A Service port's target on a pod: its number, or the port of that name and protocol on
/// one of the pod's containers or sidecars (restartable init containers), as upstream's
/// `FindPort`.
fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && protocol_of(p.protocol.as_ref()) == protocol_of(port.protocol.as_ref())
                })
                .map(|p| p.container_port)
        }
    }
}

/// The Service ports a pod offers, each as its index among `ports` and its number on the
/// pod: a port whose target does not resolve on the pod is left out, the others kept.
fn resolved_ports(ports: &[ServicePort], pod: &Pod) -> Vec<(usize, i32)> {
    ports
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, target_port(p, pod)?)))
        .collect()
}

fn pod_ip(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.uid(),
        ..ObjectReference::default()
    }
}

/// The pod's hostname when it is one of the Service's (its subdomain names the Service).
fn hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.clone().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == Some(service.name_any().as_str())
        && pod.namespace() == service.namespace())
    .then_some(hostname)
}

/// A list, or none when it is empty (as an empty list reads back).
fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// The Service's spec fields that decide its endpoints.
struct Routing<'a> {
    ports: &'a [ServicePort],
    /// `spec.publishNotReadyAddresses`: every routed pod is published as ready.
    publish_not_ready: bool,
    /// `spec.clusterIP: None`.
    headless: bool,
}

fn routing(service: &Service) -> Routing<'_> {
    let spec = service.spec.as_ref();
    Routing {
        ports: spec.and_then(|s| s.ports.as_deref()).unwrap_or_default(),
        publish_not_ready: spec.and_then(|s| s.publish_not_ready_addresses) == Some(true),
        headless: spec.and_then(|s| s.cluster_ip.as_deref()) == Some("None"),
    }
}

/// The EndpointSlices `service` wants for `selected` pods (without metadata): pods whose
/// Service ports resolve alike share slices of at most [`MAX_PER_SLICE`] endpoints; no pods
/// still make one empty slice. An endpoint is ready when the Service publishes not-ready
/// addresses, else when its pod is ready and not terminating.
fn slices_for(service: &Service, selected: &[Pod]) -> Vec<EndpointSlice> {
    let routing = routing(service);
    // Pods whose ports resolve alike share a slice.
    let mut groups: BTreeMap<Vec<(usize, i32)>, Vec<&Pod>> = BTreeMap::new();
    for pod in selected {
        groups
            .entry(resolved_ports(routing.ports, pod))
            .or_default()
            .push(pod);
    }
    let mut wanted: Vec<EndpointSlice> = Vec::new();
    for (resolved, group) in &groups {
        let slice_ports: Vec<SlicePort> = resolved
            .iter()
            .filter_map(|&(i, target)| {
                let p = routing.ports.get(i)?;
                Some(SlicePort {
                    name: Some(p.name.clone().unwrap_or_default()),
                    port: Some(target),
                    protocol: Some(protocol_of(p.protocol.as_ref()).into()),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        for chunk in group.chunks(MAX_PER_SLICE) {
            let endpoints = chunk
                .iter()
                .map(|pod| {
                    let terminating = pod.metadata.deletion_timestamp.is_some();
                    let serving = pods::is_ready(pod);
                    Endpoint {
                        addresses: vec![pod_ip(pod)],
                        conditions: Some(EndpointConditions {
                            ready: Some(routing.publish_not_ready || (serving && !terminating)),
                            serving: Some(serving),
                            terminating: Some(terminating),
                        }),
                        hostname: hostname(pod, service),
                        node_name: pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.node_name.clone())
                            .filter(|n| !n.is_empty()),
                        target_ref: Some(target_ref(pod)),
                        ..Endpoint::default()
                    }
                })
                .collect();
            wanted.push(EndpointSlice {
                address_type: "IPv4".into(),
                endpoints,
                ports: non_empty(slice_ports.clone()),
                metadata: ObjectMeta::default(),
            });
        }
    }
    // A Service with no endpoints still has one (empty) slice, as upstream keeps.
    if wanted.is_empty() {
        wanted.push(EndpointSlice {
            address_type: "IPv4".into(),
            endpoints: Vec::new(),
            ports: None,
            metadata: ObjectMeta::default(),
        });
    }
    wanted
}

pub struct EndpointSlices;

impl Reconciler for EndpointSlices {
    type Object = Service;
    const NAME: &'static str = "endpointslice-controller";

    fn watches(&self, c: Controller<Service>, ctx: &Context) -> Controller<Service> {
        pods_trigger(
            c.owns_shared_stream(ctx.informers.get::<EndpointSlice>().subscribe()),
            ctx,
        )
    }

    async fn reconcile(&self, service: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
        let (Some(namespace), Some(name)) = (service.namespace(), service.metadata.name.clone())
        else {
            return Ok(Action::await_change());
        };
        let Some(selected) = selected_pods(&ctx, &service) else {
            // No selector: the Service's endpoints are someone else's to manage.
            return Ok(Action::await_change());
        };
        if service.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let owner = service
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no identity")))?;
        let wanted = slices_for(&service, &selected);
        let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &namespace);
        let mut existing: Vec<EndpointSlice> = api
            .list(
                &ListParams::default()
                    .labels(&format!("{SERVICE_NAME}={name},{MANAGED_BY}={MANAGER}")),
            )
            .await?
            .items;
        existing.sort_by_key(|s| s.name_any());
        let labels = BTreeMap::from([
            (SERVICE_NAME.to_string(), name.clone()),
            (MANAGED_BY.to_string(), MANAGER.to_string()),
        ]);
        let mut existing = existing.into_iter();
        for mut slice in wanted {
            match existing.next() {
                Some(current) => {
                    if current.endpoints == slice.endpoints && current.ports == slice.ports {
                        continue;
                    }
                    slice.metadata = current.metadata.clone();
                    api.replace(&current.name_any(), &PostParams::default(), &slice)
                        .await?;
                }
                None => {
                    slice.metadata = ObjectMeta {
                        generate_name: Some(format!("{name}-")),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![owner.clone()]),
                        ..ObjectMeta::default()
                    };
                    api.create(&PostParams::default(), &slice).await?;
                }
            }
        }
        for extra in existing {
            match api
                .delete(&extra.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Action::await_change())
    }
}

/// The legacy Endpoints' subsets `service` wants for `selected` pods, packed as upstream's
/// `RepackSubsets`: each address offers the Service ports that resolve on its pod (a
/// headless Service without ports offers none, an ordinary one without ports publishes no
/// address), and the ports offered by the same addresses, alike ready, share a subset.
/// Terminating pods are left out and pods not ready are not-ready addresses, unless the
/// Service publishes not-ready addresses: then every pod is a (ready) address. `None` when
/// no address is published.
fn subsets_for(service: &Service, selected: &[Pod]) -> Option<Vec<EndpointSubset>> {
    /// An address as upstream tells them apart: its IP and its pod's UID.
    type Key = (String, String);
    /// The addresses offering a port, each with whether it is ready there.
    type Offering = Vec<(Key, bool)>;
    let routing = routing(service);
    let mut addresses: BTreeMap<Key, EndpointAddress> = BTreeMap::new();
    // The addresses offering each port (`None` for a headless Service without ports), and
    // whether each is ready there.
    let mut offered: BTreeMap<Option<(usize, i32)>, BTreeMap<Key, bool>> = BTreeMap::new();
    for pod in selected {
        if !routing.publish_not_ready && pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let pod_ports: Vec<Option<(usize, i32)>> = if !routing.ports.is_empty() {
            resolved_ports(routing.ports, pod)
                .into_iter()
                .map(Some)
                .collect()
        } else if routing.headless {
            vec![None]
        } else {
            Vec::new()
        };
        let key: Key = (pod_ip(pod), pod.uid().unwrap_or_default());
        let ready = routing.publish_not_ready || pods::is_ready(pod);
        for port in pod_ports {
            addresses
                .entry(key.clone())
                .or_insert_with(|| EndpointAddress {
                    ip: pod_ip(pod),
                    hostname: hostname(pod, service),
                    node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                    target_ref: Some(target_ref(pod)),
                });
            // Not ready on any account is not ready.
            let was = offered
                .entry(port)
                .or_default()
                .entry(key.clone())
                .or_insert(ready);
            *was = *was && ready;
        }
    }
    // Ports offered by the same addresses share a subset.
    let mut packed: BTreeMap<Offering, Vec<Option<(usize, i32)>>> = BTreeMap::new();
    for (port, by) in offered {
        packed
            .entry(by.into_iter().collect())
            .or_default()
            .push(port);
    }
    let subsets: Vec<EndpointSubset> = packed
        .into_iter()
        .map(|(by, offered_ports)| {
            let (ready, not_ready): (Vec<_>, Vec<_>) = by.into_iter().partition(|(_, r)| *r);
            let addresses_of = |keys: Offering| -> Vec<EndpointAddress> {
                keys.iter()
                    .filter_map(|(k, _)| addresses.get(k).cloned())
                    .collect()
            };
            let ports = offered_ports
                .into_iter()
                .flatten()
                .filter_map(|(i, target)| {
                    let p = routing.ports.get(i)?;
                    Some(EndpointPort {
                        name: p.name.clone(),
                        port: target,
                        protocol: Some(protocol_of(p.protocol.as_ref()).into()),
                        app_protocol: p.app_protocol.clone(),
                    })
                })
                .collect();
            EndpointSubset {
                addresses: non_empty(addresses_of(ready)),
                not_ready_addresses: non_empty(addresses_of(not_ready)),
                ports: non_empty(ports),
            }
        })
        .collect();
    (!subsets.is_empty()).then_some(subsets)
}

pub struct LegacyEndpoints;

impl Reconciler for LegacyEndpoints {
    type Object = Service;
    const NAME: &'static str = "endpoints-controller";

    fn watches(&self, c: Controller<Service>, ctx: &Context) -> Controller<Service> {
        pods_trigger(c, ctx)
    }

    async fn reconcile(&self, service: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
        let (Some(namespace), Some(name)) = (service.namespace(), service.metadata.name.clone())
        else {
            return Ok(Action::await_change());
        };
        let Some(selected) = selected_pods(&ctx, &service) else {
            return Ok(Action::await_change());
        };
        let subsets = subsets_for(&service, &selected);
        let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &namespace);
        match api.get_opt(&name).await? {
            Some(current) if current.subsets == subsets => {}
            Some(mut current) => {
                current.subsets = subsets;
                api.replace(&name, &PostParams::default(), &current).await?;
            }
            None => {
                let endpoints = Endpoints {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        labels: service.metadata.labels.clone(),
                        ..ObjectMeta::default()
                    },
                    subsets,
                };
                match api.create(&PostParams::default(), &endpoints).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(Action::await_change())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::{json, Value};

    fn service(spec: Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn ports(ports: Value) -> Vec<ServicePort> {
        serde_json::from_value(ports).unwrap()
    }

    /// A ClusterIP Service selecting the test pods, with `ports`.
    fn exposing(ports: Vec<ServicePort>) -> Service {
        let mut service = service(json!({"clusterIP": "10.96.0.10", "selector": {"app": "web"}}));
        service.spec.as_mut().unwrap().ports = Some(ports);
        service
    }

    fn pod_json(name: &str, ip: &str, ready: bool) -> Value {
        json!({
            "metadata": {
                "name": name, "namespace": "default", "uid": format!("uid-{name}"),
                "labels": {"app": "web"},
            },
            "spec": {"nodeName": "n1", "containers": [
                {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]},
            ]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }},
            ]},
        })
    }

    fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        serde_json::from_value(pod_json(name, ip, ready)).unwrap()
    }

    fn terminating(mut pod: Pod) -> Pod {
        pod.metadata.deletion_timestamp = Some(Time("2024-05-01T10:00:00Z".parse().unwrap()));
        pod
    }

    fn http() -> Vec<ServicePort> {
        ports(json!([{"name": "web", "port": 80, "targetPort": "http"}]))
    }

    fn conditions(slices: &[EndpointSlice]) -> Vec<(bool, bool, bool)> {
        slices
            .iter()
            .flat_map(|s| &s.endpoints)
            .map(|e| {
                let c = e.conditions.clone().unwrap();
                (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
            })
            .collect()
    }

    fn ips(addresses: Option<&Vec<EndpointAddress>>) -> Vec<String> {
        addresses
            .into_iter()
            .flatten()
            .map(|a| a.ip.clone())
            .collect()
    }

    #[test]
    fn a_service_without_a_selector_manages_no_endpoints() {
        let pods = [pod("a", "10.0.0.1", true)];
        let selectorless = service(json!({"ports": [{"port": 80}]}));
        assert_eq!(routable_pods(&selectorless, &pods), None);
        let empty = service(json!({"selector": {}, "ports": [{"port": 80}]}));
        assert_eq!(routable_pods(&empty, &pods), None);
    }

    #[test]
    fn only_selected_pods_of_the_namespace_with_an_ip_that_are_not_finished_are_routed() {
        let mut other_namespace = pod_json("other-namespace", "10.0.0.2", true);
        other_namespace["metadata"]["namespace"] = json!("kube-system");
        let mut other_labels = pod_json("other-labels", "10.0.0.3", true);
        other_labels["metadata"]["labels"] = json!({"app": "db"});
        let mut no_ip = pod_json("no-ip", "", false);
        no_ip["status"]["phase"] = json!("Pending");
        let mut succeeded = pod_json("succeeded", "10.0.0.4", false);
        succeeded["status"]["phase"] = json!("Succeeded");
        let mut failed = pod_json("failed", "10.0.0.5", false);
        failed["status"]["phase"] = json!("Failed");
        let mut pending = pod_json("pending", "10.0.0.6", false);
        pending["status"]["phase"] = json!("Pending");
        let pods: Vec<Pod> = [
            pod_json("selected", "10.0.0.1", true),
            other_namespace,
            other_labels,
            no_ip,
            succeeded,
            failed,
            pending,
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        let routed = routable_pods(&service(json!({"selector": {"app": "web"}})), &pods).unwrap();
        let names: Vec<String> = routed.iter().map(ResourceExt::name_any).collect();
        assert_eq!(names, ["selected", "pending"]);
    }

    #[test]
    fn a_headless_service_with_a_selector_routes_to_its_pods_without_ports() {
        let headless = service(json!({"clusterIP": "None", "selector": {"app": "web"}}));
        let pods = [pod("a", "10.0.0.1", true)];
        let routed = routable_pods(&headless, &pods).unwrap();
        let subsets = subsets_for(&headless, &routed).unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1"]);
        assert_eq!(subsets[0].ports, None);
        let slices = slices_for(&headless, &routed);
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0].endpoints[0].addresses, ["10.0.0.1"]);
    }

    #[test]
    fn ready_pods_are_addresses_and_unready_pods_not_ready_addresses() {
        let pods = [
            pod("a", "10.0.0.1", true),
            pod("b", "10.0.0.2", false),
            pod("c", "10.0.0.3", true),
        ];
        let subsets = subsets_for(&exposing(http()), &pods).unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1", "10.0.0.3"]);
        assert_eq!(ips(subsets[0].not_ready_addresses.as_ref()), ["10.0.0.2"]);
    }

    #[test]
    fn legacy_addresses_name_the_pod_and_its_node() {
        let subsets = subsets_for(&exposing(http()), &[pod("a", "10.0.0.1", true)]).unwrap();
        let address = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(address.node_name.as_deref(), Some("n1"));
        let target = address.target_ref.as_ref().unwrap();
        assert_eq!(target.kind.as_deref(), Some("Pod"));
        assert_eq!(target.namespace.as_deref(), Some("default"));
        assert_eq!(target.name.as_deref(), Some("a"));
        assert_eq!(target.uid.as_deref(), Some("uid-a"));
    }

    #[test]
    fn a_service_with_no_routable_pods_has_no_subsets() {
        assert_eq!(subsets_for(&exposing(http()), &[]), None);
    }

    #[test]
    fn a_ready_pod_is_a_ready_serving_endpoint() {
        let slices = slices_for(&exposing(http()), &[pod("a", "10.0.0.1", true)]);
        assert_eq!(conditions(&slices), [(true, true, false)]);
    }

    #[test]
    fn an_unready_pod_is_an_endpoint_neither_ready_nor_serving() {
        let slices = slices_for(&exposing(http()), &[pod("a", "10.0.0.1", false)]);
        assert_eq!(conditions(&slices), [(false, false, false)]);
    }

    #[test]
    fn a_ready_terminating_pod_is_serving_but_not_ready() {
        let slices = slices_for(
            &exposing(http()),
            &[terminating(pod("a", "10.0.0.1", true))],
        );
        assert_eq!(conditions(&slices), [(false, true, true)]);
    }

    #[test]
    fn an_unready_terminating_pod_is_only_terminating() {
        let slices = slices_for(
            &exposing(http()),
            &[terminating(pod("a", "10.0.0.1", false))],
        );
        assert_eq!(conditions(&slices), [(false, false, true)]);
    }

    #[test]
    fn slice_endpoints_name_the_pod_and_its_node() {
        let slices = slices_for(&exposing(http()), &[pod("a", "10.0.0.1", true)]);
        let endpoint = &slices[0].endpoints[0];
        assert_eq!(endpoint.addresses, ["10.0.0.1"]);
        assert_eq!(endpoint.node_name.as_deref(), Some("n1"));
        let target = endpoint.target_ref.as_ref().unwrap();
        assert_eq!(target.name.as_deref(), Some("a"));
        assert_eq!(target.uid.as_deref(), Some("uid-a"));
    }

    #[test]
    fn a_named_target_port_resolves_to_the_container_port_of_that_name() {
        let service = exposing(ports(
            json!([{"name": "web", "port": 80, "targetPort": "http"}]),
        ));
        let slices = slices_for(&service, &[pod("a", "10.0.0.1", true)]);
        let port = &slices[0].ports.as_ref().unwrap()[0];
        assert_eq!(port.port, Some(8080));
        assert_eq!(port.name.as_deref(), Some("web"));
    }

    #[test]
    fn a_numeric_target_port_is_used_as_is_and_a_missing_one_is_the_service_port() {
        let service = exposing(ports(json!([
            {"name": "web", "port": 80, "targetPort": 9000},
            {"name": "plain", "port": 81},
        ])));
        let slices = slices_for(&service, &[pod("a", "10.0.0.1", true)]);
        let numbers: Vec<Option<i32>> = slices[0].ports.iter().flatten().map(|p| p.port).collect();
        assert_eq!(numbers, [Some(9000), Some(81)]);
    }

    #[test]
    fn ports_keep_the_service_ports_name_and_protocol_defaulting_to_tcp() {
        let service = exposing(ports(json!([
            {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
            {"port": 80, "targetPort": 8080, "appProtocol": "http"},
        ])));
        let pods = [pod("a", "10.0.0.1", true)];
        let slice_ports = slices_for(&service, &pods)[0].ports.clone().unwrap();
        let described: Vec<(Option<String>, Option<String>, Option<String>)> = slice_ports
            .into_iter()
            .map(|p| (p.name, p.protocol, p.app_protocol))
            .collect();
        assert_eq!(
            described,
            [
                (Some("dns".into()), Some("UDP".into()), None),
                (Some(String::new()), Some("TCP".into()), Some("http".into())),
            ]
        );
        let subset_ports = subsets_for(&service, &pods).unwrap()[0]
            .ports
            .clone()
            .unwrap();
        let described: Vec<(Option<String>, Option<String>)> = subset_ports
            .into_iter()
            .map(|p| (p.name, p.protocol))
            .collect();
        assert_eq!(
            described,
            [
                (Some("dns".into()), Some("UDP".into())),
                (None, Some("TCP".into())),
            ]
        );
    }

    #[test]
    fn pods_whose_named_target_port_resolves_differently_get_separate_slices() {
        let mut other = pod_json("b", "10.0.0.2", true);
        other["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(9090);
        let pods = [
            pod("a", "10.0.0.1", true),
            serde_json::from_value(other).unwrap(),
            pod("c", "10.0.0.3", true),
        ];
        let slices = slices_for(&exposing(http()), &pods);
        let layout: Vec<(Option<i32>, Vec<String>)> = slices
            .iter()
            .map(|s| {
                (
                    s.ports.as_ref().unwrap()[0].port,
                    s.endpoints.iter().map(|e| e.addresses[0].clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            layout,
            [
                (Some(8080), vec!["10.0.0.1".to_string(), "10.0.0.3".into()]),
                (Some(9090), vec!["10.0.0.2".to_string()]),
            ]
        );
        let subsets = subsets_for(&exposing(http()), &pods).unwrap();
        assert_eq!(subsets.len(), 2);
        assert_eq!(subsets[1].ports.as_ref().unwrap()[0].port, 9090);
        assert_eq!(ips(subsets[1].addresses.as_ref()), ["10.0.0.2"]);
    }

    #[test]
    fn more_than_100_endpoints_split_into_slices_of_at_most_100() {
        let pods: Vec<Pod> = (0..250)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.0.{}.{}", i / 256, i % 256),
                    true,
                )
            })
            .collect();
        let slices = slices_for(&exposing(http()), &pods);
        let sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let mut addresses: Vec<String> = slices
            .iter()
            .flat_map(|s| &s.endpoints)
            .map(|e| e.addresses[0].clone())
            .collect();
        addresses.sort();
        addresses.dedup();
        assert_eq!(addresses.len(), 250);
        assert!(slices.iter().all(|s| s.ports == slices[0].ports));
    }

    #[test]
    fn a_service_with_no_routable_pods_keeps_one_empty_slice() {
        let slices = slices_for(&exposing(http()), &[]);
        assert_eq!(slices.len(), 1);
        assert!(slices[0].endpoints.is_empty());
        assert_eq!(slices[0].ports, None);
        assert_eq!(slices[0].address_type, "IPv4");
    }

    fn pod_without_http(name: &str, ip: &str) -> Pod {
        let mut pod = pod_json(name, ip, true);
        pod["spec"]["containers"][0]["ports"][0]["name"] = json!("metrics");
        serde_json::from_value(pod).unwrap()
    }

    /// Each slice's or subset's ports (name and number) and addresses.
    type Layout = Vec<(Vec<(String, i32)>, Vec<String>)>;

    fn two_ports() -> Service {
        exposing(ports(json!([
            {"name": "a", "port": 80, "targetPort": "http"},
            {"name": "b", "port": 81, "targetPort": 9090},
        ])))
    }

    #[test]
    fn a_pod_lacking_a_named_port_still_offers_the_services_other_ports_as_they_are() {
        let pods = [
            pod("a", "10.0.0.1", true),
            pod_without_http("b", "10.0.0.2"),
        ];
        let slices = slices_for(&two_ports(), &pods);
        let layout: Layout = slices
            .iter()
            .map(|s| {
                (
                    s.ports
                        .iter()
                        .flatten()
                        .map(|p| (p.name.clone().unwrap(), p.port.unwrap()))
                        .collect(),
                    s.endpoints.iter().map(|e| e.addresses[0].clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            layout,
            [
                (
                    vec![("a".to_string(), 8080), ("b".to_string(), 9090)],
                    vec!["10.0.0.1".to_string()]
                ),
                (vec![("b".to_string(), 9090)], vec!["10.0.0.2".to_string()]),
            ]
        );
        // Upstream's packing: each port with the addresses that offer it.
        let subsets = subsets_for(&two_ports(), &pods).unwrap();
        let layout: Layout = subsets
            .iter()
            .map(|s| {
                (
                    s.ports
                        .iter()
                        .flatten()
                        .map(|p| (p.name.clone().unwrap(), p.port))
                        .collect(),
                    ips(s.addresses.as_ref()),
                )
            })
            .collect();
        assert_eq!(
            layout,
            [
                (vec![("a".to_string(), 8080)], vec!["10.0.0.1".to_string()]),
                (
                    vec![("b".to_string(), 9090)],
                    vec!["10.0.0.1".to_string(), "10.0.0.2".into()]
                ),
            ]
        );
    }

    #[test]
    fn a_pod_offering_none_of_the_services_ports_is_an_endpoint_without_ports() {
        let pods = [pod_without_http("a", "10.0.0.1")];
        let slices = slices_for(&exposing(http()), &pods);
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0].ports, None);
        assert_eq!(slices[0].endpoints[0].addresses, ["10.0.0.1"]);
        // The legacy Endpoints have no port to list it under.
        assert_eq!(subsets_for(&exposing(http()), &pods), None);
    }

    #[test]
    fn a_named_target_port_matches_the_services_protocol_and_sidecar_ports() {
        let mut with_sidecar = pod_json("a", "10.0.0.1", true);
        with_sidecar["spec"]["containers"][0]["ports"] = json!([
            {"name": "dns", "containerPort": 5353, "protocol": "UDP"},
        ]);
        with_sidecar["spec"]["initContainers"] = json!([
            {"name": "once", "ports": [{"name": "dns", "containerPort": 1111}]},
            {"name": "proxy", "restartPolicy": "Always",
             "ports": [{"name": "dns", "containerPort": 5300, "protocol": "TCP"}]},
        ]);
        let pods = [serde_json::from_value(with_sidecar).unwrap()];
        let service = exposing(ports(json!([
            {"name": "tcp", "port": 53, "targetPort": "dns"},
            {"name": "udp", "port": 53, "targetPort": "dns", "protocol": "UDP"},
        ])));
        let numbers: Vec<Option<i32>> = slices_for(&service, &pods)[0]
            .ports
            .iter()
            .flatten()
            .map(|p| p.port)
            .collect();
        assert_eq!(numbers, [Some(5300), Some(5353)]);
    }

    fn publishing_not_ready() -> Service {
        let mut service = exposing(http());
        service.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        service
    }

    #[test]
    fn terminating_pods_are_left_out_of_the_legacy_endpoints() {
        let pods = [
            pod("a", "10.0.0.1", true),
            terminating(pod("b", "10.0.0.2", true)),
            terminating(pod("c", "10.0.0.3", false)),
        ];
        let subsets = subsets_for(&exposing(http()), &pods).unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1"]);
        assert_eq!(subsets[0].not_ready_addresses, None);
        let only_terminating = &pods[1..];
        assert_eq!(subsets_for(&exposing(http()), only_terminating), None);
    }

    #[test]
    fn publishing_not_ready_addresses_makes_every_routed_pod_a_ready_address() {
        let pods = [
            pod("a", "10.0.0.1", true),
            pod("b", "10.0.0.2", false),
            terminating(pod("c", "10.0.0.3", true)),
            terminating(pod("d", "10.0.0.4", false)),
        ];
        let subsets = subsets_for(&publishing_not_ready(), &pods).unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(
            ips(subsets[0].addresses.as_ref()),
            ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
        );
        assert_eq!(subsets[0].not_ready_addresses, None);
    }

    #[test]
    fn publishing_not_ready_addresses_makes_every_slice_endpoint_ready_but_not_serving() {
        let pods = [
            pod("a", "10.0.0.1", true),
            pod("b", "10.0.0.2", false),
            terminating(pod("c", "10.0.0.3", true)),
            terminating(pod("d", "10.0.0.4", false)),
        ];
        let slices = slices_for(&publishing_not_ready(), &pods);
        assert_eq!(
            conditions(&slices),
            [
                (true, true, false),
                (true, false, false),
                (true, true, true),
                (true, false, true),
            ]
        );
    }

    #[test]
    fn an_ordinary_service_without_ports_publishes_no_legacy_addresses_but_portless_slices() {
        let portless = service(json!({"clusterIP": "10.96.0.10", "selector": {"app": "web"}}));
        let pods = [pod("a", "10.0.0.1", true)];
        assert_eq!(subsets_for(&portless, &pods), None);
        let slices = slices_for(&portless, &pods);
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0].ports, None);
        assert_eq!(slices[0].endpoints[0].addresses, ["10.0.0.1"]);
    }

    #[test]
    fn a_headless_service_without_ports_lists_unready_pods_as_not_ready_addresses() {
        let headless = service(json!({"clusterIP": "None", "selector": {"app": "web"}}));
        let pods = [pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", false)];
        let subsets = subsets_for(&headless, &pods).unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1"]);
        assert_eq!(ips(subsets[0].not_ready_addresses.as_ref()), ["10.0.0.2"]);
        assert_eq!(subsets[0].ports, None);
    }

    #[test]
    fn an_external_name_service_manages_no_endpoints() {
        let external = service(json!({
            "type": "ExternalName", "externalName": "example.com", "selector": {"app": "web"},
        }));
        assert_eq!(
            routable_pods(&external, &[pod("a", "10.0.0.1", true)]),
            None
        );
    }

    #[test]
    fn a_pod_whose_subdomain_names_the_service_publishes_its_hostname() {
        let mut named = pod_json("a", "10.0.0.1", true);
        named["spec"]["hostname"] = json!("a-0");
        named["spec"]["subdomain"] = json!("web");
        let mut elsewhere = pod_json("b", "10.0.0.2", true);
        elsewhere["spec"]["hostname"] = json!("b-0");
        elsewhere["spec"]["subdomain"] = json!("other");
        let pods: Vec<Pod> = [named, elsewhere]
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect();
        let hostnames: Vec<Option<String>> = slices_for(&exposing(http()), &pods)[0]
            .endpoints
            .iter()
            .map(|e| e.hostname.clone())
            .collect();
        assert_eq!(hostnames, [Some("a-0".to_string()), None]);
        let subsets = subsets_for(&exposing(http()), &pods).unwrap();
        let hostnames: Vec<Option<String>> = subsets[0]
            .addresses
            .iter()
            .flatten()
            .map(|a| a.hostname.clone())
            .collect();
        assert_eq!(hostnames, [Some("a-0".to_string()), None]);
    }
}
