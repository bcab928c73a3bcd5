//! `statefulset-controller`: pods with stable names and storage, as upstream runs them. Pod
//! `<set>-<ordinal>` for each ordinal from `spec.ordinals.start`, with its own claims from
//! the volume claim templates (`<claim>-<set>-<ordinal>`, kept or deleted as the retention
//! policy says), its hostname and the Service's subdomain. `OrderedReady` creates in
//! ascending order, one at a time once the previous is Running and Ready, and removes from
//! the highest ordinal down; `Parallel` does each at once. `RollingUpdate` replaces pods from
//! the highest ordinal down to `partition`, one at a time (or `maxUnavailable`); `OnDelete`
//! waits for pods to be deleted. Templates are kept as ControllerRevisions.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::deployment::rollout::resolve;
use super::history::{self, HASH_LABEL};
use super::{controlled_by, not_found, pods, publish};
use crate::{Context, Error, Reconciler};

const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub struct StatefulSets;

fn ordinal_of(set: &str, pod: &Pod) -> Option<i32> {
    pod.name_any()
        .strip_prefix(&format!("{set}-"))?
        .parse()
        .ok()
}

fn revision_of(pod: &Pod) -> Option<&String> {
    pod.labels().get(HASH_LABEL)
}

/// The template a revision holds.
fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// The revision the set ran before: the status's, while that revision still exists;
/// otherwise the update revision.
fn current_revision(sts: &StatefulSet, revisions: &[ControllerRevision], update: &str) -> String {
    sts.status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .filter(|c| revisions.iter().any(|r| r.name_any() == *c))
        .unwrap_or_else(|| update.to_string())
}

fn running_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") && pods::is_ready(pod)
}

/// What the spec says about which ordinals run and how their pods change.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// The first ordinal (`spec.ordinals.start`).
    start: i32,
    /// One past the last ordinal.
    end: i32,
    /// `RollingUpdate` (anything but `OnDelete`).
    rolling: bool,
    partition: i32,
    /// `Parallel` pod management (otherwise `OrderedReady`).
    parallel: bool,
    /// How many pods a rolling update may have unavailable, at least 1.
    max_unavailable: i32,
}

impl Plan {
    fn of(spec: &StatefulSetSpec) -> Plan {
        let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
        let replicas = spec.replicas.unwrap_or(1).max(0);
        let rolling_update = spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref());
        Plan {
            start,
            end: start.saturating_add(replicas),
            rolling: spec
                .update_strategy
                .as_ref()
                .and_then(|s| s.type_.as_deref())
                != Some("OnDelete"),
            partition: rolling_update.and_then(|r| r.partition).unwrap_or(0),
            parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
            max_unavailable: rolling_update
                .and_then(|r| r.max_unavailable.as_ref())
                .map_or(1, |m| resolve(Some(m), replicas, 0, false).max(1)),
        }
    }

    /// Whether a pod made for `ordinal` keeps the current revision (below the partition of
    /// a rolling update) rather than taking the update revision.
    fn keeps_current(&self, ordinal: i32) -> bool {
        self.rolling && ordinal < self.partition
    }
}

/// A change to the pod of an ordinal in range.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Create the pod (and its claims).
    Create(i32),
    /// Delete the finished pod, to be made again.
    Replace(i32),
}

/// How an `OrderedReady` pass stops early.
#[derive(Debug, PartialEq, Eq)]
enum Halt {
    /// Without writing the status.
    Quietly,
    /// After writing the status.
    WithStatus,
}

/// The pods to create or replace in range, in ascending order, and whether the pass stops
/// there. `OrderedReady` stops at the first ordinal whose pod is not Running and Ready;
/// `Parallel` takes every ordinal and never stops.
fn scale_up(by_ordinal: &BTreeMap<i32, Pod>, plan: &Plan) -> (Vec<Step>, Option<Halt>) {
    let mut steps = Vec::new();
    for ordinal in plan.start..plan.end {
        let (step, halt) = match by_ordinal.get(&ordinal) {
            Some(pod) if pod.metadata.deletion_timestamp.is_some() => (None, Halt::Quietly),
            Some(pod) if !pods::is_active(pod) => (Some(Step::Replace(ordinal)), Halt::Quietly),
            Some(pod) if running_ready(pod) => continue,
            Some(_) => (None, Halt::WithStatus),
            None => (Some(Step::Create(ordinal)), Halt::WithStatus),
        };
        steps.extend(step);
        if !plan.parallel {
            return (steps, Some(halt));
        }
    }
    (steps, None)
}

/// The pods out of range to delete, highest ordinal first, and whether the pass stops
/// there: `OrderedReady` takes only the highest (waiting while it terminates).
fn scale_down(by_ordinal: &BTreeMap<i32, Pod>, plan: &Plan) -> (Vec<i32>, bool) {
    let mut condemned = by_ordinal
        .iter()
        .rev()
        .filter(|(o, _)| **o < plan.start || **o >= plan.end);
    if plan.parallel {
        let all = condemned
            .filter(|(_, p)| p.metadata.deletion_timestamp.is_none())
            .map(|(o, _)| *o)
            .collect();
        return (all, false);
    }
    match condemned.next() {
        Some((o, p)) => (
            p.metadata
                .deletion_timestamp
                .is_none()
                .then_some(*o)
                .into_iter()
                .collect(),
            true,
        ),
        None => (Vec::new(), false),
    }
}

