//! Watches: a stream of `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK`/`ERROR` events for one
//! resource, from a resourceVersion, filtered by selectors, over the store's watch.
//! Watch-list (`sendInitialEvents=true`) sends the current objects first and then a
//! bookmark annotated `k8s.io/initial-events-end`.

use std::time::Duration;

use futures::Stream;
use keelson_storage::{EventKind, WatchMessage, WatchRequest};
use serde_json::{json, Value};

use crate::registry::{check_field_selector, selected, ListOptions, Registry, Target};
use crate::status::{ApiError, ApiResult};
use crate::stored::stamp;

/// One watch event.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub object: WatchObject,
}

/// A watch event's object: decoded, or the JSON spliced from the stored bytes when nothing
/// needs the decoded form (no selectors, no conversion) — then a thousand watchers of one
/// resource cost a thousand copies, not a thousand decodes.
#[derive(Debug, Clone)]
pub enum WatchObject {
    Decoded(Value),
    Json(Vec<u8>),
}

impl WatchObject {
    pub fn into_value(self) -> Value {
        match self {
            WatchObject::Decoded(v) => v,
            WatchObject::Json(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}

/// What a watch request asked for.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub list: ListOptions,
    pub allow_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub timeout: Option<Duration>,
}

/// The longest a watch stays open unless the client asks for less.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn bookmark(target: &Target<'_>, revision: u64, initial_end: bool) -> WatchEvent {
    let mut metadata = json!({ "resourceVersion": revision.to_string() });
    if initial_end {
        crate::strategy::set(
            &mut metadata,
            &["annotations"],
            json!({ "k8s.io/initial-events-end": "true" }),
        );
    }
    WatchEvent {
        kind: "BOOKMARK",
        object: WatchObject::Decoded(json!({
            "kind": target.resource.facts.kind,
            "apiVersion": target.resource.api_version(),
            "metadata": metadata,
        })),
    }
}

fn error_event(err: &ApiError) -> WatchEvent {
    WatchEvent {
        kind: "ERROR",
        object: WatchObject::Decoded(err.to_status()),
    }
}

/// Starts a watch. Errors that show before the stream starts (bad selectors, an invalid
/// watch-list request) are returned; later ones arrive as an `ERROR` event.
pub async fn watch(
    registry: &Registry,
    target: Target<'_>,
    opts: WatchOptions,
) -> ApiResult<impl Stream<Item = WatchEvent> + Send + 'static> {
    check_field_selector(&target, &opts.list.fields)?;
    let rv = opts
        .list
        .resource_version
        .clone()
        .filter(|rv| !rv.is_empty());
    let send_initial = match opts.send_initial_events {
        Some(true) => {
            if opts.list.resource_version_match.as_deref() != Some("NotOlderThan") {
                return Err(ApiError::invalid("ListOptions", "meta.k8s.io", "", vec![crate::status::Cause {
                    reason: "FieldValueForbidden",
                    field: "resourceVersionMatch".into(),
                    message: "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan".into(),
                }]));
            }
            if !opts.allow_bookmarks {
                return Err(ApiError::invalid("ListOptions", "meta.k8s.io", "", vec![crate::status::Cause {
                    reason: "FieldValueForbidden",
                    field: "allowWatchBookmarks".into(),
                    message: "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true".into(),
                }]));
            }
            true
        }
        Some(false) => false,
        // Without a resourceVersion (or with "0"), a watch starts with the current state.
        None => matches!(rv.as_deref(), None | Some("0")),
    };
    let mut initial = Vec::new();
    let start_revision = if send_initial {
        let list_opts = ListOptions {
            limit: None,
            continue_token: None,
            resource_version: None,
            resource_version_match: None,
            ..opts.list.clone()
        };
        let listed = registry.list(&target, &list_opts).await?;
        let revision: u64 = listed
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|rv| rv.parse().ok())
            .unwrap_or(0);
        if let Some(Value::Array(items)) = listed.get("items") {
            for item in items {
                initial.push(WatchEvent {
                    kind: "ADDED",
                    object: WatchObject::Decoded(item.clone()),
                });
            }
        }
        if opts.send_initial_events == Some(true) {
            initial.push(bookmark(&target, revision, true));
        }
        revision.saturating_add(1)
    } else {
        let rv = crate::params::parse_revision(rv.as_deref().unwrap_or("0"))?;
        registry.wait_for_revision(&target, rv).await?;
        // Not past the store's revision, so one more never wraps.
        rv.saturating_add(1)
    };
    let start_revision = start_revision.max(1);
    // The watch cache serves it when its history reaches back far enough; else the store.
    let cached = match registry.cache(&target).await {
        Some(cache) => cache.watch_from(start_revision),
        None => None,
    };
    let stream = match cached {
        Some(watch) => Ok(Source::Cache(watch)),
        None => registry
            .store()
            .watch(WatchRequest {
                prefix: target.prefix().into_bytes(),
                start_revision,
            })
            .map(Source::Store),
    };
    let static_target = (
        target.in_namespace(None),
        target.namespace.map(str::to_string),
    );
    let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let shutdown = registry.shutdown_token();
    let list = opts.list;
    let allow_bookmarks = opts.allow_bookmarks;
    Ok(async_stream(
        initial,
        stream,
        static_target,
        list,
        allow_bookmarks,
        timeout,
        start_revision,
        shutdown,
    ))
}

