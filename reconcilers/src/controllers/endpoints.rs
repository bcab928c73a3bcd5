//! `endpointslice-controller` and `endpoints-controller`: a Service with a selector gets the
//! addresses of the pods it selects, as EndpointSlices (at most 100 endpoints each, with
//! upstream's labels, the ready/serving/terminating conditions, the pod as target and its
//! node) and as the legacy Endpoints object (ready and not-ready addresses). Ports are the
//! Service's, with named target ports resolved against each pod's containers.

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
/// finished. `None` when the Service has no selector (its endpoints are not ours).
fn routable_pods<'a>(
    service: &Service,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> Option<Vec<Pod>> {
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

/// A Service port's target on a pod: its number, or the container port of that name.
fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
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

/// The EndpointSlices a Service with `ports` wants for `selected` pods (without metadata):
/// pods whose target ports resolve alike share slices of at most [`MAX_PER_SLICE`]
/// endpoints; no pods still make one empty slice.
fn slices_for(ports: &[ServicePort], selected: &[Pod]) -> Vec<EndpointSlice> {
    // Pods whose target ports resolve alike share a slice.
    let mut groups: BTreeMap<Vec<i32>, Vec<&Pod>> = BTreeMap::new();
    for pod in selected {
        let resolved: Vec<i32> = ports.iter().filter_map(|p| target_port(p, pod)).collect();
        groups.entry(resolved).or_default().push(pod);
    }
    let mut wanted: Vec<EndpointSlice> = Vec::new();
    for (resolved, group) in &groups {
        let slice_ports: Vec<SlicePort> = ports
            .iter()
            .zip(resolved)
            .map(|(p, target)| SlicePort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(*target),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        for chunk in group.chunks(MAX_PER_SLICE) {
            let endpoints = chunk
                .iter()
                .map(|pod| {
                    let terminating = pod.metadata.deletion_timestamp.is_some();
                    let ready = pods::is_ready(pod);
                    Endpoint {
                        addresses: vec![pod_ip(pod)],
                        conditions: Some(EndpointConditions {
                            ready: Some(ready && !terminating),
                            serving: Some(ready),
                            terminating: Some(terminating),
                        }),
                        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                        target_ref: Some(target_ref(pod)),
                        ..Endpoint::default()
                    }
                })
                .collect();
            wanted.push(EndpointSlice {
                address_type: "IPv4".into(),
                endpoints,
                ports: Some(slice_ports.clone()),
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
        let ports = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default();
        let owner = service
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no identity")))?;
        let wanted = slices_for(&ports, &selected);
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

/// The legacy Endpoints' subsets for `selected` pods: one per way the target ports resolve,
/// ready pods as addresses and the others (not ready or terminating) as not-ready addresses;
/// `None` when no pod is selected.
fn subsets_for(ports: &[ServicePort], selected: &[Pod]) -> Option<Vec<EndpointSubset>> {
    let mut subsets: BTreeMap<Vec<i32>, EndpointSubset> = BTreeMap::new();
    for pod in selected {
        let resolved: Vec<i32> = ports.iter().filter_map(|p| target_port(p, pod)).collect();
        let subset = subsets
            .entry(resolved.clone())
            .or_insert_with(|| EndpointSubset {
                ports: Some(
                    ports
                        .iter()
                        .zip(&resolved)
                        .map(|(p, target)| EndpointPort {
                            name: p.name.clone(),
                            port: *target,
                            protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                            app_protocol: p.app_protocol.clone(),
                        })
                        .collect(),
                ),
                ..EndpointSubset::default()
            });
        let address = EndpointAddress {
            ip: pod_ip(pod),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(target_ref(pod)),
            ..EndpointAddress::default()
        };
        if pods::is_ready(pod) && pod.metadata.deletion_timestamp.is_none() {
            subset.addresses.get_or_insert_with(Vec::new).push(address);
        } else {
            subset
                .not_ready_addresses
                .get_or_insert_with(Vec::new)
                .push(address);
        }
    }
    let subsets: Vec<EndpointSubset> = subsets.into_values().collect();
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
        let ports = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default();
        let subsets = subsets_for(&ports, &selected);
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
        let subsets = subsets_for(&[], &routed).unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1"]);
        assert_eq!(subsets[0].ports.as_deref(), Some(&[][..]));
        let slices = slices_for(&[], &routed);
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
        let subsets = subsets_for(&http(), &pods).unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(subsets[0].addresses.as_ref()), ["10.0.0.1", "10.0.0.3"]);
        assert_eq!(ips(subsets[0].not_ready_addresses.as_ref()), ["10.0.0.2"]);
    }

    #[test]
    fn legacy_addresses_name_the_pod_and_its_node() {
        let subsets = subsets_for(&http(), &[pod("a", "10.0.0.1", true)]).unwrap();
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
        assert_eq!(subsets_for(&http(), &[]), None);
    }

    #[test]
    fn a_ready_pod_is_a_ready_serving_endpoint() {
        let slices = slices_for(&http(), &[pod("a", "10.0.0.1", true)]);
        assert_eq!(conditions(&slices), [(true, true, false)]);
    }

    #[test]
    fn an_unready_pod_is_an_endpoint_neither_ready_nor_serving() {
        let slices = slices_for(&http(), &[pod("a", "10.0.0.1", false)]);
        assert_eq!(conditions(&slices), [(false, false, false)]);
    }

    #[test]
    fn a_ready_terminating_pod_is_serving_but_not_ready() {
        let slices = slices_for(&http(), &[terminating(pod("a", "10.0.0.1", true))]);
        assert_eq!(conditions(&slices), [(false, true, true)]);
    }

    #[test]
    fn an_unready_terminating_pod_is_only_terminating() {
        let slices = slices_for(&http(), &[terminating(pod("a", "10.0.0.1", false))]);
        assert_eq!(conditions(&slices), [(false, false, true)]);
    }

    #[test]
    fn slice_endpoints_name_the_pod_and_its_node() {
        let slices = slices_for(&http(), &[pod("a", "10.0.0.1", true)]);
        let endpoint = &slices[0].endpoints[0];
        assert_eq!(endpoint.addresses, ["10.0.0.1"]);
        assert_eq!(endpoint.node_name.as_deref(), Some("n1"));
        let target = endpoint.target_ref.as_ref().unwrap();
        assert_eq!(target.name.as_deref(), Some("a"));
        assert_eq!(target.uid.as_deref(), Some("uid-a"));
    }

    #[test]
    fn a_named_target_port_resolves_to_the_container_port_of_that_name() {
        let ports = ports(json!([{"name": "web", "port": 80, "targetPort": "http"}]));
        let slices = slices_for(&ports, &[pod("a", "10.0.0.1", true)]);
        let port = &slices[0].ports.as_ref().unwrap()[0];
        assert_eq!(port.port, Some(8080));
        assert_eq!(port.name.as_deref(), Some("web"));
    }

    #[test]
    fn a_numeric_target_port_is_used_as_is_and_a_missing_one_is_the_service_port() {
        let ports = ports(json!([
            {"name": "web", "port": 80, "targetPort": 9000},
            {"name": "plain", "port": 81},
        ]));
        let slices = slices_for(&ports, &[pod("a", "10.0.0.1", true)]);
        let numbers: Vec<Option<i32>> = slices[0].ports.iter().flatten().map(|p| p.port).collect();
        assert_eq!(numbers, [Some(9000), Some(81)]);
    }

    #[test]
    fn ports_keep_the_service_ports_name_and_protocol_defaulting_to_tcp() {
        let ports = ports(json!([
            {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
            {"port": 80, "targetPort": 8080, "appProtocol": "http"},
        ]));
        let pods = [pod("a", "10.0.0.1", true)];
        let slice_ports = slices_for(&ports, &pods)[0].ports.clone().unwrap();
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
        let subset_ports = subsets_for(&ports, &pods).unwrap()[0]
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
        let slices = slices_for(&http(), &pods);
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
        let subsets = subsets_for(&http(), &pods).unwrap();
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
        let slices = slices_for(&http(), &pods);
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
        let slices = slices_for(&http(), &[]);
        assert_eq!(slices.len(), 1);
        assert!(slices[0].endpoints.is_empty());
        assert_eq!(slices[0].ports, None);
        assert_eq!(slices[0].address_type, "IPv4");
    }
}