/// The pods a rolling update deletes now to be made again at the update revision: from the
/// highest ordinal down to the partition, as many as `maxUnavailable` leaves room for with
/// the pods already not Running and Ready. None under `OnDelete`.
fn to_update(by_ordinal: &BTreeMap<i32, Pod>, plan: &Plan, update: &str) -> Vec<i32> {
    if !plan.rolling {
        return Vec::new();
    }
    let unavailable = by_ordinal.values().filter(|p| !running_ready(p)).count();
    let budget = usize::try_from(plan.max_unavailable)
        .unwrap_or(1)
        .saturating_sub(unavailable);
    by_ordinal
        .iter()
        .rev()
        .filter(|(o, _)| **o >= plan.partition.max(plan.start) && **o < plan.end)
        .filter(|(_, p)| {
            revision_of(p).map(String::as_str) != Some(update)
                && p.metadata.deletion_timestamp.is_none()
        })
        .map(|(o, _)| *o)
        .take(budget)
        .collect()
}

/// The status of the set's pods at `now`: counts of the active pods in range, and the
/// revisions (the update revision becomes the current one once every pod runs it).
fn status_of(
    sts: &StatefulSet,
    by_ordinal: &BTreeMap<i32, Pod>,
    (start, end): (i32, i32),
    (current, update): (&str, &str),
    now: jiff::Timestamp,
) -> serde_json::Value {
    let in_range: Vec<&Pod> = by_ordinal
        .iter()
        .filter(|(o, _)| **o >= start && **o < end)
        .map(|(_, p)| p)
        .filter(|p| pods::is_active(p))
        .collect();
    let count = |f: &dyn Fn(&Pod) -> bool| {
        i32::try_from(in_range.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX)
    };
    let min_ready = std::time::Duration::from_secs(
        u64::try_from(
            sts.spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0),
        )
        .unwrap_or(0),
    );
    let updated = count(&|p| revision_of(p).map(String::as_str) == Some(update));
    let replicas = count(&|_| true);
    let desired = end - start;
    // Once every pod runs the update revision, it is the current one.
    let current = if updated == desired && replicas == desired {
        update
    } else {
        current
    };
    json!({
        "replicas": replicas,
        "readyReplicas": count(&pods::is_ready),
        "availableReplicas": count(&|p| pods::is_available(p, min_ready, now)),
        "currentReplicas": count(&|p| revision_of(p).map(String::as_str) == Some(current)),
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": update,
        "observedGeneration": sts.metadata.generation.unwrap_or(0),
    })
}

impl Reconciler for StatefulSets {
    type Object = StatefulSet;
    const NAME: &'static str = "statefulset-controller";

    fn watches(&self, c: Controller<StatefulSet>, ctx: &Context) -> Controller<StatefulSet> {
        c.owns_shared_stream(ctx.informers.get::<Pod>().subscribe())
            .owns_shared_stream(ctx.informers.get::<ControllerRevision>().subscribe())
    }

