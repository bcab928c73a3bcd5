//! Update and patch: both read the current object, apply the new content (to a
//! subresource's part only, when they address one), and write with optimistic concurrency,
//! retrying an unconditional write when another write wins the race.

use keelson_storage::{Compare, KeyValue, Op, TxnRequest};
use serde_json::{json, Value};

use super::{
    meta_mut, meta_str, subresource, Outcome, Registry, Target, WriteOptions, WRITE_RETRIES,
};
use crate::patch::{self, PatchType};
use crate::status::{ApiError, ApiResult};

/// The 409 of a write based on an old resourceVersion, in upstream's words.
fn stale(target: &Target<'_>, name: &str) -> ApiError {
    ApiError::conflict(
        target.resource.group(),
        target.resource.plural(),
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

impl Registry {
    /// Replaces an object (PUT), or one of its subresources. An update that names no
    /// resourceVersion is unconditional: when another write wins the race, it is applied
    /// again to the newer object, as upstream does, instead of failing with a conflict.
    pub async fn update(
        &self,
        target: &Target<'_>,
        name: &str,
        subresource: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Outcome> {
        let wanted_rv = meta_str(&body, "resourceVersion")
            .filter(|rv| !rv.is_empty())
            .map(str::to_string);
        if let Some(rv) = &wanted_rv {
            crate::params::parse_revision(rv)?;
        }
        let mut last_err = None;
        for _ in 0..WRITE_RETRIES {
            let (kv, current) = self.current(target, name).await?;
            if let Some(rv) = wanted_rv.as_deref() {
                if rv != kv.mod_revision.to_string() {
                    return Err(stale(target, name));
                }
            }
            match self
                .replace(target, name, subresource, &kv, &current, body.clone(), opts)
                .await
            {
                Err(e) if e.reason == "Conflict" && wanted_rv.is_none() => {
                    last_err = Some(e);
                    tokio::task::yield_now().await;
                }
                other => return other,
            }
        }
        Err(last_err.unwrap_or_else(|| ApiError::internal("update retries exhausted")))
    }

    /// Applies a patch to an object or subresource, retrying when another write wins.
    pub async fn patch(
        &self,
        target: &Target<'_>,
        name: &str,
        subresource: Option<&str>,
        patch_type: PatchType,
        patch_body: &[u8],
        opts: &WriteOptions,
    ) -> ApiResult<Outcome> {
        let parsed = patch::parse(patch_type, patch_body)?;
        let writer = patch::Writer::new(target, subresource, opts);
        let applied_opts;
        let opts = if patch_type == PatchType::Apply && writer.tracks_apply() {
            applied_opts = WriteOptions {
                applied: true,
                ..opts.clone()
            };
            &applied_opts
        } else {
            opts
        };
        let mut last_err = None;
        for _ in 0..WRITE_RETRIES {
            let (kv, current) = match self.current(target, name).await {
                Ok(found) => found,
                Err(e)
                    if e.code == 404 && patch_type == PatchType::Apply && subresource.is_none() =>
                {
                    // Server-side apply creates what is missing.
                    let definition = target.resource.kind_definition();
                    let mut obj =
                        patch::apply_as(patch_type, &json!({}), &parsed, &definition, &writer)?;
                    crate::strategy::set(&mut obj, &["metadata", "name"], json!(name));
                    return self.create(target, obj, opts).await;
                }
                Err(e) => return Err(e),
            };
            let view = subresource::view(target, subresource, &current)?;
            let definition = match subresource {
                Some("scale") => "io.k8s.api.autoscaling.v1.Scale".to_string(),
                _ => target.resource.kind_definition(),
            };
            let patched = patch::apply_as(patch_type, &view, &parsed, &definition, &writer)?;
            // The patched object's resourceVersion is a precondition, whichever patch set it
            // (kubectl's managedFields migration sets it with a JSON patch).
            if let Some(rv) = meta_str(&patched, "resourceVersion").filter(|rv| !rv.is_empty()) {
                crate::params::parse_revision(rv)?;
                if rv != kv.mod_revision.to_string() {
                    return Err(stale(target, name));
                }
            }
            match self
                .replace(target, name, subresource, &kv, &current, patched, opts)
                .await
            {
                Err(e) if e.reason == "Conflict" => last_err = Some(e),
                other => return other,
            }
        }
        Err(last_err.unwrap_or_else(|| ApiError::internal("patch retries exhausted")))
    }

    /// Replaces the object read as `kv` (or one of its subresources) with `body`: what
    /// update and patch share once they know the new content.
    #[allow(clippy::too_many_arguments)]
    async fn replace(
        &self,
        target: &Target<'_>,
        name: &str,
        subresource: Option<&str>,
        kv: &KeyValue,
        current: &Value,
        body: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Outcome> {
        let mut warnings = Vec::new();
        // An apply's managedFields survive a subresource keeping only its part of the body.
        let applied_managed = opts
            .applied
            .then(|| body.pointer("/metadata/managedFields").cloned());
        let mut new = subresource::apply(
            self,
            target,
            subresource,
            current,
            body,
            opts,
            &mut warnings,
        )?;
        if let Some(managed) = applied_managed {
            if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                match managed {
                    Some(list) => meta.insert("managedFields".into(), list),
                    None => meta.shift_remove("managedFields"),
                };
            }
        }
        self.write_update(target, name, subresource, kv, current, new, opts, warnings)
            .await
    }

    /// The common tail of update and patch: carry over what may not change, validate,
    /// bump the generation, and write with optimistic concurrency.
    #[allow(clippy::too_many_arguments)]
    async fn write_update(
        &self,
        target: &Target<'_>,
        name: &str,
        subresource: Option<&str>,
        kv: &KeyValue,
        current: &Value,
        mut new: Value,
        opts: &WriteOptions,
        warnings: Vec<String>,
    ) -> ApiResult<Outcome> {
        if meta_str(&new, "name") != Some(name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&new, "name").unwrap_or("")
            )));
        }
        {
            let meta = meta_mut(&mut new)?;
            for kept in [
                "uid",
                "creationTimestamp",
                "namespace",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match current.get("metadata").and_then(|m| m.get(kept)) {
                    Some(v) => {
                        meta.insert(kept.into(), v.clone());
                    }
                    None => {
                        meta.remove(kept);
                    }
                }
            }
            meta.insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
        }
        if !opts.applied {
            patch::Writer::new(target, subresource, opts).record_update(
                Some(current),
                &mut new,
                &patch::now(),
            );
        }
        // Subresources change only their part; the strategy guards the main resource's.
        if subresource.is_none() {
            target.strategy().prepare_for_update(&mut new, current);
        }
        if new.get("spec") != current.get("spec") {
            if let Some(generation) = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
            {
                meta_mut(&mut new)?
                    .insert("generation".into(), json!(generation.saturating_add(1)));
            }
        }
        // Subresource writes change only their part (checked where they are applied); the
        // update rules of the main resource (such as a pod's immutable spec) do not apply.
        self.validate(target, &new, subresource.is_none().then_some(current))?;
        if new == *current {
            // Nothing changed: upstream writes nothing and keeps the resourceVersion.
            return Ok(Outcome {
                code: 200,
                object: new,
                warnings,
            });
        }
        let key = target.key(name);
        // A deleted object whose last finalizer went (and whose grace period is over) goes.
        let finalized = meta_str(&new, "deletionTimestamp").is_some()
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(|f| f.is_empty())
            && !target.strategy().pending_finalizers(&new)
            && new
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0;
        if opts.dry_run {
            return Ok(Outcome {
                code: 200,
                object: new,
                warnings,
            });
        }
        let mut success = vec![if finalized {
            Op::delete(key.clone())
        } else {
            Op::Put {
                key: key.clone().into_bytes(),
                value: target.encode(&new),
                lease: kv.lease,
            }
        }];
        if finalized {
            for released in target.strategy().released_keys(&new) {
                success.push(Op::delete(released));
            }
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
        if !response.succeeded {
            return Err(stale(target, name));
        }
        if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert(
                "resourceVersion".into(),
                json!(response.revision.to_string()),
            );
        }
        Ok(Outcome {
            code: 200,
            object: new,
            warnings,
        })
    }
}
