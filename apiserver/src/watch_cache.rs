//! The watch cache: per resource, the current objects and recent history, fed by one store
//! watch. Watches are served from it (one store watch per resource, not per watcher) and so
//! are lists that need no exact revision or paging; a consistent list first waits until the
//! cache has caught up with the store's current revision.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use keelson_storage::{EventKind, KeyValue, Member, RangeRequest, WatchMessage, WatchRequest};
use tokio::sync::{broadcast, watch};

/// Store messages kept per resource for watchers that resume from a recent revision, by
/// default (`--default-watch-cache-size`).
pub const DEFAULT_HISTORY: usize = 4096;
/// Messages a watcher may fall behind before it is closed (it then watches again).
const FAN_OUT_BUFFER: usize = 8192;
/// How long a list waits for the cache to reach the revision it needs.
const CATCH_UP: Duration = Duration::from_secs(3);

struct State {
    objects: BTreeMap<Vec<u8>, KeyValue>,
    history: VecDeque<Arc<WatchMessage>>,
    /// The cache holds every change up to this revision.
    revision: u64,
    /// Watches from revisions after this one can be replayed from `history`.
    oldest: u64,
}

/// The cache of one resource (one storage prefix).
pub struct Cache {
    history_limit: usize,
    state: RwLock<State>,
    /// Asks the feeding store watch to report how far it has delivered.
    progress: keelson_storage::ProgressRequester,
    live: broadcast::Sender<Arc<WatchMessage>>,
    revision: watch::Receiver<u64>,
}

/// A watch on the cache: the replayed history, then live messages.
pub struct CacheWatch {
    replay: VecDeque<Arc<WatchMessage>>,
    live: broadcast::Receiver<Arc<WatchMessage>>,
}

impl CacheWatch {
    /// The next message; `None` when the cache went away or this watcher fell too far behind.
    pub async fn next(&mut self) -> Option<Arc<WatchMessage>> {
        if let Some(m) = self.replay.pop_front() {
            return Some(m);
        }
        self.live.recv().await.ok()
    }
}

fn message_revision(m: &WatchMessage) -> u64 {
    match m {
        WatchMessage::Events { revision, .. } | WatchMessage::Progress { revision } => *revision,
        WatchMessage::Compacted { compact_revision } => *compact_revision,
    }
}

impl Cache {
    /// Starts watching `from` (inclusive): `None` when the history no longer reaches back
    /// that far (the caller asks the store, which may answer 410).
    pub fn watch_from(&self, from: u64) -> Option<CacheWatch> {
        let state = self.state.read().ok()?;
        if from.saturating_sub(1) < state.oldest {
            return None;
        }
        let replay = state
            .history
            .iter()
            .filter(|m| message_revision(m) >= from)
            .cloned()
            .collect();
        // Subscribing under the lock that writers hold while they publish: nothing is
        // missed or seen twice between the replay and the live messages.
        let live = self.live.subscribe();
        Some(CacheWatch { replay, live })
    }

    /// The objects under `prefix` and the revision they are current at, once the cache has
    /// reached `at_least`; `None` if it does not in time.
    pub async fn list(&self, prefix: &[u8], at_least: u64) -> Option<(u64, Vec<KeyValue>)> {
        if !self.wait_for(at_least).await {
            return None;
        }
        let state = self.state.read().ok()?;
        let objects = state
            .objects
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, kv)| kv.clone())
            .collect();
        Some((state.revision, objects))
    }

    /// One object (or its absence) once the cache has reached `at_least`; `None` if it does
    /// not in time.
    pub async fn get(&self, key: &[u8], at_least: u64) -> Option<Option<KeyValue>> {
        if !self.wait_for(at_least).await {
            return None;
        }
        let state = self.state.read().ok()?;
        Some(state.objects.get(key).cloned())
    }

    async fn wait_for(&self, at_least: u64) -> bool {
        let mut revision = self.revision.clone();
        if *revision.borrow() < at_least {
            // Writes elsewhere in the store advance the revision without touching this
            // resource; the store watch says when it has passed them.
            self.progress.request();
        }
        let reached = tokio::time::timeout(CATCH_UP, revision.wait_for(|r| *r >= at_least)).await;
        matches!(reached, Ok(Ok(_)))
    }

    fn apply(&self, message: WatchMessage, revision_tx: &watch::Sender<u64>) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        let revision = message_revision(&message);
        if let WatchMessage::Events { events, .. } = &message {
            for event in events {
                match event.kind {
                    EventKind::Put => {
                        state.objects.insert(event.kv.key.clone(), event.kv.clone());
                    }
                    EventKind::Delete => {
                        state.objects.remove(&event.kv.key);
                    }
                }
            }
        }
        state.revision = state.revision.max(revision);
        let message = Arc::new(message);
        if matches!(*message, WatchMessage::Events { .. }) {
            state.history.push_back(message.clone());
            while state.history.len() > self.history_limit {
                if let Some(dropped) = state.history.pop_front() {
                    state.oldest = message_revision(&dropped);
                }
            }
        }
        let _ = self.live.send(message);
        let _ = revision_tx.send(state.revision);
    }
}

