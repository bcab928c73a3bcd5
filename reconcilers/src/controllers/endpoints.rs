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
    let selector = selector_of(service)?;
    let namespace = service.namespace()?;
    Some(
        ctx.informers
            .get::<Pod>()
            .store()
            .state()
            .iter()
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
            .map(|p| (**p).clone())
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
        // Pods whose target ports resolve alike share a slice.
        let mut groups: BTreeMap<Vec<i32>, Vec<&Pod>> = BTreeMap::new();
        for pod in &selected {
            let resolved: Vec<i32> = ports.iter().filter_map(|p| target_port(p, pod)).collect();
            groups.entry(resolved).or_default().push(pod);
        }
        let owner = service
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no identity")))?;
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
        let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &namespace);
        let mut existing: Vec<EndpointSlice> = api
            .list(
                &ListParams::default()
                    .labels(&format!("{SERVICE_NAME}={name},{MANAGED_BY}={MANAGER}")),
            )
            .await?
            .items;
        existing.sort_by_key(|s| s.name_any());
        // A Service with no endpoints still has one (empty) slice, as upstream keeps.
        if wanted.is_empty() {
            wanted.push(EndpointSlice {
                address_type: "IPv4".into(),
                endpoints: Vec::new(),
                ports: None,
                metadata: ObjectMeta::default(),
            });
        }
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
        let mut subsets: BTreeMap<Vec<i32>, EndpointSubset> = BTreeMap::new();
        for pod in &selected {
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
        let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &namespace);
        let subsets = (!subsets.is_empty()).then_some(subsets);
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
