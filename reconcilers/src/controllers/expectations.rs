//! Expectations, as upstream's controllers keep them: after a loop creates or deletes pods,
//! its next pass waits until the shared cache shows those changes (or a while has passed)
//! before it counts pods again, so a lagging cache never makes it create or delete twice.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;

/// How long an expectation holds before the loop counts again regardless (upstream's).
const EXPECTATION_TIMEOUT: Duration = Duration::from_secs(5 * 60);

struct Pending {
    /// Objects created that the cache must show.
    adds: HashSet<(String, String)>,
    /// Objects deleted that the cache must stop showing (as active).
    deletes: HashSet<(String, String)>,
    since: Instant,
}

/// The outstanding creations and deletions of each owner, by the owner's key.
#[derive(Default)]
pub struct Expectations {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Pending>) -> T) -> T {
        match self.pending.lock() {
            Ok(mut pending) => f(&mut pending),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Records objects `owner` created (`namespace`, `name`).
    pub fn created(&self, owner: &str, objects: impl IntoIterator<Item = (String, String)>) {
        self.with(|pending| {
            let entry = pending.entry(owner.to_string()).or_insert_with(|| Pending {
                adds: HashSet::new(),
                deletes: HashSet::new(),
                since: Instant::now(),
            });
            entry.adds.extend(objects);
        });
    }

    /// Records objects `owner` deleted.
    pub fn deleted(&self, owner: &str, objects: impl IntoIterator<Item = (String, String)>) {
        self.with(|pending| {
            let entry = pending.entry(owner.to_string()).or_insert_with(|| Pending {
                adds: HashSet::new(),
                deletes: HashSet::new(),
                since: Instant::now(),
            });
            entry.deletes.extend(objects);
        });
    }

    /// Whether the cache shows everything `owner` did (then the expectation is dropped);
    /// `gone` says whether a cached object counts as deleted (such as a terminating pod).
    pub fn satisfied<K>(&self, owner: &str, cache: &Store<K>, gone: impl Fn(&K) -> bool) -> bool
    where
        K: Resource<DynamicType = ()> + Clone,
    {
        self.with(|pending| {
            let Some(entry) = pending.get(owner) else {
                return true;
            };
            let key = |(ns, name): &(String, String)| ObjectRef::<K>::new(name).within(ns);
            let done = entry.since.elapsed() > EXPECTATION_TIMEOUT
                || (entry.adds.iter().all(|o| cache.get(&key(o)).is_some())
                    && entry
                        .deletes
                        .iter()
                        .all(|o| cache.get(&key(o)).is_none_or(|obj| gone(&obj))));
            if done {
                pending.remove(owner);
            }
            done
        })
    }

    /// Forgets an owner (deleted).
    pub fn forget(&self, owner: &str) {
        self.with(|pending| pending.remove(owner));
    }
}
