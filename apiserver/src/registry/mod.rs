//! The generic registry: create, get, list, update, patch, delete and deletecollection for
//! every resource, over the store, parameterised by the resource's catalogue entry and its
//! [`Strategy`]. Objects are stored as JSON at `<storage prefix><namespace>/<name>`; the
//! store's revision is their `resourceVersion`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use keelson_storage::{Compare, KeyValue, Member, Op, OpResponse, RangeRequest, TxnRequest};
use serde_json::{json, Map, Value};

use crate::patch::{self, PatchType};
use crate::resource::{Decoding, Descriptor, Resources};
use crate::selectors::{field_value, FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use crate::strategy::Strategy;
use crate::validation;

/// `fieldValidation`: what to do with unknown fields in a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(value: Option<&str>) -> ApiResult<FieldValidation> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
            ))),
        }
    }
}

/// Options every write shares.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: Option<String>,
    /// `force` of an apply: take fields other managers own.
    pub force: bool,
    /// The request's User-Agent, whose product names the field manager when the request
    /// names none.
    pub user_agent: Option<String>,
    /// Set by server-side apply: the object's managedFields are the apply's already.
    pub applied: bool,
    /// Fields the request body named twice (found while decoding its bytes).
    pub duplicate_fields: Vec<String>,
}

/// A write's result: the HTTP code, the object, and warnings for the `Warning` header.
#[derive(Debug)]
pub struct Outcome {
    pub code: u16,
    pub object: Value,
    pub warnings: Vec<String>,
}

/// `labelSelector`, `fieldSelector`, `limit`, `continue`, `resourceVersion`,
/// `resourceVersionMatch` of a list.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<u64>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

/// One row of the generated route table: a served resource and its storage prefix.
pub struct Route {
    pub catalogue_index: usize,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub storage_prefix: &'static str,
}

/// The resource a request addresses.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub resource: &'static Descriptor,
    pub namespace: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A built-in resource by group, version and plural (custom resources are found through
    /// [`Registry::target`]).
    pub fn builtin(
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&'a str>,
    ) -> Option<Target<'a>> {
        crate::resource::find_builtin(group, version, plural).map(|resource| Target {
            resource,
            namespace,
        })
    }

    /// A stored object as this resource's version serves it.
    pub fn from_storage(&self, obj: Value) -> Value {
        let conversion = self.conversion();
        if conversion == crate::conversion::Conversion::None {
            return obj;
        }
        let mut converted = conversion.from_storage(obj);
        crate::field_order::canonicalize(&mut converted);
        converted
    }

    fn conversion(&self) -> crate::conversion::Conversion {
        self.resource.conversion
    }

    /// Whether this resource's version is converted from another stored version.
    pub fn converts(&self) -> bool {
        self.conversion() != crate::conversion::Conversion::None
    }

    /// Reads a stored value as this resource's version.
    pub fn decode(&self, kv: &KeyValue) -> ApiResult<Value> {
        crate::stored::decode(kv).map(|obj| self.from_storage(obj))
    }

    /// The bytes to store for an object of this resource's version.
    fn encode(&self, obj: &Value) -> Vec<u8> {
        let stored = self.conversion().to_storage(obj.clone());
        crate::stored::encode(&stored)
    }

    /// The same resource in another namespace.
    pub fn in_namespace<'b>(&self, namespace: Option<&'b str>) -> Target<'b> {
        Target {
            resource: self.resource,
            namespace,
        }
    }

    pub fn strategy(&self) -> &'static dyn Strategy {
        self.resource.strategy
    }
    fn kind(&self) -> &'static str {
        self.resource.kind()
    }
    fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(self.resource.group(), self.resource.plural(), name)
    }
    /// The key prefix of a list: the whole resource, or one namespace of it.
    pub fn prefix(&self) -> String {
        match self.namespace {
            Some(ns) if self.resource.namespaced() => {
                format!("{}{ns}/", self.resource.storage_prefix)
            }
            _ => self.resource.storage_prefix.to_string(),
        }
    }
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }
    fn has_status(&self) -> bool {
        self.resource.subresource("status").is_some()
    }
}

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

/// Events written with one lease at most (upstream's `leaseMaxAttachedObjectCount`).
const EVENTS_PER_LEASE: usize = 1000;

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