#[allow(clippy::too_many_arguments)]
fn async_stream(
    initial: Vec<WatchEvent>,
    store_watch: keelson_storage::Result<Source>,
    target: (Target<'static>, Option<String>),
    list: ListOptions,
    allow_bookmarks: bool,
    timeout: Duration,
    start_revision: u64,
    shutdown: tokio_util::sync::CancellationToken,
) -> impl Stream<Item = WatchEvent> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<WatchEvent>(256);
    tokio::spawn(async move {
        let (target, namespace) = target;
        let target = target.in_namespace(namespace.as_deref());
        // Per watch, not per event: the key prefix it sees and whether it converts.
        let prefix = target.prefix().into_bytes();
        let converts = target.converts();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        for event in initial {
            if tx.send(event).await.is_err() {
                return;
            }
        }
        let mut store_watch = match store_watch {
            Ok(w) => w,
            Err(keelson_storage::StoreError::Compacted {
                compact_revision, ..
            }) => {
                let err = ApiError::gone(format!(
                    "too old resource version: {} ({compact_revision})",
                    start_revision.saturating_sub(1)
                ));
                let _ = tx.send(error_event(&err)).await;
                return;
            }
            Err(e) => {
                let _ = tx.send(error_event(&ApiError::from(e))).await;
                return;
            }
        };
        loop {
            let message = tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.cancelled() => return,
                _ = tx.closed() => return,
                m = store_watch.next() => m,
            };
            let Some(message) = message else { return };
            let events = match &*message {
                WatchMessage::Events { revision, .. } if *revision < start_revision => continue,
                WatchMessage::Events { events, .. } => events,
                WatchMessage::Progress { revision } => {
                    if allow_bookmarks
                        && tx.send(bookmark(&target, *revision, false)).await.is_err()
                    {
                        return;
                    }
                    continue;
                }
                WatchMessage::Compacted { compact_revision } => {
                    let err =
                        ApiError::gone(format!("too old resource version: {compact_revision}"));
                    let _ = tx.send(error_event(&err)).await;
                    return;
                }
            };
            for event in events {
                let Some(out) = translate(&target, &prefix, converts, event, &list) else {
                    continue;
                };
                if tx.send(out).await.is_err() {
                    return;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Where a watch's messages come from.
enum Source {
    Cache(crate::watch_cache::CacheWatch),
    Store(keelson_storage::WatchStream),
}

impl Source {
    async fn next(&mut self) -> Option<std::sync::Arc<WatchMessage>> {
        match self {
            Source::Cache(watch) => watch.next().await,
            Source::Store(stream) => stream.next_message().await.map(std::sync::Arc::new),
        }
    }
}

/// A store event as a watch event, with selector transitions: an object that starts
/// matching is ADDED, one that stops is DELETED.
fn translate(
    target: &Target<'_>,
    prefix: &[u8],
    converts: bool,
    event: &keelson_storage::Event,
    list: &ListOptions,
) -> Option<WatchEvent> {
    // The cache follows a whole resource; a watch in one namespace sees only its keys.
    if !event.kv.key.starts_with(prefix) {
        return None;
    }
    if list.labels.is_empty() && list.fields.is_empty() && !converts {
        let mut out = Vec::new();
        return match event.kind {
            EventKind::Put => {
                stamp(
                    &event.kv.key,
                    &event.kv.value,
                    event.kv.mod_revision,
                    &mut out,
                )
                .ok()?;
                let kind = if event.prev_kv.is_some() {
                    "MODIFIED"
                } else {
                    "ADDED"
                };
                Some(WatchEvent {
                    kind,
                    object: WatchObject::Json(out),
                })
            }
            EventKind::Delete => {
                let prev = event.prev_kv.as_ref()?;
                stamp(&prev.key, &prev.value, event.kv.mod_revision, &mut out).ok()?;
                Some(WatchEvent {
                    kind: "DELETED",
                    object: WatchObject::Json(out),
                })
            }
        };
    }
    let prev = event.prev_kv.as_ref().and_then(|kv| target.decode(kv).ok());
    let was = prev
        .as_ref()
        .is_some_and(|p| selected(target, p, &list.labels, &list.fields));
    match event.kind {
        EventKind::Put => {
            let obj = target.decode(&event.kv).ok()?;
            let is = selected(target, &obj, &list.labels, &list.fields);
            let kind = match (was, is, prev.is_some()) {
                (_, true, false) => "ADDED",
                (true, true, true) => "MODIFIED",
                (false, true, true) => "ADDED",
                (true, false, _) => "DELETED",
                (false, false, _) => return None,
            };
            Some(WatchEvent {
                kind,
                object: WatchObject::Decoded(obj),
            })
        }
        EventKind::Delete => {
            if !was {
                return None;
            }
            let mut obj = prev?;
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert(
                    "resourceVersion".into(),
                    json!(event.kv.mod_revision.to_string()),
                );
            }
            Some(WatchEvent {
                kind: "DELETED",
                object: WatchObject::Decoded(obj),
            })
        }
    }
}
