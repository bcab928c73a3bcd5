//! ControllerRevisions, the history DaemonSets and StatefulSets keep of their pod templates
//! (what `kubectl rollout history` and `undo` read): one revision per distinct template,
//! named `<owner>-<hash>`, numbered in the order the templates were first used; a template
//! used again takes the next number.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

use super::not_found;
use crate::Error;

/// The label pods and revisions carry with the revision's hash.
pub const HASH_LABEL: &str = "controller-revision-hash";

/// FNV-1a (32 bits) of the revision's data, in upstream's alphabet without vowels.
pub fn hash(data: &Value, collisions: Option<i32>) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = serde_json::to_vec(data).unwrap_or_default();
    if let Some(n) = collisions {
        bytes.extend_from_slice(&n.to_be_bytes());
    }
    let h = bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    h.to_string()
        .bytes()
        .map(|b| {
            ALPHABET
                .get(usize::from(b) % ALPHABET.len())
                .map_or('x', |c| char::from(*c))
        })
        .collect()
}

/// What a revision stores of its owner: the pod template, as upstream's patch of it.
pub fn data_of(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({ "spec": { "template": template } })
}

/// The revision of `template` for the owner (made, or renumbered when reused), and the
/// owner's revisions.
pub async fn current(
    api: &Api<ControllerRevision>,
    revisions: &[ControllerRevision],
    owner_name: &str,
    owner: &OwnerReference,
    labels: &BTreeMap<String, String>,
    template: &Value,
    collisions: Option<i32>,
) -> Result<ControllerRevision, Error> {
    let data = data_of(template);
    let next = revisions
        .iter()
        .map(|r| r.revision)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    if let Some(existing) = revisions
        .iter()
        .find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
    {
        if existing.revision + 1 < next {
            let patch = json!({"revision": next});
            let updated = api
                .patch(
                    &existing.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await?;
            return Ok(updated);
        }
        return Ok(existing.clone());
    }
    let hash = hash(&data, collisions);
    let mut labels = labels.clone();
    labels.insert(HASH_LABEL.into(), hash.clone());
    let revision = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{owner_name}-{hash}")),
            labels: Some(labels),
            owner_references: Some(vec![OwnerReference {
                controller: Some(true),
                block_owner_deletion: Some(true),
                ..owner.clone()
            }]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision: next,
    };
    match api.create(&PostParams::default(), &revision).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            Ok(api.get(&format!("{owner_name}-{hash}")).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes the oldest revisions no pod uses beyond `limit`.
pub async fn truncate(
    api: &Api<ControllerRevision>,
    revisions: &[ControllerRevision],
    in_use: &[String],
    limit: i32,
) -> Result<(), Error> {
    let mut unused: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| {
            let hash = r.labels().get(HASH_LABEL).cloned().unwrap_or_default();
            !in_use.iter().any(|u| *u == hash || *u == r.name_any())
        })
        .collect();
    unused.sort_by_key(|r| r.revision);
    let excess = unused
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    for revision in unused.into_iter().take(excess) {
        match api
            .delete(&revision.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
