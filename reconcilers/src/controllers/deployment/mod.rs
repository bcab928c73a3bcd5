//! `deployment-controller`: rolls a Deployment's pod template out through ReplicaSets, as
//! upstream does. The set whose template equals the Deployment's is the new one (named
//! `<deployment>-<pod-template-hash>`, made when missing); `RollingUpdate` grows it and
//! shrinks the old ones within `maxSurge` and `maxUnavailable` ([`rollout`]), `Recreate`
//! removes the old pods first. Revisions (`deployment.kubernetes.io/revision`) count up
//! with each new template, so `kubectl rollout history` and `undo` work; old sets beyond
//! `revisionHistoryLimit` are deleted once the rollout is complete; a paused Deployment only
//! scales. The status and its conditions ([`status`]) are what `kubectl rollout status`
//! follows.

pub mod rollout;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::{not_found, pods, publish};
use crate::{Context, Error, Reconciler};
use rollout::Set;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const HASH_LABEL: &str = "pod-template-hash";
/// Annotations of a Deployment that its ReplicaSets do not copy.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

pub struct Deployments;

impl Reconciler for Deployments {
    type Object = Deployment;
    const NAME: &'static str = "deployment-controller";

    fn watches(&self, c: Controller<Deployment>, ctx: &Context) -> Controller<Deployment> {
        // A pod changing (for Recreate, old pods going away) reaches its set's Deployment.
        let sets = ctx.informers.get::<ReplicaSet>().store();
        c.owns_shared_stream(ctx.informers.get::<ReplicaSet>().subscribe())
            .watches_shared_stream(ctx.informers.get::<Pod>().subscribe(), move |pod| {
                let owner = pods::controller_of(pod.meta()).filter(|r| r.kind == "ReplicaSet")?;
                let namespace = pod.meta().namespace.clone()?;
                let rs = sets.get(&ObjectRef::new(&owner.name).within(&namespace))?;
                let deployment =
                    pods::controller_of(rs.meta()).filter(|r| r.kind == "Deployment")?;
                Some(ObjectRef::new(&deployment.name).within(&namespace))
            })
    }

    async fn reconcile(&self, d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, Error> {
        sync(&d, &ctx).await
    }
}

/// FNV-1a (32 bits), the hash upstream names ReplicaSets with.
fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The `pod-template-hash` of a template: a hash of it (and of the collision count), in
/// upstream's alphabet without vowels.
pub fn template_hash(template: &PodTemplateSpec, collisions: Option<i32>) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(n) = collisions {
        bytes.extend_from_slice(&n.to_be_bytes());
    }
    fnv32a(&bytes)
        .to_string()
        .bytes()
        .map(|b| {
            ALPHABET
                .get(usize::from(b) % ALPHABET.len())
                .map_or('x', |c| char::from(*c))
        })
        .collect()
}

/// Whether a set runs a template (its own hash label aside).
fn same_template(rs: &ReplicaSet, template: &PodTemplateSpec) -> bool {
    let Some(mut theirs) = rs.spec.as_ref().and_then(|s| s.template.clone()) else {
        return false;
    };
    if let Some(labels) = theirs.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
        if labels.is_empty() {
            if let Some(meta) = theirs.metadata.as_mut() {
                meta.labels = None;
            }
        }
    }
    let mut ours = template.clone();
    if let Some(labels) = ours.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    serde_json::to_value(&theirs).ok() == serde_json::to_value(&ours).ok()
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn as_set(rs: &ReplicaSet) -> Set {
    Set {
        name: rs.name_any(),
        replicas: spec_replicas(rs),
        available: rs
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
    }
}