/// The caches of every resource in use, made on first use.
pub struct WatchCaches {
    store: Member,
    history: usize,
    caches: Mutex<HashMap<String, Arc<Cache>>>,
}

impl WatchCaches {
    pub fn new(store: Member, history: usize) -> WatchCaches {
        WatchCaches {
            store,
            history: history.max(1),
            caches: Mutex::new(HashMap::new()),
        }
    }

    /// The cache of a storage prefix, primed from the store on first use.
    pub async fn get(self: &Arc<Self>, prefix: &str) -> Option<Arc<Cache>> {
        if let Some(cache) = self.caches.lock().ok()?.get(prefix) {
            return Some(cache.clone());
        }
        let page = self.store.range(RangeRequest::prefix(prefix)).await.ok()?;
        let stream = self
            .store
            .watch(WatchRequest {
                prefix: prefix.as_bytes().to_vec(),
                start_revision: page.revision + 1,
            })
            .ok()?;
        let (revision_tx, revision_rx) = watch::channel(page.revision);
        let cache = Arc::new(Cache {
            history_limit: self.history,
            progress: stream.progress_requester(),
            state: RwLock::new(State {
                objects: page
                    .kvs
                    .into_iter()
                    .map(|kv| (kv.key.clone(), kv))
                    .collect(),
                history: VecDeque::new(),
                revision: page.revision,
                oldest: page.revision,
            }),
            live: broadcast::channel(FAN_OUT_BUFFER).0,
            revision: revision_rx,
        });
        {
            let mut caches = self.caches.lock().ok()?;
            // Another request may have primed it meanwhile; keep the first.
            if let Some(existing) = caches.get(prefix) {
                return Some(existing.clone());
            }
            caches.insert(prefix.to_string(), cache.clone());
        }
        let owner = self.clone();
        let fed = cache.clone();
        let prefix = prefix.to_string();
        tokio::spawn(async move {
            let mut stream = stream;
            while let Some(message) = stream.next_message().await {
                if matches!(message, WatchMessage::Compacted { .. }) {
                    break;
                }
                fed.apply(message, &revision_tx);
            }
            // The store watch ended: forget this cache so the next use primes a new one;
            // dropping it closes its watchers, which watch again.
            if let Ok(mut caches) = owner.caches.lock() {
                if caches.get(&prefix).is_some_and(|c| Arc::ptr_eq(c, &fed)) {
                    caches.remove(&prefix);
                }
            }
        });
        Some(cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keelson_storage::{pki, MemberConfig, Op, TxnRequest};

    async fn member(dir: &std::path::Path) -> Member {
        pki::init_ca(&dir.join("ca"), "test-ca").unwrap();
        pki::issue(
            &dir.join("ca"),
            &dir.join("pki"),
            "m1",
            &pki::default_sans(),
        )
        .unwrap();
        let identity = pki::TlsIdentity::load(&dir.join("pki")).unwrap();
        let mut config =
            MemberConfig::single(dir.join("store"), "127.0.0.1:0".parse().unwrap(), identity);
        // Periodic progress is an hour away: catching up must come from requested progress.
        config.progress_interval = Duration::from_secs(3600);
        Member::start(config).await.unwrap()
    }

    async fn put(m: &Member, key: &str) -> u64 {
        m.txn(TxnRequest {
            success: vec![Op::put(key, "{}")],
            ..Default::default()
        })
        .await
        .unwrap()
        .revision
    }

    #[tokio::test]
    async fn reads_wait_for_the_revision_and_watches_replay_history() {
        let dir = tempfile::tempdir().unwrap();
        let m = member(dir.path()).await;
        let caches = Arc::new(WatchCaches::new(m.clone(), 2));
        let cache = caches.get("/registry/things/").await.unwrap();
        let first = put(&m, "/registry/things/ns/a").await;
        // A write to another resource moves the store's revision past this cache's.
        let elsewhere = put(&m, "/registry/others/ns/x").await;
        let got = cache
            .get(b"/registry/things/ns/a", elsewhere)
            .await
            .unwrap();
        assert_eq!(got.map(|kv| kv.mod_revision), Some(first));
        let (revision, objects) = cache
            .list(b"/registry/things/ns/", elsewhere)
            .await
            .unwrap();
        assert!(revision >= elsewhere);
        assert_eq!(objects.len(), 1);
        // History replays from a recent revision; past the kept history, `None`.
        let mut watch = cache.watch_from(first).unwrap();
        match watch.next().await.as_deref() {
            Some(WatchMessage::Events { revision, .. }) => assert_eq!(*revision, first),
            other => panic!("expected the first write, got {other:?}"),
        }
        for name in ["b", "c", "d"] {
            put(&m, &format!("/registry/things/ns/{name}")).await;
        }
        let latest = put(&m, "/registry/things/ns/e").await;
        assert!(cache
            .get(b"/registry/things/ns/e", latest)
            .await
            .unwrap()
            .is_some());
        assert!(
            cache.watch_from(first).is_none(),
            "two messages of history cannot reach back"
        );
    }
}
