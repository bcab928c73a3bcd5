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

/// What becomes of the revision of a template.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    /// A revision holds the template and is the latest: it stays as it is.
    Keep(&'a ControllerRevision),
    /// A revision holds the template but newer ones exist: it takes the next number.
    Renumber(&'a ControllerRevision, i64),
    /// No revision holds the template: this one is made.
    Create(Box<ControllerRevision>),
}

/// The revision of `template` among the owner's `revisions`: the one holding it (renumbered
/// when reused), or a new one named `<owner>-<hash>` with the next number.
fn step<'a>(
    revisions: &'a [ControllerRevision],
    owner_name: &str,
    owner: &OwnerReference,
    labels: &BTreeMap<String, String>,
    template: &Value,
    collisions: Option<i32>,
) -> Step<'a> {
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
            return Step::Renumber(existing, next);
        }
        return Step::Keep(existing);
    }
    let hash = hash(&data, collisions);
    let mut labels = labels.clone();
    labels.insert(HASH_LABEL.into(), hash.clone());
    Step::Create(Box::new(ControllerRevision {
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
    }))
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
    match step(revisions, owner_name, owner, labels, template, collisions) {
        Step::Keep(existing) => Ok(existing.clone()),
        Step::Renumber(existing, next) => {
            let patch = json!({"revision": next});
            let updated = api
                .patch(
                    &existing.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await?;
            Ok(updated)
        }
        Step::Create(revision) => match api.create(&PostParams::default(), &revision).await {
            Ok(created) => Ok(created),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(api.get(&revision.name_any()).await?),
            Err(e) => Err(e.into()),
        },
    }
}

/// The oldest revisions no pod uses beyond `limit`, oldest first: the ones to delete.
fn excess<'a>(
    revisions: &'a [ControllerRevision],
    in_use: &[String],
    limit: i32,
) -> Vec<&'a ControllerRevision> {
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
    unused.truncate(excess);
    unused
}

/// Deletes the oldest revisions no pod uses beyond `limit`.
pub async fn truncate(
    api: &Api<ControllerRevision>,
    revisions: &[ControllerRevision],
    in_use: &[String],
    limit: i32,
) -> Result<(), Error> {
    for revision in excess(revisions, in_use, limit) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn template(image: &str) -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]},
        })
    }

    /// Revision `number` of set `web` holding the template with `image`.
    fn revision(image: &str, number: i64) -> ControllerRevision {
        let data = data_of(&template(image));
        let hash = hash(&data, None);
        serde_json::from_value(json!({
            "metadata": {"name": format!("web-{hash}"), "labels": {HASH_LABEL: hash}},
            "data": data,
            "revision": number,
        }))
        .unwrap()
    }

    fn owner() -> OwnerReference {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1",
        }))
        .unwrap()
    }

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), "web".to_string())])
    }

    fn names(revisions: &[&ControllerRevision]) -> Vec<String> {
        revisions.iter().map(|r| r.name_any()).collect()
    }

    #[test]
    fn hashes_are_stable_and_use_upstreams_alphabet() {
        let data = data_of(&template("nginx:1.27"));
        let a = hash(&data, None);
        assert_eq!(a, hash(&data, None));
        assert!(!a.is_empty());
        assert!(
            a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{a}"
        );
        assert_ne!(a, hash(&data_of(&template("nginx:1.28")), None));
    }

    #[test]
    fn a_collision_count_changes_the_hash() {
        let data = data_of(&template("nginx:1.27"));
        assert_ne!(hash(&data, None), hash(&data, Some(1)));
        assert_ne!(hash(&data, Some(1)), hash(&data, Some(2)));
    }

    #[test]
    fn revisions_store_the_template_as_a_replacing_patch() {
        assert_eq!(
            data_of(&template("nginx:1.27")),
            json!({"spec": {"template": {
                "$patch": "replace",
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            }}})
        );
    }

    #[test]
    fn the_first_template_gets_revision_one_named_after_its_hash() {
        let Step::Create(made) = step(
            &[],
            "web",
            &owner(),
            &labels(),
            &template("nginx:1.27"),
            None,
        ) else {
            panic!("expected a new revision");
        };
        let hash = hash(&data_of(&template("nginx:1.27")), None);
        assert_eq!(made.name_any(), format!("web-{hash}"));
        assert_eq!(made.revision, 1);
        assert_eq!(made.labels().get(HASH_LABEL), Some(&hash));
        assert_eq!(made.labels().get("app").map(String::as_str), Some("web"));
        assert_eq!(
            made.data.map(|d| d.0),
            Some(data_of(&template("nginx:1.27")))
        );
        let refs = made.metadata.owner_references.unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].uid, "u1");
        assert_eq!(refs[0].controller, Some(true));
    }

    #[test]
    fn a_new_template_takes_the_number_after_the_highest() {
        let revisions = [revision("a", 1), revision("b", 4)];
        let Step::Create(made) = step(&revisions, "web", &owner(), &labels(), &template("c"), None)
        else {
            panic!("expected a new revision");
        };
        assert_eq!(made.revision, 5);
    }

    #[test]
    fn a_collision_count_names_the_new_revision_differently() {
        let made =
            |collisions| match step(&[], "web", &owner(), &labels(), &template("a"), collisions) {
                Step::Create(made) => made.name_any(),
                other => panic!("expected a new revision, got {other:?}"),
            };
        assert_ne!(made(None), made(Some(1)));
    }

    #[test]
    fn the_latest_template_keeps_its_revision() {
        let revisions = [revision("a", 1), revision("b", 2)];
        assert_eq!(
            step(&revisions, "web", &owner(), &labels(), &template("b"), None),
            Step::Keep(&revisions[1])
        );
    }

    #[test]
    fn a_template_used_again_takes_the_next_number() {
        let revisions = [revision("a", 1), revision("b", 2)];
        assert_eq!(
            step(&revisions, "web", &owner(), &labels(), &template("a"), None),
            Step::Renumber(&revisions[0], 3)
        );
    }

    #[test]
    fn unused_revisions_beyond_the_limit_go_oldest_first() {
        let revisions = [
            revision("d", 4),
            revision("a", 1),
            revision("c", 3),
            revision("b", 2),
        ];
        assert_eq!(
            names(&excess(&revisions, &[], 2)),
            [revisions[1].name_any(), revisions[3].name_any()]
        );
    }

    #[test]
    fn revisions_in_use_by_name_or_hash_are_never_deleted() {
        let revisions = [revision("a", 1), revision("b", 2), revision("c", 3)];
        let hash_of_b = revisions[1].labels().get(HASH_LABEL).cloned().unwrap();
        let in_use = [revisions[0].name_any(), hash_of_b];
        assert_eq!(
            names(&excess(&revisions, &in_use, 0)),
            [revisions[2].name_any()]
        );
    }

    #[test]
    fn nothing_is_deleted_within_the_limit() {
        let revisions = [revision("a", 1), revision("b", 2)];
        assert!(excess(&revisions, &[], 10).is_empty());
    }
}
