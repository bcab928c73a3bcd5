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

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
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
        let current_name = sts
            .status
            .as_ref()
            .and_then(|s| s.current_revision.clone())
            .filter(|c| revisions.iter().any(|r| r.name_any() == *c))
            .unwrap_or_else(|| update_name.clone());
        let current_template = revisions
            .iter()
            .find(|r| r.name_any() == current_name)
            .and_then(template_of)
            .unwrap_or_else(|| spec.template.clone());

        let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
        let replicas = spec.replicas.unwrap_or(1).max(0);
        let end = start.saturating_add(replicas);
        let rolling = spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref())
            != Some("OnDelete");
        let partition = spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.partition)
            .unwrap_or(0);
        let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
        let mut by_ordinal: BTreeMap<i32, Pod> = controlled_by::<Pod>(&ctx, &namespace, &uid)
            .iter()
            .filter_map(|p| ordinal_of(&name, p).map(|o| (o, (**p).clone())))
            .collect();
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
        let claims_api: Api<PersistentVolumeClaim> =
            Api::namespaced(ctx.client.clone(), &namespace);
        let running_ready = |p: &Pod| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && pods::is_ready(p)
        };

        // Create missing pods (and their claims); replace finished ones.
        for ordinal in start..end {
            match by_ordinal.get(&ordinal) {
                Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                    if !parallel {
                        return Ok(Action::await_change());
                    }
                }
                Some(pod) if !pods::is_active(pod) => {
                    delete_pod(&pods_api, pod, &recorder, &reference).await?;
                    if !parallel {
                        return Ok(Action::await_change());
                    }
                }
                Some(pod) => {
                    if !parallel && !running_ready(pod) {
                        self.write_status(
                            &ctx,
                            &sts,
                            &by_ordinal,
                            start,
                            end,
                            &current_name,
                            &update_name,
                        )
                        .await?;
                        return Ok(Action::await_change());
                    }
                }
                None => {
                    let ordinal_template = if ordinal < partition && rolling {
                        &current_template
                    } else {
                        &spec.template
                    };
                    let revision = if ordinal < partition && rolling {
                        &current_name
                    } else {
                        &update_name
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
                    if !parallel {
                        self.write_status(
                            &ctx,
                            &sts,
                            &by_ordinal,
                            start,
                            end,
                            &current_name,
                            &update_name,
                        )
                        .await?;
                        return Ok(Action::await_change());
                    }
                }
            }
        }

        // Remove condemned pods, highest ordinal first.
        let condemned: Vec<Pod> = by_ordinal
            .iter()
            .rev()
            .filter(|(o, _)| **o < start || **o >= end)
            .map(|(_, p)| p.clone())
            .collect();
        for pod in &condemned {
            if pod.metadata.deletion_timestamp.is_none() {
                delete_pod(&pods_api, pod, &recorder, &reference).await?;
            }
            if !parallel {
                self.write_status(
                    &ctx,
                    &sts,
                    &by_ordinal,
                    start,
                    end,
                    &current_name,
                    &update_name,
                )
                .await?;
                return Ok(Action::await_change());
            }
        }

        // Rolling update from the highest ordinal down to the partition.
        if rolling {
            let max_unavailable = spec
                .update_strategy
                .as_ref()
                .and_then(|s| s.rolling_update.as_ref())
                .and_then(|r| r.max_unavailable.as_ref())
                .map_or(1, |m| resolve(Some(m), replicas, 0, false).max(1));
            let unavailable = by_ordinal.values().filter(|p| !running_ready(p)).count();
            let mut budget = usize::try_from(max_unavailable)
                .unwrap_or(1)
                .saturating_sub(unavailable);
            for (ordinal, pod) in by_ordinal.iter().rev() {
                if *ordinal < partition.max(start) || *ordinal >= end || budget == 0 {
                    continue;
                }
                if revision_of(pod) != Some(&update_name)
                    && pod.metadata.deletion_timestamp.is_none()
                {
                    delete_pod(&pods_api, pod, &recorder, &reference).await?;
                    budget -= 1;
                }
            }
        }
        self.write_status(
            &ctx,
            &sts,
            &by_ordinal,
            start,
            end,
            &current_name,
            &update_name,
        )
        .await?;
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

impl StatefulSets {
    #[allow(clippy::too_many_arguments)]
    async fn write_status(
        &self,
        ctx: &Context,
        sts: &StatefulSet,
        by_ordinal: &BTreeMap<i32, Pod>,
        start: i32,
        end: i32,
        current: &str,
        update: &str,
    ) -> Result<(), Error> {
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
        let now = jiff::Timestamp::now();
        let updated = count(&|p| revision_of(p).map(String::as_str) == Some(update));
        let replicas = count(&|_| true);
        let desired = end - start;
        // Once every pod runs the update revision, it is the current one.
        let current = if updated == desired && replicas == desired {
            update
        } else {
            current
        };
        let status = json!({
            "replicas": replicas,
            "readyReplicas": count(&pods::is_ready),
            "availableReplicas": count(&|p| pods::is_available(p, min_ready, now)),
            "currentReplicas": count(&|p| revision_of(p).map(String::as_str) == Some(current)),
            "updatedReplicas": updated,
            "currentRevision": current,
            "updateRevision": update,
            "observedGeneration": sts.metadata.generation.unwrap_or(0),
        });
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

/// Makes a pod's claim from a template when it does not exist.
async fn ensure_claim(
    api: &Api<PersistentVolumeClaim>,
    template: &PersistentVolumeClaim,
    set: &str,
    ordinal: i32,
    owner: &OwnerReference,
    spec: &k8s_openapi::api::apps::v1::StatefulSetSpec,
) -> Result<(), Error> {
    let claim_name = format!("{}-{set}-{ordinal}", template.name_any());
    if api.get_opt(&claim_name).await?.is_some() {
        return Ok(());
    }
    let mut labels = template.metadata.labels.clone().unwrap_or_default();
    labels.extend(spec.selector.match_labels.clone().unwrap_or_default());
    let delete_with_set = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .and_then(|p| p.when_deleted.as_deref())
        == Some("Delete");
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name),
            labels: Some(labels),
            annotations: template.metadata.annotations.clone(),
            owner_references: delete_with_set.then(|| {
                vec![OwnerReference {
                    block_owner_deletion: Some(true),
                    controller: Some(true),
                    ..owner.clone()
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    match api.create(&PostParams::default(), &claim).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[allow(clippy::too_many_arguments)]
fn pod_for(
    template: &PodTemplateSpec,
    name: &str,
    ordinal: i32,
    revision: &str,
    set: &str,
    namespace: &str,
    spec: &k8s_openapi::api::apps::v1::StatefulSetSpec,
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
