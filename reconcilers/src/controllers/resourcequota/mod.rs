//! `resourcequota-controller`: every ResourceQuota's `status.hard` mirrors its
//! `spec.hard`, and `status.used` says what the namespace uses of each named resource:
//! pods and their compute requests and limits (within the quota's scopes), claims and
//! their storage, Services (with their node ports and load balancers) and any
//! `count/<resource>.<group>`. Changes of pods, Services and claims recount the quotas of
//! their namespace; everything is recounted every five minutes, as upstream resyncs.
//! Enforcement at admission comes with the admission chain.

pub mod usage;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::{Context, Error, Informed, Reconciler};

/// How often every quota is recounted even when nothing it watches changed.
const RESYNC: Duration = Duration::from_secs(300);

pub struct ResourceQuotas;

/// The quotas of the namespace of a changed object.
fn quotas_of<K: Informed>(
    ctx: &Context,
) -> impl Fn(Arc<K>) -> Vec<ObjectRef<ResourceQuota>> + Send + 'static {
    let quotas = ctx.informers.get::<ResourceQuota>().store();
    move |obj| {
        let namespace = obj.namespace().unwrap_or_default();
        quotas
            .state()
            .iter()
            .filter(|q| q.namespace().as_deref() == Some(namespace.as_str()))
            .map(|q| ObjectRef::from_obj(q.as_ref()))
            .collect()
    }
}

impl Reconciler for ResourceQuotas {
    type Object = ResourceQuota;
    const NAME: &'static str = "resourcequota-controller";

    fn watches(&self, c: Controller<ResourceQuota>, ctx: &Context) -> Controller<ResourceQuota> {
        c.watches_shared_stream(
            ctx.informers.get::<Pod>().subscribe(),
            quotas_of::<Pod>(ctx),
        )
        .watches_shared_stream(
            ctx.informers.get::<Service>().subscribe(),
            quotas_of::<Service>(ctx),
        )
        .watches_shared_stream(
            ctx.informers.get::<PersistentVolumeClaim>().subscribe(),
            quotas_of::<PersistentVolumeClaim>(ctx),
        )
    }

    async fn reconcile(
        &self,
        quota: Arc<ResourceQuota>,
        ctx: Arc<Context>,
    ) -> Result<Action, Error> {
        let (Some(name), Some(namespace)) = (quota.metadata.name.as_deref(), quota.namespace())
        else {
            return Ok(Action::await_change());
        };
        if quota.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let spec = quota.spec.clone().unwrap_or_default();
        let hard = spec.hard.clone().unwrap_or_default();
        let mut used: BTreeMap<String, Quantity> = BTreeMap::new();
        let now = jiff::Timestamp::now();
        let in_namespace = |ns: Option<String>| ns.as_deref() == Some(namespace.as_str());
        let pods: Vec<Arc<Pod>> = ctx
            .informers
            .get::<Pod>()
            .store()
            .state()
            .into_iter()
            .filter(|p| in_namespace(p.namespace()))
            .filter(|p| usage::charged(p, now) && usage::in_scope(&spec, p))
            .collect();
        let claims: Vec<Arc<PersistentVolumeClaim>> = ctx
            .informers
            .get::<PersistentVolumeClaim>()
            .store()
            .state()
            .into_iter()
            .filter(|c| in_namespace(c.namespace()))
            .collect();
        let services: Vec<Arc<Service>> = ctx
            .informers
            .get::<Service>()
            .store()
            .state()
            .into_iter()
            .filter(|s| in_namespace(s.namespace()))
            .collect();
        for resource in hard.keys() {
            let amount = match usage_of(resource, &pods, &claims, &services) {
                Some(amount) => amount,
                None => match count_of(&ctx, resource, &namespace).await? {
                    Some(count) => count,
                    // A name Keelson cannot count (an unknown resource): left out.
                    None => continue,
                },
            };
            used.insert(resource.clone(), usage::quantity(resource, amount));
        }
        let status = quota.status.clone().unwrap_or_default();
        if status.hard.as_ref() != Some(&hard) || status.used.as_ref() != Some(&used) {
            let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &namespace);
            let patch = json!({"status": {"hard": hard, "used": used}});
            match api
                .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(e) if super::not_found(&e) => return Ok(Action::await_change()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Action::requeue(RESYNC))
    }
}

