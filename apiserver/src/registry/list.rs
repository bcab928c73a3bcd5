//! Reads: get, list (from the watch cache when the request allows it, else page by page
//! from the store, with continue tokens), and the selectors a list filters by.

use std::time::{Duration, Instant};

use base64::Engine;
use keelson_storage::{KeyValue, RangeRequest};
use serde_json::{json, Map, Value};

use super::{ListOptions, Registry, Target};
use crate::selectors::{field_value, FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};

/// Field selectors every resource supports.
const COMMON_FIELD_LABELS: &[&str] = &["metadata.name", "metadata.namespace"];

/// Checks a field selector against what the resource supports (400 otherwise).
pub fn check_field_selector(target: &Target<'_>, fields: &FieldSelector) -> ApiResult<()> {
    let extra = target.strategy().field_labels();
    for field in fields.fields() {
        if !COMMON_FIELD_LABELS.contains(&field) && !extra.iter().any(|l| l.name == field) {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {field}"
            )));
        }
    }
    Ok(())
}

/// Whether an object of `target`'s resource passes a list's selectors.
pub fn selected(
    target: &Target<'_>,
    obj: &Value,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> bool {
    let empty = Map::new();
    let object_labels = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let extra = target.strategy().field_labels();
    labels.matches(object_labels)
        && fields.matches(|path| match path {
            "metadata.name" | "metadata.namespace" => {
                Some(field_value(obj, path).unwrap_or_default())
            }
            other => extra.iter().find(|l| l.name == other).map(|l| l.value(obj)),
        })
}

/// The list continue token: the revision of the first page and the last key returned.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    start: String,
}

