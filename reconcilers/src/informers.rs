//! Shared informers: one watch per resource type for the whole process. The first loop that
//! asks for a type starts its reflector (a `kube_runtime` watcher feeding a cache, the
//! [`Store`]); every loop then reads the same cache and subscribes to the same stream of
//! changed objects. A subscriber that falls behind the bounded fan-out is not allowed to
//! block the watch: it is sent every cached object again instead, which a level-triggered
//! loop handles like any other change.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

/// Changes a subscriber may fall behind by before it is resynced from the cache.
const FAN_OUT: usize = 4096;

/// What a shared informer needs of a type.
pub trait Informed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}
impl<K> Informed for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// The shared cache and change stream of one resource type.
pub struct Informer<K: Informed> {
    store: Store<K>,
    changes: broadcast::Sender<Arc<K>>,
    /// True once the first list has filled the cache. (Tracked here rather than with the
    /// store's own readiness, whose waiters are not all woken when several wait at once.)
    listed: tokio::sync::watch::Receiver<bool>,
}

impl<K: Informed> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer {
            store: self.store.clone(),
            changes: self.changes.clone(),
            listed: self.listed.clone(),
        }
    }
}

impl<K: Informed> Informer<K> {
    /// The cache of every object of the type.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Every object there is once the first list is in (as an informer's handler gets an
    /// add for every existing object, however late it subscribes), then every object
    /// changed (added, modified or deleted); after falling behind, every cached object.
    /// Changes are never older than what came before them: those queued while the first
    /// list was awaited are dropped, as the cache read after it reflects them all.
    pub fn subscribe(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        // Subscribed before the cache is read, so no change falls in between.
        let receiver = self.changes.subscribe();
        let store = self.store.clone();
        let listed = self.listed.clone();
        futures::stream::unfold((receiver, Some(listed)), move |(mut receiver, unlisted)| {
            let store = store.clone();
            async move {
                if let Some(mut listed) = unlisted {
                    // A kind that never lists never changes either: waiting holds
                    // nothing back.
                    let _ = listed.wait_for(|listed| *listed).await;
                    while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) =
                        receiver.try_recv()
                    {}
                    return Some((store.state(), (receiver, None)));
                }
                match receiver.recv().await {
                    Ok(obj) => Some((vec![obj], (receiver, None))),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        Some((store.state(), (receiver, None)))
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                }
            }
        })
        .flat_map(futures::stream::iter)
    }

    /// Waits until the first list has filled the cache.
    pub async fn ready(&self) {
        let mut listed = self.listed.clone();
        let _ = listed.wait_for(|listed| *listed).await;
    }
}

/// The informers of one process, started on first use.
pub struct Informers {
    client: kube::Client,
    started: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl Informers {
    pub fn new(client: kube::Client) -> Informers {
        Informers {
            client,
            started: Mutex::new(HashMap::new()),
        }
    }

    /// The informer of `K`, starting its watch if no loop has asked for it yet.
    pub fn get<K: Informed>(&self) -> Informer<K> {
        let mut started = match self.started.lock() {
            Ok(started) => started,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(informer) = started
            .get(&TypeId::of::<K>())
            .and_then(|i| i.downcast_ref::<Informer<K>>())
        {
            return informer.clone();
        }
        let informer = self.start::<K>();
        started.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        informer
    }

    fn start<K: Informed>(&self) -> Informer<K> {
        let (store, writer) = reflector::store();
        let (changes, _) = broadcast::channel(FAN_OUT);
        let (listed_tx, listed) = tokio::sync::watch::channel(false);
        let api: Api<K> = Api::all(self.client.clone());
        let sender = changes.clone();
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff();
        tokio::spawn(async move {
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                let objects = match event {
                    Ok(watcher::Event::Apply(obj) | watcher::Event::Delete(obj)) => vec![obj],
                    Ok(watcher::Event::InitApply(obj)) => vec![obj],
                    Ok(watcher::Event::InitDone) => {
                        let _ = listed_tx.send(true);
                        continue;
                    }
                    Ok(watcher::Event::Init) => continue,
                    Err(e) => {
                        tracing::debug!(kind = %K::kind(&()), "watch failed, retrying: {e}");
                        continue;
                    }
                };
                for obj in objects {
                    // No subscriber yet is fine: the cache has the object.
                    let _ = sender.send(Arc::new(obj));
                }
            }
        });
        Informer {
            store,
            changes,
            listed,
        }
    }
}
