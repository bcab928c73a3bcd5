//! The generic registry: create, get, list, update, patch, delete and deletecollection for
//! every resource, over the store, parameterised by the resource's catalogue entry and its
//! [`Strategy`](crate::strategy::Strategy). Objects are stored as JSON at `<storage prefix><namespace>/<name>`; the
//! store's revision is their `resourceVersion`.
//!
//! This file holds the [`Registry`] itself; each concern has its own file: [`target`] (the
//! addressed resource and storage conversion), [`options`], [`decode`] (write bodies),
//! [`list`] (reads), [`create`], [`update`] (update and patch), [`delete`], [`events`]
//! (event leases) and [`subresource`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use keelson_storage::Member;
use serde_json::{json, Map, Value};

use crate::resource::Resources;
use crate::status::{ApiError, ApiResult};

mod create;
mod decode;
mod delete;
mod events;
mod list;
mod options;
mod subresource;
mod target;
mod update;

pub use list::{check_field_selector, selected};
pub use options::{FieldValidation, ListOptions, Outcome, WriteOptions};
pub use subresource::view as subresource_view;
pub use target::{Route, Target};

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

/// How often a write without a resourceVersion precondition (an unconditional update, a
/// patch, a delete) is applied again to the newer object when another write won the race.
const WRITE_RETRIES: usize = 64;

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
}