    async fn reconcile(&self, sts: Arc<StatefulSet>, ctx: Arc<Context>) -> Result<Action, Error> {
        let (Some(namespace), Some(name), Some(uid)) = (
            sts.namespace(),
            sts.metadata.name.clone(),
            sts.metadata.uid.clone(),
        ) else {
            return Ok(Action::await_change());
        };
        if sts.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let spec = sts.spec.clone().unwrap_or_default();
        let owner = sts
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no identity")))?;
        let recorder = ctx.recorder(Self::NAME);
        let reference = sts.object_ref(&());

        // Revisions: the one pods are updated to, and the one the set ran before.
        let revisions_api: Api<ControllerRevision> =
            Api::namespaced(ctx.client.clone(), &namespace);
        let revisions: Vec<ControllerRevision> =
            controlled_by::<ControllerRevision>(&ctx, &namespace, &uid)
                .iter()
                .map(|r| (**r).clone())
                .collect();
        let labels = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let template_value = serde_json::to_value(&spec.template).unwrap_or_default();
        let collisions = sts.status.as_ref().and_then(|s| s.collision_count);
        let update = history::current(
            &revisions_api,
            &revisions,
            &name,
            &owner,
            &labels,
            &template_value,
            collisions,
        )
        .await?;
        let update_name = update.name_any();
        let current_name = current_revision(&sts, &revisions, &update_name);
        let current_template = revisions
            .iter()
            .find(|r| r.name_any() == current_name)
            .and_then(template_of)
            .unwrap_or_else(|| spec.template.clone());

        let plan = Plan::of(&spec);
        let (start, end) = (plan.start, plan.end);
        let mut by_ordinal: BTreeMap<i32, Pod> = controlled_by::<Pod>(&ctx, &namespace, &uid)
            .iter()
            .filter_map(|p| ordinal_of(&name, p).map(|o| (o, (**p).clone())))
            .collect();
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
        let claims_api: Api<PersistentVolumeClaim> =
            Api::namespaced(ctx.client.clone(), &namespace);

        // Create missing pods (and their claims); replace finished ones.
        let (steps, halt) = scale_up(&by_ordinal, &plan);
        for step in steps {
            match step {
                Step::Replace(ordinal) => {
                    if let Some(pod) = by_ordinal.get(&ordinal) {
                        delete_pod(&pods_api, pod, &recorder, &reference).await?;
                    }
                }
                Step::Create(ordinal) => {
                    let (ordinal_template, revision) = if plan.keeps_current(ordinal) {
                        (&current_template, &current_name)
                    } else {
                        (&spec.template, &update_name)
                    };
                    let pod_name = format!("{name}-{ordinal}");
                    for claim in spec.volume_claim_templates.iter().flatten() {
                        ensure_claim(&claims_api, claim, &name, ordinal, &owner, &spec).await?;
                    }
                    let pod = pod_for(
                        ordinal_template,
                        &pod_name,
                        ordinal,
                        revision,
                        &name,
                        &namespace,
                        &spec,
                        owner.clone(),
                    );
                    match pods_api.create(&PostParams::default(), &pod).await {
                        Ok(created) => {
                            publish(
                                &recorder,
                                &reference,
                                EventType::Normal,
                                "SuccessfulCreate",
                                format!("create Pod {pod_name} in StatefulSet {name} successful"),
                            )
                            .await;
                            by_ordinal.insert(ordinal, created);
                        }
                        Err(kube::Error::Api(e)) if e.code == 409 => {}
                        Err(e) => {
                            publish(
                                &recorder,
                                &reference,
                                EventType::Warning,
                                "FailedCreate",
                                format!(
                                    "create Pod {pod_name} in StatefulSet {name} failed error: {e}"
                                ),
                            )
                            .await;
                            return Err(e.into());
                        }
                    }
                }
            }
        }
        let status = || {
            let revisions = (current_name.as_str(), update_name.as_str());
            status_of(
                &sts,
                &by_ordinal,
                (start, end),
                revisions,
                jiff::Timestamp::now(),
            )
        };
        match halt {
            Some(Halt::Quietly) => return Ok(Action::await_change()),
            Some(Halt::WithStatus) => {
                write_status(&ctx, &sts, status()).await?;
                return Ok(Action::await_change());
            }
            None => {}
        }

        // Remove condemned pods, highest ordinal first.
        let (condemned, halt) = scale_down(&by_ordinal, &plan);
        for ordinal in condemned {
            if let Some(pod) = by_ordinal.get(&ordinal) {
                reown_condemned_claims(&claims_api, &name, &owner, &spec, ordinal, pod).await?;
                delete_pod(&pods_api, pod, &recorder, &reference).await?;
            }
        }
        if halt {
            write_status(&ctx, &sts, status()).await?;
            return Ok(Action::await_change());
        }

        // Rolling update from the highest ordinal down to the partition.
        for ordinal in to_update(&by_ordinal, &plan, &update_name) {
            if let Some(pod) = by_ordinal.get(&ordinal) {
                delete_pod(&pods_api, pod, &recorder, &reference).await?;
            }
        }
        write_status(&ctx, &sts, status()).await?;
        let in_use: Vec<String> = by_ordinal
            .values()
            .filter_map(|p| revision_of(p).cloned())
            .chain([update_name, current_name])
            .collect();
        history::truncate(
            &revisions_api,
            &revisions,
            &in_use,
            spec.revision_history_limit.unwrap_or(10),
        )
        .await?;
        Ok(Action::await_change())
    }
}