async fn sync(d: &Deployment, ctx: &Context) -> Result<Action, Error> {
    let (Some(namespace), Some(name), Some(uid)) = (
        d.meta().namespace.clone(),
        d.meta().name.clone(),
        d.meta().uid.clone(),
    ) else {
        return Ok(Action::await_change());
    };
    if d.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let spec = d.spec.clone().unwrap_or_default();
    let selector = Selector::try_from(spec.selector.clone())
        .map_err(|e| Error::Other(format!("{namespace}/{name} has an invalid selector: {e}")))?;
    let owner = d
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Other(format!("{namespace}/{name} has no identity")))?;
    let sets_api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &namespace);
    let recorder = ctx.recorder(Deployments::NAME);
    let reference = d.object_ref(&());

    // Claim the sets: adopt orphans the selector matches, release what it no longer does.
    let mut owned: Vec<ReplicaSet> = Vec::new();
    for rs in ctx.informers.get::<ReplicaSet>().store().state() {
        if rs.meta().namespace.as_deref() != Some(namespace.as_str())
            || rs.meta().deletion_timestamp.is_some()
        {
            continue;
        }
        let matches = pods::selects(&selector, rs.meta());
        match pods::controller_of(rs.meta()) {
            Some(r) if r.uid == uid && matches => owned.push((*rs).clone()),
            Some(r) if r.uid == uid => set_owner(&sets_api, &rs, None).await?,
            None if matches => {
                set_owner(&sets_api, &rs, Some(&owner)).await?;
                owned.push((*rs).clone());
            }
            _ => {}
        }
    }
    owned.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let template = spec.template.clone();
    let replicas = spec.replicas.unwrap_or(1);
    let rolling = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
    let (surge, unavailable) = if recreate {
        (0, replicas)
    } else {
        rollout::surge_and_unavailable(
            rolling.and_then(|r| r.max_surge.as_ref()),
            rolling.and_then(|r| r.max_unavailable.as_ref()),
            replicas,
        )
    };
    let mut new = owned
        .iter()
        .find(|rs| same_template(rs, &template))
        .cloned();
    let old: Vec<ReplicaSet> = owned
        .iter()
        .filter(|rs| new.as_ref().is_none_or(|n| n.uid() != rs.uid()))
        .cloned()
        .collect();
    let max_old_revision = old.iter().map(revision).max().unwrap_or(0);
    let paused = spec.paused == Some(true);

    if paused {
        // A paused Deployment only scales the sets it has.
        if let Some(rs) = new.as_ref().filter(|rs| spec_replicas(rs) != replicas) {
            scale(
                &sets_api,
                rs,
                replicas,
                replicas,
                replicas.saturating_add(surge),
                &recorder,
                &reference,
            )
            .await?;
        }
    } else {
        // The new set: found, or made when the template is new.
        let new_rs = match new.take() {
            Some(rs) => {
                if revision(&rs) <= max_old_revision {
                    annotate_revision(&sets_api, &rs, max_old_revision.saturating_add(1)).await?;
                }
                rs
            }
            None => {
                let initial = if recreate {
                    0
                } else {
                    let all: Vec<Set> = owned.iter().map(as_set).collect();
                    rollout::scale_up_new(
                        &Set {
                            name: String::new(),
                            replicas: 0,
                            available: 0,
                        },
                        &all,
                        replicas,
                        surge,
                    )
                };
                create_set(
                    ctx,
                    d,
                    &sets_api,
                    &template,
                    initial,
                    surge,
                    max_old_revision.saturating_add(1),
                    &owner,
                    &recorder,
                    &reference,
                )
                .await?
            }
        };
        if recreate {
            let active_old: Vec<&ReplicaSet> =
                old.iter().filter(|rs| spec_replicas(rs) > 0).collect();
            for rs in &active_old {
                scale(&sets_api, rs, 0, replicas, replicas, &recorder, &reference).await?;
            }
            let old_pods_left = old
                .iter()
                .any(|rs| rs.status.as_ref().is_some_and(|s| s.replicas > 0));
            if active_old.is_empty() && !old_pods_left && spec_replicas(&new_rs) != replicas {
                scale(
                    &sets_api, &new_rs, replicas, replicas, replicas, &recorder, &reference,
                )
                .await?;
            }
        } else {
            let all: Vec<Set> = owned.iter().map(as_set).collect();
            let new_set = as_set(&new_rs);
            let target = if new_set.replicas > replicas {
                replicas
            } else {
                rollout::scale_up_new(&new_set, &all, replicas, surge)
            };
            let new_rs_set = Set {
                replicas: target,
                ..new_set
            };
            if target != spec_replicas(&new_rs) {
                scale(
                    &sets_api,
                    &new_rs,
                    target,
                    replicas,
                    replicas.saturating_add(surge),
                    &recorder,
                    &reference,
                )
                .await?;
            }
            let old_sets: Vec<Set> = old.iter().map(as_set).collect();
            let targets = rollout::scale_down_old(&old_sets, &new_rs_set, replicas, unavailable);
            for (rs, target) in old.iter().zip(targets) {
                if target != spec_replicas(rs) {
                    scale(
                        &sets_api,
                        rs,
                        target,
                        replicas,
                        replicas.saturating_add(surge),
                        &recorder,
                        &reference,
                    )
                    .await?;
                }
            }
        }
        new = Some(new_rs);
    }

    // The Deployment carries its newest revision.
    if let Some(rs) = &new {
        let revision = rs.annotations().get(REVISION).cloned().unwrap_or_default();
        if d.annotations().get(REVISION) != Some(&revision) && !revision.is_empty() {
            let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
            let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await?;
        }
    }

    let now = jiff::Timestamp::now();
    let current: Vec<ReplicaSet> = {
        let store = ctx.informers.get::<ReplicaSet>().store();
        owned
            .iter()
            .map(|rs| {
                store
                    .get(&ObjectRef::new(&rs.name_any()).within(&namespace))
                    .map_or_else(|| rs.clone(), |r| (*r).clone())
            })
            .collect()
    };
    let all_refs: Vec<&ReplicaSet> = current.iter().collect();
    let new_ref = new
        .as_ref()
        .and_then(|n| current.iter().find(|rs| rs.uid() == n.uid()));
    let next = status::next(d, &all_refs, new_ref, unavailable, now);
    if Some(&next) != d.status.as_ref() {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": next })),
        )
        .await?;
    }
    if status::complete(d, &next) {
        clean_up(
            &sets_api,
            &current,
            new.as_ref(),
            spec.revision_history_limit.unwrap_or(10),
        )
        .await?;
        return Ok(Action::await_change());
    }
    // Come back to see whether the rollout has passed its deadline.
    let deadline = spec.progress_deadline_seconds.unwrap_or(600);
    Ok(Action::requeue(Duration::from_secs(
        u64::try_from(deadline).unwrap_or(600).clamp(1, 30),
    )))
}