/// What the pods, claims and Services use of `resource`; `None` if it is none of theirs.
fn usage_of(
    resource: &str,
    pods: &[Arc<Pod>],
    claims: &[Arc<PersistentVolumeClaim>],
    services: &[Arc<Service>],
) -> Option<i64> {
    let sum = |values: &mut dyn Iterator<Item = Option<i64>>| -> Option<i64> {
        let mut total: Option<i64> = None;
        for value in values {
            total = Some(total.unwrap_or(0).saturating_add(value?));
        }
        Some(total.unwrap_or(0))
    };
    if pods.is_empty() {
        // No pod to ask: whether the name is a pod's is decided on a template pod.
        if usage::pod_usage(
            &Pod {
                spec: Some(Default::default()),
                ..Pod::default()
            },
            resource,
        )
        .is_some()
        {
            return Some(0);
        }
    } else if let Some(total) = sum(&mut pods.iter().map(|p| usage::pod_usage(p, resource))) {
        return Some(total);
    }
    if let Some(total) = claim_total(resource, claims) {
        return Some(total);
    }
    let service_type = |s: &Service| {
        s.spec
            .as_ref()
            .and_then(|s| s.type_.clone())
            .unwrap_or_default()
    };
    let count = |items: usize| i64::try_from(items).unwrap_or(i64::MAX);
    match resource {
        "services" | "count/services" => Some(count(services.len())),
        "services.loadbalancers" => Some(count(
            services
                .iter()
                .filter(|s| service_type(s) == "LoadBalancer")
                .count(),
        )),
        "services.nodeports" => Some(count(
            services
                .iter()
                .filter(|s| matches!(service_type(s).as_str(), "NodePort" | "LoadBalancer"))
                .map(|s| {
                    s.spec
                        .as_ref()
                        .and_then(|s| s.ports.as_ref())
                        .map_or(0, |p| p.iter().filter(|p| p.node_port.is_some()).count())
                })
                .sum(),
        )),
        _ => None,
    }
}

fn claim_total(resource: &str, claims: &[Arc<PersistentVolumeClaim>]) -> Option<i64> {
    let template = PersistentVolumeClaim::default();
    usage::claim_usage(&template, resource)?;
    Some(
        claims
            .iter()
            .filter_map(|c| usage::claim_usage(c, resource))
            .fold(0i64, i64::saturating_add),
    )
}

/// The object count of a quota name such as `configmaps`, `secrets`,
/// `replicationcontrollers`, `resourcequotas` or `count/deployments.apps`, listed from the
/// API; `None` for a name that is no served resource.
async fn count_of(ctx: &Context, resource: &str, namespace: &str) -> Result<Option<i64>, Error> {
    let (plural, group) = match resource.strip_prefix("count/") {
        Some(rest) => rest.split_once('.').unwrap_or((rest, "")),
        None => match resource {
            "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => {
                (resource, "")
            }
            _ => return Ok(None),
        },
    };
    let Some(served) = keelson_apis::catalogue::builtin()
        .iter()
        .find(|r| r.group() == group && r.plural() == plural && r.namespaced())
    else {
        return Ok(None);
    };
    let api_resource = ApiResource {
        group: group.to_string(),
        version: served.version().to_string(),
        api_version: served.api_version(),
        kind: served.facts.kind.to_string(),
        plural: plural.to_string(),
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), namespace, &api_resource);
    let list = api.list_metadata(&ListParams::default()).await?;
    Ok(Some(i64::try_from(list.items.len()).unwrap_or(i64::MAX)))
}