/// Writes `status` unless the StatefulSet already has it.
async fn write_status(
    ctx: &Context,
    sts: &StatefulSet,
    status: serde_json::Value,
) -> Result<(), Error> {
    let old = serde_json::to_value(&sts.status).unwrap_or_default();
    let changed = status
        .as_object()
        .into_iter()
        .flatten()
        .any(|(k, v)| old.get(k).unwrap_or(&json!(0)) != v);
    if changed {
        let api: Api<StatefulSet> =
            Api::namespaced(ctx.client.clone(), &sts.namespace().unwrap_or_default());
        api.patch_status(
            &sts.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;
    }
    Ok(())
}

async fn delete_pod(
    api: &Api<Pod>,
    pod: &Pod,
    recorder: &kube::runtime::events::Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
) -> Result<(), Error> {
    match api.delete(&pod.name_any(), &DeleteParams::default()).await {
        Ok(_) => {
            publish(
                recorder,
                reference,
                EventType::Normal,
                "SuccessfulDelete",
                format!(
                    "delete Pod {} in StatefulSet {} successful",
                    pod.name_any(),
                    reference.name.clone().unwrap_or_default()
                ),
            )
            .await;
            Ok(())
        }
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Makes a pod's claim from a template when it does not exist, or gives an existing one the
/// owners the retention policy wants for a pod in range (a set scaled up again before a
/// condemned pod's claim was collected keeps the claim).
async fn ensure_claim(
    api: &Api<PersistentVolumeClaim>,
    template: &PersistentVolumeClaim,
    set: &str,
    ordinal: i32,
    owner: &OwnerReference,
    spec: &StatefulSetSpec,
) -> Result<(), Error> {
    let claim = claim_for(template, set, ordinal, owner, spec);
    if let Some(existing) = api.get_opt(&claim.name_any()).await? {
        let wanted = claim.metadata.owner_references.unwrap_or_default();
        return set_claim_owners(api, &existing, owner, &format!("{set}-{ordinal}"), wanted).await;
    }
    match api.create(&PostParams::default(), &claim).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Gives the claims of a pod a scale-down condemns the owners the retention policy wants
/// (the pod itself under `whenScaled: Delete`), before the pod is deleted.
async fn reown_condemned_claims(
    api: &Api<PersistentVolumeClaim>,
    set: &str,
    owner: &OwnerReference,
    spec: &StatefulSetSpec,
    ordinal: i32,
    pod: &Pod,
) -> Result<(), Error> {
    for template in spec.volume_claim_templates.iter().flatten() {
        let Some(claim) = api.get_opt(&claim_name(template, set, ordinal)).await? else {
            continue;
        };
        let wanted = claim_owners(spec, owner, Some(pod));
        set_claim_owners(api, &claim, owner, &pod.name_any(), wanted).await?;
    }
    Ok(())
}

async fn set_claim_owners(
    api: &Api<PersistentVolumeClaim>,
    claim: &PersistentVolumeClaim,
    owner: &OwnerReference,
    pod_name: &str,
    wanted: Vec<OwnerReference>,
) -> Result<(), Error> {
    let Some(owners) = reowned(claim, owner, pod_name, wanted) else {
        return Ok(());
    };
    let patch = json!({"metadata": {
        "ownerReferences": owners,
        "resourceVersion": claim.metadata.resource_version,
    }});
    match api
        .patch(
            &claim.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The claim of the pod at `ordinal` from a volume claim template: `<claim>-<set>-<ordinal>`,
/// with the template's and the selector's labels, owned as the retention policy says for a
/// pod in range ([`claim_owners`]).
fn claim_for(
    template: &PersistentVolumeClaim,
    set: &str,
    ordinal: i32,
    owner: &OwnerReference,
    spec: &StatefulSetSpec,
) -> PersistentVolumeClaim {
    let mut labels = template.metadata.labels.clone().unwrap_or_default();
    labels.extend(spec.selector.match_labels.clone().unwrap_or_default());
    let owners = claim_owners(spec, owner, None);
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(template, set, ordinal)),
            labels: Some(labels),
            annotations: template.metadata.annotations.clone(),
            owner_references: (!owners.is_empty()).then_some(owners),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

fn claim_name(template: &PersistentVolumeClaim, set: &str, ordinal: i32) -> String {
    format!("{}-{set}-{ordinal}", template.name_any())
}

/// The owners the retention policy gives a pod's claim (upstream's
/// `updateClaimOwnerRefForSetAndPod`): the set under `whenDeleted: Delete`, so the claim goes
/// with it; but once a scale-down condemns the pod and `whenScaled: Delete`, the pod alone,
/// so the claim goes with the pod.
fn claim_owners(
    spec: &StatefulSetSpec,
    set: &OwnerReference,
    condemned: Option<&Pod>,
) -> Vec<OwnerReference> {
    let policy = spec.persistent_volume_claim_retention_policy.as_ref();
    let deletes = |when: Option<&String>| when.map(String::as_str) == Some("Delete");
    if let Some(pod) = condemned.filter(|_| deletes(policy.and_then(|p| p.when_scaled.as_ref()))) {
        return vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod.name_any(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            ..OwnerReference::default()
        }];
    }
    if deletes(policy.and_then(|p| p.when_deleted.as_ref())) {
        return vec![OwnerReference {
            block_owner_deletion: Some(true),
            controller: Some(true),
            ..set.clone()
        }];
    }
    Vec::new()
}

/// A claim's owner references with the set's and the pod's replaced by `wanted` (owners
/// someone else added are kept); `None` when they already are.
fn reowned(
    claim: &PersistentVolumeClaim,
    set: &OwnerReference,
    pod_name: &str,
    wanted: Vec<OwnerReference>,
) -> Option<Vec<OwnerReference>> {
    let current = claim.metadata.owner_references.clone().unwrap_or_default();
    let ours = |r: &OwnerReference| r.uid == set.uid || (r.kind == "Pod" && r.name == pod_name);
    let mut owners: Vec<OwnerReference> = current.iter().filter(|r| !ours(r)).cloned().collect();
    owners.extend(wanted);
    (owners != current).then_some(owners)
}

#[allow(clippy::too_many_arguments)]
fn pod_for(
    template: &PodTemplateSpec,
    name: &str,
    ordinal: i32,
    revision: &str,
    set: &str,
    namespace: &str,
    spec: &StatefulSetSpec,
    owner: OwnerReference,
) -> Pod {
    let mut pod = pods::from_template(template, "", namespace, owner);
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(name.into());
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.into());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(HASH_LABEL.into(), revision.into());
    if let Some(pod_spec) = pod.spec.as_mut() {
        pod_spec.hostname = Some(name.into());
        if !spec.service_name.as_deref().unwrap_or("").is_empty() {
            pod_spec.subdomain = spec.service_name.clone();
        }
        for claim in spec.volume_claim_templates.iter().flatten() {
            let volume_name = claim.name_any();
            let volumes = pod_spec.volumes.get_or_insert_with(Vec::new);
            volumes.retain(|v| v.name != volume_name);
            volumes.push(Volume {
                name: volume_name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: format!("{volume_name}-{set}-{ordinal}"),
                    read_only: None,
                }),
                ..Volume::default()
            });
        }
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2025-01-01T00:00:00Z";

    /// A spec of set `web` with `fields` over a minimal one.
    fn spec(fields: serde_json::Value) -> StatefulSetSpec {
        let mut spec = json!({
            "selector": {"matchLabels": {"app": "web"}},
            "serviceName": "web",
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        });
        if let (Some(spec), Some(fields)) = (spec.as_object_mut(), fields.as_object()) {
            spec.extend(fields.clone());
        }
        serde_json::from_value(spec).unwrap()
    }

    /// Pod `web-<ordinal>` at `revision`, in `phase`, Ready since `T0` or not.
    fn pod(ordinal: i32, revision: &str, phase: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("web-{ordinal}"), "labels": {HASH_LABEL: revision}},
            "status": {"phase": phase, "conditions": [{
                "type": "Ready",
                "status": if ready { "True" } else { "False" },
                "lastTransitionTime": T0,
            }]},
        }))
        .unwrap()
    }

    fn ready(ordinal: i32, revision: &str) -> Pod {
        pod(ordinal, revision, "Running", true)
    }

    fn terminating(mut pod: Pod) -> Pod {
        pod.metadata.deletion_timestamp = serde_json::from_value(json!(T0)).unwrap();
        pod
    }

    fn by_ordinal(pods: Vec<Pod>) -> BTreeMap<i32, Pod> {
        pods.into_iter()
            .map(|p| (ordinal_of("web", &p).unwrap(), p))
            .collect()
    }

    fn owner() -> OwnerReference {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1",
        }))
        .unwrap()
    }

    fn claim_template() -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "data", "labels": {"tier": "db"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }))
        .unwrap()
    }

    fn at(seconds_after_t0: i64) -> jiff::Timestamp {
        let t0: jiff::Timestamp = T0.parse().unwrap();
        t0.checked_add(jiff::SignedDuration::from_secs(seconds_after_t0))
            .unwrap()
    }

    #[test]
    fn ordinals_are_read_only_from_the_sets_own_pod_names() {
        let named = |name: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
        };
        assert_eq!(ordinal_of("web", &named("web-3")), Some(3));
        assert_eq!(ordinal_of("web", &named("web-12")), Some(12));
        assert_eq!(ordinal_of("web", &named("web-x")), None);
        assert_eq!(ordinal_of("web", &named("webby-1")), None);
        assert_eq!(ordinal_of("web", &named("db-1")), None);
    }

    #[test]
    fn ordinals_start_shifts_the_range_and_the_first_pod_made() {
        let plan = Plan::of(&spec(json!({"replicas": 3, "ordinals": {"start": 5}})));
        assert_eq!((plan.start, plan.end), (5, 8));
        assert_eq!(
            scale_up(&BTreeMap::new(), &plan),
            (vec![Step::Create(5)], Some(Halt::WithStatus))
        );
    }

    #[test]
    fn defaults_are_one_replica_from_zero_ordered_rolling_one_unavailable() {
        assert_eq!(
            Plan::of(&spec(json!({}))),
            Plan {
                start: 0,
                end: 1,
                rolling: true,
                partition: 0,
                parallel: false,
                max_unavailable: 1,
            }
        );
    }

    #[test]
    fn ordered_ready_creates_the_next_ordinal_after_ready_ones() {
        let plan = Plan::of(&spec(json!({"replicas": 3})));
        let pods = by_ordinal(vec![ready(0, "v1")]);
        assert_eq!(
            scale_up(&pods, &plan),
            (vec![Step::Create(1)], Some(Halt::WithStatus))
        );
    }

    #[test]
    fn ordered_ready_waits_for_a_running_pod_that_is_not_ready() {
        let plan = Plan::of(&spec(json!({"replicas": 3})));
        let pods = by_ordinal(vec![pod(0, "v1", "Running", false)]);
        assert_eq!(scale_up(&pods, &plan), (vec![], Some(Halt::WithStatus)));
    }

    #[test]
    fn ordered_ready_waits_for_a_ready_pod_that_is_not_running_yet() {
        let plan = Plan::of(&spec(json!({"replicas": 2})));
        let pods = by_ordinal(vec![pod(0, "v1", "Pending", true)]);
        assert_eq!(scale_up(&pods, &plan), (vec![], Some(Halt::WithStatus)));
    }

    #[test]
    fn ordered_ready_waits_quietly_while_a_pod_in_range_terminates() {
        let plan = Plan::of(&spec(json!({"replicas": 3})));
        let pods = by_ordinal(vec![ready(0, "v1"), terminating(ready(1, "v1"))]);
        assert_eq!(scale_up(&pods, &plan), (vec![], Some(Halt::Quietly)));
    }

    #[test]
    fn ordered_ready_replaces_a_finished_pod_and_stops() {
        let plan = Plan::of(&spec(json!({"replicas": 3})));
        let pods = by_ordinal(vec![pod(0, "v1", "Failed", false)]);
        assert_eq!(
            scale_up(&pods, &plan),
            (vec![Step::Replace(0)], Some(Halt::Quietly))
        );
    }

    #[test]
    fn ordered_ready_goes_on_when_every_pod_in_range_is_running_and_ready() {
        let plan = Plan::of(&spec(json!({"replicas": 2})));
        let pods = by_ordinal(vec![ready(0, "v1"), ready(1, "v1")]);
        assert_eq!(scale_up(&pods, &plan), (vec![], None));
    }

    #[test]
    fn parallel_creates_and_replaces_every_ordinal_at_once() {
        let plan = Plan::of(&spec(
            json!({"replicas": 5, "podManagementPolicy": "Parallel"}),
        ));
        let pods = by_ordinal(vec![
            pod(0, "v1", "Pending", false),
            pod(1, "v1", "Succeeded", false),
            terminating(ready(3, "v1")),
        ]);
        assert_eq!(
            scale_up(&pods, &plan),
            (
                vec![Step::Replace(1), Step::Create(2), Step::Create(4)],
                None
            )
        );
    }

    #[test]
    fn ordered_scale_down_removes_only_the_highest_ordinal() {
        let plan = Plan::of(&spec(json!({"replicas": 2})));
        let pods = by_ordinal((0..5).map(|o| ready(o, "v1")).collect());
        assert_eq!(scale_down(&pods, &plan), (vec![4], true));
    }

    #[test]
    fn ordered_scale_down_waits_while_the_highest_pod_terminates() {
        let plan = Plan::of(&spec(json!({"replicas": 2})));
        let pods = by_ordinal(vec![
            ready(0, "v1"),
            ready(1, "v1"),
            ready(2, "v1"),
            terminating(ready(3, "v1")),
        ]);
        assert_eq!(scale_down(&pods, &plan), (vec![], true));
    }

    #[test]
    fn scale_down_has_nothing_to_do_within_range() {
        let plan = Plan::of(&spec(json!({"replicas": 2})));
        let pods = by_ordinal(vec![ready(0, "v1"), ready(1, "v1")]);
        assert_eq!(scale_down(&pods, &plan), (vec![], false));
    }

    #[test]
    fn ordered_scale_down_removes_pods_above_the_range_before_pods_below_start() {
        let plan = Plan::of(&spec(json!({"replicas": 1, "ordinals": {"start": 1}})));
        let pods = by_ordinal(vec![ready(0, "v1"), ready(1, "v1"), ready(2, "v1")]);
        assert_eq!(scale_down(&pods, &plan), (vec![2], true));
    }

    #[test]
    fn parallel_scale_down_removes_every_condemned_pod_highest_first() {
        let plan = Plan::of(&spec(json!({
            "replicas": 2,
            "ordinals": {"start": 2},
            "podManagementPolicy": "Parallel",
        })));
        let pods = by_ordinal(vec![
            ready(0, "v1"),
            ready(2, "v1"),
            ready(3, "v1"),
            ready(4, "v1"),
            terminating(ready(5, "v1")),
        ]);
        assert_eq!(scale_down(&pods, &plan), (vec![4, 0], false));
    }

    #[test]
    fn rolling_update_replaces_the_highest_outdated_pod_first() {
        let plan = Plan::of(&spec(json!({"replicas": 3})));
        let pods = by_ordinal((0..3).map(|o| ready(o, "v1")).collect());
        assert_eq!(to_update(&pods, &plan, "v2"), vec![2]);
    }

    #[test]
    fn rolling_update_skips_pods_at_the_update_revision() {
        let plan = Plan::of(&spec(json!({"replicas": 3})));
        let pods = by_ordinal(vec![ready(0, "v1"), ready(1, "v1"), ready(2, "v2")]);
        assert_eq!(to_update(&pods, &plan, "v2"), vec![1]);
    }

    #[test]
    fn rolling_update_leaves_pods_below_the_partition() {
        let plan = Plan::of(&spec(json!({
            "replicas": 4,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2, "maxUnavailable": 4}},
        })));
        let pods = by_ordinal((0..4).map(|o| ready(o, "v1")).collect());
        assert_eq!(to_update(&pods, &plan, "v2"), vec![3, 2]);
    }

    #[test]
    fn rolling_update_replaces_up_to_max_unavailable_at_once() {
        let plan = Plan::of(&spec(json!({
            "replicas": 4,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
        })));
        let pods = by_ordinal((0..4).map(|o| ready(o, "v1")).collect());
        assert_eq!(to_update(&pods, &plan, "v2"), vec![3, 2]);
    }

    #[test]
    fn rolling_update_counts_unready_pods_against_max_unavailable() {
        let plan = Plan::of(&spec(json!({
            "replicas": 4,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
        })));
        let pods = by_ordinal(vec![
            pod(0, "v2", "Running", false),
            ready(1, "v1"),
            ready(2, "v1"),
            ready(3, "v1"),
        ]);
        assert_eq!(to_update(&pods, &plan, "v2"), vec![3]);
    }

    #[test]
    fn rolling_update_waits_while_a_replaced_pod_is_not_ready() {
        let plan = Plan::of(&spec(json!({"replicas": 3})));
        let pods = by_ordinal(vec![
            ready(0, "v1"),
            ready(1, "v1"),
            pod(2, "v2", "Pending", false),
        ]);
        assert_eq!(to_update(&pods, &plan, "v2"), Vec::<i32>::new());
    }

    #[test]
    fn max_unavailable_percentages_round_down_to_at_least_one() {
        let with = |max: serde_json::Value| {
            Plan::of(&spec(json!({
                "replicas": 5,
                "updateStrategy": {"rollingUpdate": {"maxUnavailable": max}},
            })))
            .max_unavailable
        };
        assert_eq!(with(json!("50%")), 2);
        assert_eq!(with(json!("10%")), 1);
        assert_eq!(with(json!(0)), 1);
    }

    #[test]
    fn on_delete_never_deletes_pods_for_an_update() {
        let plan = Plan::of(&spec(json!({
            "replicas": 3,
            "updateStrategy": {"type": "OnDelete"},
        })));
        assert!(!plan.rolling);
        let pods = by_ordinal((0..3).map(|o| ready(o, "v1")).collect());
        assert_eq!(to_update(&pods, &plan, "v2"), Vec::<i32>::new());
    }

    #[test]
    fn pods_made_below_the_partition_keep_the_current_revision() {
        let plan = Plan::of(&spec(json!({
            "replicas": 4,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        })));
        assert!(plan.keeps_current(1));
        assert!(!plan.keeps_current(2));
    }

    #[test]
    fn on_delete_makes_missing_pods_at_the_update_revision_whatever_the_partition() {
        let plan = Plan::of(&spec(json!({
            "replicas": 4,
            "updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 2}},
        })));
        assert!(!plan.keeps_current(0));
    }

    #[test]
    fn claims_are_named_after_template_set_and_ordinal_with_the_selectors_labels() {
        let claim = claim_for(&claim_template(), "web", 3, &owner(), &spec(json!({})));
        assert_eq!(claim.name_any(), "data-web-3");
        assert_eq!(
            claim.metadata.labels,
            Some(BTreeMap::from([
                ("app".to_string(), "web".to_string()),
                ("tier".to_string(), "db".to_string()),
            ]))
        );
        assert_eq!(claim.spec, claim_template().spec);
    }

    #[test]
    fn claims_are_kept_when_no_retention_policy_is_set() {
        let claim = claim_for(&claim_template(), "web", 0, &owner(), &spec(json!({})));
        assert_eq!(claim.metadata.owner_references, None);
    }

    #[test]
    fn claims_are_kept_when_the_retention_policy_retains_them_on_deletion() {
        let spec = spec(json!({
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
        }));
        let claim = claim_for(&claim_template(), "web", 0, &owner(), &spec);
        assert_eq!(claim.metadata.owner_references, None);
    }

    #[test]
    fn claims_are_owned_by_the_set_when_the_retention_policy_deletes_them_with_it() {
        let spec = spec(json!({
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"},
        }));
        let claim = claim_for(&claim_template(), "web", 0, &owner(), &spec);
        let refs = claim.metadata.owner_references.unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].uid, "u1");
        assert_eq!(refs[0].controller, Some(true));
        assert_eq!(refs[0].block_owner_deletion, Some(true));
    }

    fn with_uid(mut pod: Pod) -> Pod {
        pod.metadata.uid = Some("pod-uid".into());
        pod
    }

    fn retention(when_deleted: &str, when_scaled: &str) -> StatefulSetSpec {
        spec(json!({"persistentVolumeClaimRetentionPolicy": {
            "whenDeleted": when_deleted, "whenScaled": when_scaled,
        }}))
    }

    #[test]
    fn claim_of_a_condemned_pod_is_owned_by_the_pod_when_scale_down_deletes_claims() {
        for when_deleted in ["Retain", "Delete"] {
            let condemned = with_uid(ready(3, "v1"));
            let owners = claim_owners(
                &retention(when_deleted, "Delete"),
                &owner(),
                Some(&condemned),
            );
            assert_eq!(owners.len(), 1, "whenDeleted: {when_deleted}");
            assert_eq!(
                (owners[0].kind.as_str(), owners[0].name.as_str()),
                ("Pod", "web-3")
            );
            assert_eq!(owners[0].uid, "pod-uid");
        }
    }

    #[test]
    fn claim_of_a_condemned_pod_stays_with_the_set_when_scale_down_retains_claims() {
        let condemned = with_uid(ready(3, "v1"));
        let owners = claim_owners(&retention("Delete", "Retain"), &owner(), Some(&condemned));
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].uid, "u1");
    }

    #[test]
    fn claim_of_a_condemned_pod_has_no_owner_without_a_policy() {
        let condemned = with_uid(ready(3, "v1"));
        assert!(claim_owners(&spec(json!({})), &owner(), Some(&condemned)).is_empty());
    }

    #[test]
    fn claim_of_a_pod_in_range_is_not_owned_by_the_pod_whatever_the_scale_down_policy() {
        let owners = claim_owners(&retention("Delete", "Delete"), &owner(), None);
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].uid, "u1");
    }

    #[test]
    fn reowning_swaps_the_set_for_the_pod_and_keeps_owners_others_added() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data-web-3", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1"},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": "k1"},
            ]},
        }))
        .unwrap();
        let wanted = claim_owners(
            &retention("Delete", "Delete"),
            &owner(),
            Some(&with_uid(ready(3, "v1"))),
        );
        let owners = reowned(&claim, &owner(), "web-3", wanted).unwrap();
        let uids: Vec<&str> = owners.iter().map(|r| r.uid.as_str()).collect();
        assert_eq!(uids, ["k1", "pod-uid"]);
    }

    #[test]
    fn reowning_changes_nothing_when_the_owners_already_are_as_wanted() {
        let wanted = claim_owners(&retention("Delete", "Retain"), &owner(), None);
        let claim = claim_for(
            &claim_template(),
            "web",
            3,
            &owner(),
            &retention("Delete", "Retain"),
        );
        assert_eq!(reowned(&claim, &owner(), "web-3", wanted), None);
    }

    #[test]
    fn reowning_a_claim_of_a_pod_back_in_range_gives_it_back_to_the_set() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data-web-3", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "web-3", "uid": "pod-uid"},
            ]},
        }))
        .unwrap();
        let wanted = claim_owners(&retention("Delete", "Delete"), &owner(), None);
        let owners = reowned(&claim, &owner(), "web-3", wanted).unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].uid, "u1");
    }

    #[test]
    fn pods_get_their_identity_and_mount_their_own_claims() {
        let spec = spec(json!({
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx:1.27"}],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        }));
        let pod = pod_for(
            &spec.template,
            "web-3",
            3,
            "v2",
            "web",
            "ns",
            &spec,
            owner(),
        );
        assert_eq!(pod.name_any(), "web-3");
        assert_eq!(pod.metadata.generate_name, None);
        let labels = pod.labels();
        assert_eq!(
            labels.get(POD_NAME_LABEL).map(String::as_str),
            Some("web-3")
        );
        assert_eq!(labels.get(POD_INDEX_LABEL).map(String::as_str), Some("3"));
        assert_eq!(labels.get(HASH_LABEL).map(String::as_str), Some("v2"));
        let pod_spec = pod.spec.unwrap();
        assert_eq!(pod_spec.hostname.as_deref(), Some("web-3"));
        assert_eq!(pod_spec.subdomain.as_deref(), Some("web"));
        let volumes: Vec<(String, Option<String>)> = pod_spec
            .volumes
            .unwrap()
            .into_iter()
            .map(|v| (v.name, v.persistent_volume_claim.map(|c| c.claim_name)))
            .collect();
        assert_eq!(
            volumes,
            [
                ("tmp".to_string(), None),
                ("data".to_string(), Some("data-web-3".to_string())),
            ]
        );
    }

    #[test]
    fn pods_get_no_subdomain_without_a_service_name() {
        let spec = spec(json!({"serviceName": ""}));
        let pod = pod_for(
            &spec.template,
            "web-0",
            0,
            "v1",
            "web",
            "ns",
            &spec,
            owner(),
        );
        assert_eq!(pod.spec.unwrap().subdomain, None);
    }

    fn set(fields: serde_json::Value) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "generation": 4},
            "spec": spec(fields),
        }))
        .unwrap()
    }

    #[test]
    fn status_counts_active_pods_in_range_only() {
        let sts = set(json!({"replicas": 3}));
        let pods = by_ordinal(vec![
            ready(0, "v1"),
            pod(1, "v1", "Running", false),
            pod(2, "v1", "Failed", false),
            ready(3, "v1"),
        ]);
        let status = status_of(&sts, &pods, (0, 3), ("v1", "v1"), at(0));
        assert_eq!(status["replicas"], 2);
        assert_eq!(status["readyReplicas"], 1);
        assert_eq!(status["availableReplicas"], 1);
        assert_eq!(status["observedGeneration"], 4);
    }

    #[test]
    fn a_pod_ready_for_less_than_min_ready_seconds_is_not_available() {
        let sts = set(json!({"replicas": 1, "minReadySeconds": 10}));
        let pods = by_ordinal(vec![ready(0, "v1")]);
        let status = status_of(&sts, &pods, (0, 1), ("v1", "v1"), at(9));
        assert_eq!(status["readyReplicas"], 1);
        assert_eq!(status["availableReplicas"], 0);
    }

    #[test]
    fn a_pod_ready_for_min_ready_seconds_is_available() {
        let sts = set(json!({"replicas": 1, "minReadySeconds": 10}));
        let pods = by_ordinal(vec![ready(0, "v1")]);
        let status = status_of(&sts, &pods, (0, 1), ("v1", "v1"), at(10));
        assert_eq!(status["availableReplicas"], 1);
    }

    #[test]
    fn status_keeps_the_current_revision_while_pods_are_outdated() {
        let sts = set(json!({"replicas": 3}));
        let pods = by_ordinal(vec![ready(0, "v1"), ready(1, "v1"), ready(2, "v2")]);
        let status = status_of(&sts, &pods, (0, 3), ("v1", "v2"), at(0));
        assert_eq!(status["currentRevision"], "v1");
        assert_eq!(status["updateRevision"], "v2");
        assert_eq!(status["currentReplicas"], 2);
        assert_eq!(status["updatedReplicas"], 1);
    }

    #[test]
    fn status_makes_the_update_revision_current_once_every_pod_runs_it() {
        let sts = set(json!({"replicas": 2}));
        let pods = by_ordinal(vec![ready(0, "v2"), ready(1, "v2")]);
        let status = status_of(&sts, &pods, (0, 2), ("v1", "v2"), at(0));
        assert_eq!(status["currentRevision"], "v2");
        assert_eq!(status["currentReplicas"], 2);
        assert_eq!(status["updatedReplicas"], 2);
    }

    #[test]
    fn status_keeps_the_current_revision_while_pods_are_missing() {
        let sts = set(json!({"replicas": 3}));
        let pods = by_ordinal(vec![ready(0, "v2"), ready(1, "v2")]);
        let status = status_of(&sts, &pods, (0, 3), ("v1", "v2"), at(0));
        assert_eq!(status["currentRevision"], "v1");
    }

    fn revision(name: &str, number: i64) -> ControllerRevision {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "revision": number,
            "data": history::data_of(&json!({"spec": {"containers": [{"name": "c", "image": name}]}})),
        }))
        .unwrap()
    }

    #[test]
    fn the_recorded_current_revision_is_kept_while_it_exists() {
        let mut sts = set(json!({}));
        sts.status =
            serde_json::from_value(json!({"replicas": 1, "currentRevision": "web-a"})).unwrap();
        let revisions = [revision("web-a", 1), revision("web-b", 2)];
        assert_eq!(current_revision(&sts, &revisions, "web-b"), "web-a");
    }

    #[test]
    fn a_vanished_current_revision_falls_back_to_the_update_revision() {
        let mut sts = set(json!({}));
        sts.status =
            serde_json::from_value(json!({"replicas": 1, "currentRevision": "web-a"})).unwrap();
        let revisions = [revision("web-b", 2)];
        assert_eq!(current_revision(&sts, &revisions, "web-b"), "web-b");
    }

    #[test]
    fn a_revisions_template_reads_back_as_the_pod_template() {
        let template = template_of(&revision("web-a", 1)).unwrap();
        let container = &template.spec.unwrap().containers[0];
        assert_eq!(container.image.as_deref(), Some("web-a"));
    }
}
