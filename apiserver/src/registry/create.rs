//! Create: name generation, the metadata the server sets, the namespace check, and the
//! write (with the strategy's reservations) that fails if the object exists.

use keelson_storage::{Compare, Op, OpResponse, TxnRequest};
use serde_json::{json, Value};

use super::{meta_mut, meta_str, now_rfc3339, Outcome, Registry, Target, WriteOptions};
use crate::patch;
use crate::status::{ApiError, ApiResult};

/// The suffix `generateName` gets: 5 characters from upstream's alphabet without vowels.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bits = uuid::Uuid::new_v4().as_u128();
    (0..5)
        .map(|i| {
            let index = ((bits >> (i * 8)) & 0xff) as usize % ALPHABET.len();
            ALPHABET.get(index).map_or('x', |b| *b as char)
        })
        .collect()
}

impl Registry {
    pub async fn create(
        &self,
        target: &Target<'_>,
        body: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Outcome> {
        let mut warnings = Vec::new();
        let mut obj = self.decode_object(target, body, opts, &mut warnings)?;
        let strategy = target.strategy();
        {
            let namespaced = target.resource.namespaced();
            let meta = meta_mut(&mut obj)?;
            match (namespaced, target.namespace, meta.get("namespace").and_then(Value::as_str)) {
                (true, Some(ns), None | Some("")) => {
                    meta.insert("namespace".into(), json!(ns));
                }
                (true, Some(ns), Some(body_ns)) if body_ns != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                (true, None, _) => {
                    return Err(ApiError::bad_request("a namespaced resource needs a namespace in the path"))
                }
                (false, _, _) => {
                    meta.remove("namespace");
                }
                _ => {}
            }
            let has_name = meta
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if !has_name {
                if let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
                    if !prefix.is_empty() {
                        let name = format!("{prefix}{}", random_suffix());
                        meta.insert("name".into(), json!(name));
                    }
                }
            }
            meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
            for cleared in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "selfLink",
            ] {
                meta.remove(cleared);
            }
        }
        if target.has_status() && !strategy.keeps_status_on_create() {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        if target.has_status() && obj.get("spec").is_some() {
            meta_mut(&mut obj)?.insert("generation".into(), json!(1));
        }
        if !opts.applied {
            patch::Writer::new(target, None, opts).record_update(None, &mut obj, &patch::now());
        }
        strategy.prepare_for_create(&mut obj);
        self.validate(target, &obj, None)?;
        self.check_namespace(target).await?;
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        let key = target.key(&name);
        let lease = if Self::is_event(target) && !opts.dry_run {
            self.event_lease().await?
        } else {
            0
        };
        for attempt in 0..8 {
            let reservations = strategy.reservations(&mut obj, attempt);
            if opts.dry_run {
                if self.read_kv(&key).await?.is_some() {
                    return Err(ApiError::already_exists(
                        target.resource.group(),
                        target.resource.plural(),
                        &name,
                    ));
                }
                return Ok(Outcome {
                    code: 201,
                    object: obj,
                    warnings,
                });
            }
            let mut compare = vec![Compare::Absent {
                key: key.clone().into_bytes(),
            }];
            let mut success = vec![Op::Put {
                key: key.clone().into_bytes(),
                value: target.encode(&obj),
                lease,
            }];
            for r in &reservations {
                compare.push(Compare::Absent {
                    key: r.key.clone().into_bytes(),
                });
                success.push(Op::put(
                    r.key.clone(),
                    serde_json::to_vec(&r.value).unwrap_or_default(),
                ));
            }
            let response = self
                .store
                .txn(TxnRequest {
                    compare,
                    success,
                    failure: vec![Op::get(key.clone())],
                })
                .await?;
            if response.succeeded {
                if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.insert(
                        "resourceVersion".into(),
                        json!(response.revision.to_string()),
                    );
                }
                return Ok(Outcome {
                    code: 201,
                    object: obj,
                    warnings,
                });
            }
            let exists = matches!(
                response.responses.first(),
                Some(OpResponse::Get { kv: Some(_) })
            );
            if exists || reservations.is_empty() {
                return Err(ApiError::already_exists(
                    target.resource.group(),
                    target.resource.plural(),
                    &name,
                ));
            }
        }
        Err(ApiError::internal(
            "could not reserve what the object needs; try again",
        ))
    }

    async fn check_namespace(&self, target: &Target<'_>) -> ApiResult<()> {
        let Some(ns) = target.namespace.filter(|_| target.resource.namespaced()) else {
            return Ok(());
        };
        let key = format!("/registry/namespaces/{ns}");
        let Some(kv) = self.read_kv(&key).await? else {
            return Err(ApiError::not_found("", "namespaces", ns));
        };
        let namespace = crate::stored::decode(&kv)?;
        if namespace.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
            || meta_str(&namespace, "deletionTimestamp").is_some()
        {
            let mut err = ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ));
            err.details = Some(
                json!({ "name": target.resource.plural(), "kind": target.resource.plural(), "causes": [{
                    "reason": "NamespaceTerminating",
                    "message": format!("namespace {ns} is being terminated"),
                    "field": "metadata.namespace",
                }]}),
            );
            return Err(err);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_suffixes_use_upstream_alphabet() {
        let s = random_suffix();
        assert_eq!(s.len(), 5);
        assert!(s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }
}