/// Adopts a set (`Some(owner)`) or releases it (`None`).
async fn set_owner(
    api: &Api<ReplicaSet>,
    rs: &ReplicaSet,
    owner: Option<&OwnerReference>,
) -> Result<(), Error> {
    let mut refs: Vec<OwnerReference> = rs
        .owner_references()
        .iter()
        .filter(|r| r.controller != Some(true))
        .cloned()
        .collect();
    if let Some(owner) = owner {
        refs.push(OwnerReference {
            controller: Some(true),
            block_owner_deletion: Some(true),
            ..owner.clone()
        });
    }
    let patch = json!({"metadata": {"ownerReferences": refs}});
    match api
        .patch(
            &rs.name_any(),
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

async fn annotate_revision(
    api: &Api<ReplicaSet>,
    rs: &ReplicaSet,
    revision: i64,
) -> Result<(), Error> {
    let patch = json!({"metadata": {"annotations": {REVISION: revision.to_string()}}});
    api.patch(
        &rs.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn create_set(
    ctx: &Context,
    d: &Deployment,
    api: &Api<ReplicaSet>,
    template: &PodTemplateSpec,
    replicas: i32,
    surge: i32,
    revision: i64,
    owner: &OwnerReference,
    recorder: &kube::runtime::events::Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
) -> Result<ReplicaSet, Error> {
    let spec = d.spec.clone().unwrap_or_default();
    let collisions = d.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(template, collisions);
    let name = format!("{}-{hash}", d.name_any());
    let mut template = template.clone();
    let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.into(), hash.clone());
    let mut selector: LabelSelector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.into(), hash.clone());
    let mut annotations: BTreeMap<String, String> = d
        .annotations()
        .iter()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let desired = spec.replicas.unwrap_or(1);
    annotations.insert(REVISION.into(), revision.to_string());
    annotations.insert(DESIRED_REPLICAS.into(), desired.to_string());
    annotations.insert(
        MAX_REPLICAS.into(),
        desired.saturating_add(surge).to_string(),
    );
    let rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: d.namespace(),
            labels: meta.labels.clone(),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                controller: Some(true),
                block_owner_deletion: Some(true),
                ..owner.clone()
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template.clone()),
        }),
        status: None,
    };
    match api.create(&PostParams::default(), &rs).await {
        Ok(created) => {
            let scaled = if replicas > 0 {
                format!("Scaled up replica set {name} from 0 to {replicas}")
            } else {
                format!("Created new replica set {name}")
            };
            let reason = if replicas > 0 {
                "ScalingReplicaSet"
            } else {
                "NewReplicaSetCreated"
            };
            publish(recorder, reference, EventType::Normal, reason, scaled).await;
            Ok(created)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            // A set of that name exists: ours if it runs the template, else a hash collision.
            let existing = api.get(&name).await?;
            if same_template(&existing, &template)
                && pods::controller_of(existing.meta()).is_some_and(|r| r.uid == owner.uid)
            {
                return Ok(existing);
            }
            let deployments: Api<Deployment> =
                Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
            let next = collisions.unwrap_or(0).saturating_add(1);
            deployments
                .patch_status(
                    &d.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"collisionCount": next}})),
                )
                .await?;
            Err(Error::Other(format!(
                "hash collision for replica set {name}; trying again"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Scales a set to `to` replicas, noting the Deployment's `desired` replicas and the most
/// the rollout may run (`max`) as upstream does.
async fn scale(
    api: &Api<ReplicaSet>,
    rs: &ReplicaSet,
    to: i32,
    desired: i32,
    max: i32,
    recorder: &kube::runtime::events::Recorder,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
) -> Result<(), Error> {
    let from = spec_replicas(rs);
    let patch = json!({
        "metadata": {"annotations": {DESIRED_REPLICAS: desired.to_string(), MAX_REPLICAS: max.to_string()}},
        "spec": {"replicas": to},
    });
    api.patch(
        &rs.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    if from != to {
        let direction = if to > from { "up" } else { "down" };
        publish(
            recorder,
            reference,
            EventType::Normal,
            "ScalingReplicaSet",
            format!(
                "Scaled {direction} replica set {} from {from} to {to}",
                rs.name_any()
            ),
        )
        .await;
    }
    Ok(())
}

/// Deletes old, empty sets beyond the history limit, oldest first.
async fn clean_up(
    api: &Api<ReplicaSet>,
    sets: &[ReplicaSet],
    new: Option<&ReplicaSet>,
    limit: i32,
) -> Result<(), Error> {
    let mut empty: Vec<&ReplicaSet> = sets
        .iter()
        .filter(|rs| new.is_none_or(|n| n.uid() != rs.uid()))
        .filter(|rs| spec_replicas(rs) == 0 && rs.status.as_ref().is_none_or(|s| s.replicas == 0))
        .collect();
    empty.sort_by_key(|rs| revision(rs));
    let keep = usize::try_from(limit).unwrap_or(0);
    let excess = empty.len().saturating_sub(keep);
    for rs in empty.into_iter().take(excess) {
        match api
            .delete(&rs.name_any(), &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hashes_are_stable_and_use_upstreams_alphabet() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
        }))
        .unwrap();
        let a = template_hash(&template, None);
        assert_eq!(a, template_hash(&template, None));
        assert!(
            a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{a}"
        );
        assert_ne!(a, template_hash(&template, Some(1)));
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
    }
}