fn encode_continue(rv: u64, last_key: &str) -> String {
    let token = ContinueToken {
        rv,
        start: last_key.to_string(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_request("continue key is not valid"))
}

impl Registry {
    /// Primes the watch cache of every served resource, as upstream does at start, so the
    /// first list or watch of a resource does not pay for it.
    pub async fn prime_caches(&self) {
        let mut prefixes: Vec<&str> = crate::resource::builtin()
            .iter()
            .map(|r| r.storage_prefix)
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        for prefix in prefixes {
            let _ = self.caches.get(prefix).await;
        }
    }

    /// The watch cache of a resource.
    pub async fn cache(
        &self,
        target: &Target<'_>,
    ) -> Option<std::sync::Arc<crate::watch_cache::Cache>> {
        self.caches.get(target.resource.storage_prefix).await
    }

    /// The store's current revision, read through the resource's prefix.
    async fn current_revision(&self, target: &Target<'_>) -> ApiResult<u64> {
        let mut probe = RangeRequest::prefix(target.prefix());
        probe.limit = 1;
        probe.keys_only = true;
        Ok(self.store.range(probe).await?.revision)
    }

    /// Waits up to 3 s, as upstream's watch cache does, for the store to reach a revision a
    /// client named; a revision still in the future is a 504 `Too large resource version`.
    pub async fn wait_for_revision(&self, target: &Target<'_>, revision: u64) -> ApiResult<()> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let current = self.current_revision(target).await?;
            if revision <= current {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(keelson_storage::StoreError::FutureRevision {
                    requested: revision,
                    current,
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The objects of a list from the watch cache, when the request allows it: no paging and
    /// no exact revision. A list without a resourceVersion is consistent: the cache must
    /// first reach the store's current revision.
    async fn list_from_cache(
        &self,
        target: &Target<'_>,
        opts: &ListOptions,
    ) -> ApiResult<Option<(u64, Vec<KeyValue>)>> {
        if opts.continue_token.is_some()
            || opts.limit.is_some_and(|l| l > 0)
            || opts.resource_version_match.as_deref() == Some("Exact")
        {
            return Ok(None);
        }
        let at_least = match opts.resource_version.as_deref() {
            None | Some("") => self.current_revision(target).await?,
            Some(rv) => rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        };
        let Some(cache) = self.cache(target).await else {
            return Ok(None);
        };
        Ok(cache.list(target.prefix().as_bytes(), at_least).await)
    }

    pub(super) async fn read_kv(&self, key: &str) -> ApiResult<Option<KeyValue>> {
        Ok(self.store.get(key.as_bytes()).await?)
    }

    pub async fn get(&self, target: &Target<'_>, name: &str) -> ApiResult<Value> {
        match self.read_kv(&target.key(name)).await? {
            Some(kv) => target.decode(&kv),
            None => Err(target.not_found(name)),
        }
    }

    /// A GET with a `resourceVersion`: `"0"` (any) and `N` (not older than N) are served
    /// from the watch cache, once it has reached the revision; none reads the store.
    pub async fn get_at(
        &self,
        target: &Target<'_>,
        name: &str,
        resource_version: Option<&str>,
    ) -> ApiResult<Value> {
        let at_least = match resource_version {
            None | Some("") => return self.get(target, name).await,
            Some(rv) => rv
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        };
        let key = target.key(name);
        if let Some(cache) = self.cache(target).await {
            if let Some(found) = cache.get(key.as_bytes(), at_least).await {
                return match found {
                    Some(kv) => target.decode(&kv),
                    None => Err(target.not_found(name)),
                };
            }
        }
        self.get(target, name).await
    }

    /// Reads the object a write applies to (404 if absent).
    pub(super) async fn current(
        &self,
        target: &Target<'_>,
        name: &str,
    ) -> ApiResult<(KeyValue, Value)> {
        match self.read_kv(&target.key(name)).await? {
            Some(kv) => {
                let obj = target.decode(&kv)?;
                Ok((kv, obj))
            }
            None => Err(target.not_found(name)),
        }
    }

    /// Reads the keys of a list page by page, handing each to `visit` (which says whether
    /// it counted towards the limit); returns the revision read at and the continue token.
    async fn scan(
        &self,
        target: &Target<'_>,
        opts: &ListOptions,
        mut visit: impl FnMut(&KeyValue) -> ApiResult<bool>,
    ) -> ApiResult<(u64, Option<String>)> {
        check_field_selector(target, &opts.fields)?;
        if let Some((revision, kvs)) = self.list_from_cache(target, opts).await? {
            for kv in &kvs {
                visit(kv)?;
            }
            return Ok((revision, None));
        }
        let prefix = target.prefix();
        let (mut revision, mut start_after) = match &opts.continue_token {
            Some(token) => {
                let token = decode_continue(token)?;
                (token.rv, token.start.into_bytes())
            }
            None => (0, Vec::new()),
        };
        let mut serializable = false;
        if revision == 0 {
            match (
                opts.resource_version.as_deref(),
                opts.resource_version_match.as_deref(),
            ) {
                (None | Some(""), _) => {}
                (Some("0"), _) => serializable = true,
                (Some(rv), Some("Exact")) => {
                    revision = rv.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid resource version: {rv}"))
                    })?;
                }
                (Some(rv), _) => {
                    // NotOlderThan: the latest state is never older than a given revision,
                    // but the revision itself must be a number.
                    rv.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(format!("invalid resource version: {rv}"))
                    })?;
                }
            }
        }
        let limit = opts.limit.filter(|l| *l > 0);
        let mut counted = 0u64;
        let mut more;
        let mut last_key = String::new();
        loop {
            let want = limit.map_or(0, |l| l - counted);
            let page = self
                .store
                .range(RangeRequest {
                    prefix: prefix.clone().into_bytes(),
                    start_after: start_after.clone(),
                    // Filtering drops some; read a little more than asked.
                    limit: if want == 0 { 0 } else { want.max(64) },
                    revision,
                    serializable,
                    keys_only: false,
                })
                .await?;
            revision = page.revision;
            more = page.more;
            let mut filled = false;
            let total = page.kvs.len();
            for (i, kv) in page.kvs.iter().enumerate() {
                start_after = kv.key.clone();
                if visit(kv)? {
                    counted += 1;
                }
                if limit.is_some_and(|l| counted >= l) {
                    last_key = String::from_utf8_lossy(&kv.key).into_owned();
                    more = more || i + 1 < total;
                    filled = true;
                    break;
                }
            }
            if filled || !more {
                break;
            }
        }
        let token = (more && limit.is_some()).then(|| encode_continue(revision, &last_key));
        Ok((revision, token))
    }

    fn list_metadata(revision: u64, token: Option<String>) -> Value {
        let mut metadata = json!({ "resourceVersion": revision.to_string() });
        if let Some(token) = token {
            crate::strategy::set(&mut metadata, &["continue"], json!(token));
        }
        metadata
    }

    /// A list: the matching objects and the revision they were read at.
    pub async fn list(&self, target: &Target<'_>, opts: &ListOptions) -> ApiResult<Value> {
        let mut items = Vec::new();
        let (revision, token) = self
            .scan(target, opts, |kv| {
                let obj = target.decode(kv)?;
                let keep = selected(target, &obj, &opts.labels, &opts.fields);
                if keep {
                    items.push(obj);
                }
                Ok(keep)
            })
            .await?;
        Ok(json!({
            "kind": format!("{}List", target.kind()),
            "apiVersion": target.resource.api_version(),
            "metadata": Self::list_metadata(revision, token),
            "items": items,
        }))
    }

    /// A list encoded as JSON straight from the stored bytes, or `None` when the request
    /// needs the objects decoded (selectors, or a version converted from storage).
    pub async fn list_json(
        &self,
        target: &Target<'_>,
        opts: &ListOptions,
    ) -> ApiResult<Option<Vec<u8>>> {
        if !opts.labels.is_empty() || !opts.fields.is_empty() || target.converts() {
            return Ok(None);
        }
        let mut items: Vec<u8> = Vec::new();
        let (revision, token) = self
            .scan(target, opts, |kv| {
                if !items.is_empty() {
                    items.push(b',');
                }
                crate::stored::stamp_kv(kv, &mut items)?;
                Ok(true)
            })
            .await?;
        let head = json!({
            "kind": format!("{}List", target.kind()),
            "apiVersion": target.resource.api_version(),
            "metadata": Self::list_metadata(revision, token),
        });
        let mut out = serde_json::to_vec(&head).unwrap_or_default();
        out.pop(); // the closing brace; the items follow
        out.extend_from_slice(b",\"items\":[");
        out.extend_from_slice(&items);
        out.extend_from_slice(b"]}");
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_garbage_is_refused() {
        let token = encode_continue(42, "/registry/pods/default/a");
        let back = decode_continue(&token).unwrap();
        assert_eq!(
            (back.rv, back.start.as_str()),
            (42, "/registry/pods/default/a")
        );
        assert!(decode_continue("not a token").is_err());
    }
}
