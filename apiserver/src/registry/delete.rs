//! Delete and deletecollection: preconditions, propagation finalizers, and graceful
//! deletion (an object held by finalizers or a grace period is only marked deleted).

use keelson_storage::{Compare, Op, TxnRequest};
use serde_json::{json, Value};

use super::{
    meta_mut, meta_str, now_rfc3339, ListOptions, Outcome, Registry, Target, WriteOptions,
    WRITE_RETRIES,
};
use crate::status::{ApiError, ApiResult};

impl Registry {
    /// Deletes an object, or marks it deleted when finalizers or a grace period hold it.
    pub async fn delete(
        &self,
        target: &Target<'_>,
        name: &str,
        options: &Value,
        opts: &WriteOptions,
    ) -> ApiResult<Outcome> {
        for _ in 0..WRITE_RETRIES {
            let (kv, current) = self.current(target, name).await?;
            if let Some(uid) = options
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
            {
                let actual = meta_str(&current, "uid").unwrap_or("");
                if uid != actual {
                    return Err(ApiError::conflict(target.resource.group(), target.resource.plural(), name, &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                    )));
                }
            }
            if let Some(rv) = options
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
            {
                let actual = kv.mod_revision.to_string();
                if rv != actual {
                    return Err(ApiError::conflict(target.resource.group(), target.resource.plural(), name, &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                    )));
                }
            }
            let grace = options.get("gracePeriodSeconds").and_then(Value::as_i64);
            let propagation = options.get("propagationPolicy").and_then(Value::as_str);
            let mut finalizers: Vec<Value> = current
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let added = match propagation {
                Some("Foreground") => Some("foregroundDeletion"),
                Some("Orphan") => Some("orphan"),
                _ => None,
            };
            if let Some(f) = added {
                if !finalizers.iter().any(|x| x == f) {
                    finalizers.push(json!(f));
                }
            }
            let grace = grace.unwrap_or_else(|| target.strategy().default_grace_period(&current));
            let graceful = target.strategy().graceful_delete(&current) && grace != 0;
            if !finalizers.is_empty() || graceful || target.strategy().pending_finalizers(&current)
            {
                if meta_str(&current, "deletionTimestamp").is_some() && added.is_none() {
                    return Ok(Outcome {
                        code: 200,
                        object: current,
                        warnings: vec![],
                    });
                }
                let mut marked = current.clone();
                let meta = meta_mut(&mut marked)?;
                meta.entry("deletionTimestamp")
                    .or_insert_with(|| json!(now_rfc3339()));
                meta.insert(
                    "deletionGracePeriodSeconds".into(),
                    json!(if graceful { grace } else { 0 }),
                );
                if !finalizers.is_empty() {
                    meta.insert("finalizers".into(), Value::Array(finalizers));
                }
                target.strategy().prepare_for_delete(&mut marked);
                if opts.dry_run {
                    return Ok(Outcome {
                        code: 200,
                        object: marked,
                        warnings: vec![],
                    });
                }
                let key = target.key(name);
                let response = self
                    .store
                    .txn(TxnRequest {
                        compare: vec![Compare::ModRevision {
                            key: key.clone().into_bytes(),
                            revision: kv.mod_revision,
                        }],
                        success: vec![Op::Put {
                            key: key.into_bytes(),
                            value: target.encode(&marked),
                            lease: kv.lease,
                        }],
                        failure: vec![],
                    })
                    .await?;
                if response.succeeded {
                    if let Some(meta) = marked.get_mut("metadata").and_then(Value::as_object_mut) {
                        meta.insert(
                            "resourceVersion".into(),
                            json!(response.revision.to_string()),
                        );
                    }
                    return Ok(Outcome {
                        code: 200,
                        object: marked,
                        warnings: vec![],
                    });
                }
                continue;
            }
            if opts.dry_run {
                return Ok(Outcome {
                    code: 200,
                    object: current,
                    warnings: vec![],
                });
            }
            let key = target.key(name);
            let mut success = vec![Op::delete(key.clone())];
            for released in target.strategy().released_keys(&current) {
                success.push(Op::delete(released));
            }
            let response = self
                .store
                .txn(TxnRequest {
                    compare: vec![Compare::ModRevision {
                        key: key.into_bytes(),
                        revision: kv.mod_revision,
                    }],
                    success,
                    failure: vec![],
                })
                .await?;
            if response.succeeded {
                return Ok(Outcome {
                    code: 200,
                    object: current,
                    warnings: vec![],
                });
            }
        }
        Err(ApiError::conflict(
            target.resource.group(),
            target.resource.plural(),
            name,
            "the object kept changing while it was being deleted",
        ))
    }

    /// Deletes every object a list would return.
    pub async fn delete_collection(
        &self,
        target: &Target<'_>,
        list: &ListOptions,
        options: &Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let listed = self.list(target, list).await?;
        let mut deleted = Vec::new();
        for item in listed
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = meta_str(item, "name") else {
                continue;
            };
            let namespace = meta_str(item, "namespace").map(str::to_string);
            let item_target = target.in_namespace(namespace.as_deref());
            match self.delete(&item_target, name, options, opts).await {
                Ok(outcome) => deleted.push(outcome.object),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "kind": format!("{}List", target.kind()),
            "apiVersion": target.resource.api_version(),
            "metadata": {},
            "items": deleted,
        }))
    }
}