fn meta_mut(obj: &mut Value) -> ApiResult<&mut Map<String, Value>> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    let meta = obj
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    match meta.and_then(Value::as_object_mut) {
        Some(m) => Ok(m),
        None => Err(ApiError::bad_request("metadata must be an object")),
    }
}

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

/// Finds fields of `input` the typed decode dropped: they are unknown to the schema.
fn unknown_fields(input: &Value, normalized: &Value, path: &str, out: &mut Vec<String>) {
    match (input, normalized) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(nv) => unknown_fields(v, nv, &here, out),
                    None if v.is_null() => {}
                    None => out.push(here),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, nv)) in a.iter().zip(b).enumerate() {
                unknown_fields(v, nv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The registry over one store member.
pub struct Registry {
    store: Member,
    /// The resources served: the built-ins and the custom resources of Established CRDs.
    pub resources: Resources,
    caches: std::sync::Arc<crate::watch_cache::WatchCaches>,
    event_ttl: Duration,
    /// The lease events are written with: its id, when it was granted, and how many
    /// events it holds.
    event_lease: Mutex<Option<(u64, Instant, usize)>>,
    shutdown: tokio_util::sync::CancellationToken,
    /// Health of the components that run with this server, by ComponentStatus name.
    components: Mutex<std::collections::BTreeMap<String, Result<(), String>>>,
}

/// The 409 of a write based on an old resourceVersion, in upstream's words.
fn stale(target: &Target<'_>, name: &str) -> ApiError {
    ApiError::conflict(
        target.resource.group(),
        target.resource.plural(),
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )
}

/// How often a write without a resourceVersion precondition (an unconditional update, a
/// patch, a delete) is applied again to the newer object when another write won the race.
const WRITE_RETRIES: usize = 64;

impl Registry {
    pub fn new(store: Member, event_ttl: Duration, watch_cache_history: usize) -> Registry {
        Registry {
            caches: std::sync::Arc::new(crate::watch_cache::WatchCaches::new(
                store.clone(),
                watch_cache_history,
            )),
            store,
            resources: Resources::default(),
            event_ttl,
            event_lease: Mutex::new(None),
            shutdown: tokio_util::sync::CancellationToken::new(),
            components: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    pub fn store(&self) -> &Member {
        &self.store
    }

    /// The served resource a request names, built-in or custom.
    pub fn target<'a>(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&'a str>,
    ) -> Option<Target<'a>> {
        self.resources
            .find(group, version, plural)
            .map(|resource| Target {
                resource,
                namespace,
            })
    }

    /// Records the health of a component that runs with this server (`controller-manager`,
    /// `scheduler`), as ComponentStatuses report it.
    pub fn set_component_health(&self, name: &str, health: Result<(), String>) {
        if let Ok(mut components) = self.components.lock() {
            components.insert(name.to_string(), health);
        }
    }

    /// The recorded health of a component, if it runs with this server.
    pub fn component_health(&self, name: &str) -> Option<Result<(), String>> {
        self.components.lock().ok()?.get(name).cloned()
    }

    /// Cancelled when the server shuts down; watches end then.
    pub fn shutdown_token(&self) -> tokio_util::sync::CancellationToken {
        self.shutdown.clone()
    }

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

    /// Type-checks a body against its kind, drops unknown fields, and reports them as
    /// `fieldValidation` asks.
    pub fn decode_object(
        &self,
        target: &Target<'_>,
        mut input: Value,
        opts: &WriteOptions,
        warnings: &mut Vec<String>,
    ) -> ApiResult<Value> {
        let validation = opts.field_validation;
        let kind = target.kind();
        let api_version = target.resource.api_version();
        let Some(obj) = input.as_object_mut() else {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: the body must be a JSON object",
                target.resource.version()
            )));
        };
        match obj.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {
                obj.insert("apiVersion".into(), json!(api_version));
            }
            Some(v) if v == api_version => {}
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({api_version})"
                )))
            }
        }
        match obj.get("kind").and_then(Value::as_str) {
            None | Some("") => {
                obj.insert("kind".into(), json!(kind));
            }
            Some(k) if k == kind => {}
            Some(k) => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({kind})"
                )))
            }
        }
        let normalized = match &target.resource.decoding {
            Decoding::Typed(typed) => (typed.normalize)(&input).map_err(|e| {
                ApiError::bad_request(format!(
                    "{kind} in version \"{}\" cannot be handled as a {kind}: {e}",
                    target.resource.version()
                ))
            })?,
            Decoding::Schema => {
                let mut pruned = input.clone();
                target.strategy().prune(&mut pruned);
                pruned
            }
        };
        if validation != FieldValidation::Ignore {
            let mut unknown = Vec::new();
            unknown_fields(&input, &normalized, "", &mut unknown);
            if !unknown.is_empty() || !opts.duplicate_fields.is_empty() {
                let listed: Vec<String> = opts
                    .duplicate_fields
                    .iter()
                    .map(|f| format!("duplicate field \"{f}\""))
                    .chain(unknown.iter().map(|f| format!("unknown field \"{f}\"")))
                    .collect();
                if validation == FieldValidation::Strict {
                    return Err(ApiError::bad_request(format!(
                        "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
                        target.resource.version(),
                        listed.join(", ")
                    )));
                }
                warnings.extend(listed);
            }
        }
        let mut normalized = normalized;
        target.strategy().default(&mut normalized);
        Ok(normalized)
    }

    async fn read_kv(&self, key: &str) -> ApiResult<Option<KeyValue>> {
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

    /// A lease shared by the events written in one window (a minute, or the TTL when
    /// shorter), so they expire between `--event-ttl` and TTL + window without one lease
    /// per event; at most [`EVENTS_PER_LEASE`] events share one, as upstream caps the
    /// objects attached to a lease (attaching to a lease that holds many keys costs in
    /// proportion to them).
    fn event_lease_window(&self) -> Duration {
        self.event_ttl
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    async fn event_lease(&self) -> ApiResult<u64> {
        let reusable = {
            let mut cached = self
                .event_lease
                .lock()
                .map_err(|_| ApiError::internal("lease cache poisoned"))?;
            match cached.as_mut() {
                Some((id, granted, attached))
                    if granted.elapsed() < self.event_lease_window()
                        && *attached < EVENTS_PER_LEASE =>
                {
                    *attached += 1;
                    Some(*id)
                }
                _ => None,
            }
        };
        if let Some(id) = reusable {
            return Ok(id);
        }
        let lease = self
            .store
            .lease_grant(self.event_ttl.as_secs().max(1) + self.event_lease_window().as_secs())
            .await?;
        if let Ok(mut cached) = self.event_lease.lock() {
            *cached = Some((lease.id, Instant::now(), 1));
        }
        Ok(lease.id)
    }

    fn is_event(target: &Target<'_>) -> bool {
        target.resource.plural() == "events"
    }

    fn validate(&self, target: &Target<'_>, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
        let strategy = target.strategy();
        let mut causes = Vec::new();
        validation::validate_metadata(obj, strategy.name_rule(), &mut causes);
        strategy.validate(obj, &mut causes);
        if let Some(old) = old {
            strategy.validate_update(obj, old, &mut causes);
        }
        strategy.validate_rules(obj, old, &mut causes);
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                target.kind(),
                target.resource.group(),
                meta_str(obj, "name").unwrap_or(""),
                causes,
            ))
        }
    }

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

    /// Reads the object a write applies to (404 if absent).
    async fn current(&self, target: &Target<'_>, name: &str) -> ApiResult<(KeyValue, Value)> {
        match self.read_kv(&target.key(name)).await? {
            Some(kv) => {
                let obj = target.decode(&kv)?;
                Ok((kv, obj))
            }
            None => Err(target.not_found(name)),
        }
    }

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
                if target.resource.plural() == "namespaces" && target.resource.group().is_empty() {
                    crate::strategy::set(
                        &mut marked,
                        &["status"],
                        json!({ "phase": "Terminating" }),
                    );
                }
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

mod subresource;

pub use subresource::view as subresource_view;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_found_at_their_path() {
        let input =
            json!({"spec": {"replicas": 1, "bogus": 2, "template": {"x": null}}, "extra": [1]});
        let normalized = json!({"spec": {"replicas": 1, "template": {}}});
        let mut out = Vec::new();
        unknown_fields(&input, &normalized, "", &mut out);
        out.sort();
        assert_eq!(out, vec!["extra", "spec.bogus"]);
    }

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

    #[test]
    fn generated_suffixes_use_upstream_alphabet() {
        let s = random_suffix();
        assert_eq!(s.len(), 5);
        assert!(s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }
}
