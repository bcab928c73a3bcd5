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
        self.satisfied_at(owner, cache, gone, Instant::now())
    }

    /// [`Expectations::satisfied`] at `now`.
    fn satisfied_at<K>(
        &self,
        owner: &str,
        cache: &Store<K>,
        gone: impl Fn(&K) -> bool,
        now: Instant,
    ) -> bool
    where
        K: Resource<DynamicType = ()> + Clone,
    {
        self.with(|pending| {
            let Some(entry) = pending.get(owner) else {
                return true;
            };
            let key = |(ns, name): &(String, String)| ObjectRef::<K>::new(name).within(ns);
            let done = now.saturating_duration_since(entry.since) > EXPECTATION_TIMEOUT
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::reflector::{store, store::Writer};
    use kube::runtime::watcher;
    use serde_json::json;

    fn pod(name: &str, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    fn cache(pods: Vec<Pod>) -> (Store<Pod>, Writer<Pod>) {
        let (reader, mut writer) = store::<Pod>();
        for pod in pods {
            writer.apply_watcher_event(&watcher::Event::Apply(pod));
        }
        (reader, writer)
    }

    fn finished(pod: &Pod) -> bool {
        pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
    }

    fn created(names: &[&str]) -> Expectations {
        let expectations = Expectations::default();
        expectations.created(
            "ns/web",
            names.iter().map(|n| ("ns".to_string(), n.to_string())),
        );
        expectations
    }

    fn deleted(names: &[&str]) -> Expectations {
        let expectations = Expectations::default();
        expectations.deleted(
            "ns/web",
            names.iter().map(|n| ("ns".to_string(), n.to_string())),
        );
        expectations
    }

    #[test]
    fn an_owner_without_expectations_is_satisfied() {
        let (cache, _writer) = cache(vec![]);
        assert!(Expectations::default().satisfied("ns/web", &cache, finished));
    }

    #[test]
    fn creations_wait_until_the_cache_shows_every_pod() {
        let (cache, _writer) = cache(vec![pod("a", "Running")]);
        assert!(!created(&["a", "b"]).satisfied("ns/web", &cache, finished));
    }

    #[test]
    fn creations_are_satisfied_once_the_cache_shows_every_pod() {
        let (cache, _writer) = cache(vec![pod("a", "Running"), pod("b", "Pending")]);
        assert!(created(&["a", "b"]).satisfied("ns/web", &cache, finished));
    }

    #[test]
    fn a_pod_of_the_same_name_in_another_namespace_does_not_count() {
        let mut other = pod("a", "Running");
        other.metadata.namespace = Some("other".into());
        let (cache, _writer) = cache(vec![other]);
        assert!(!created(&["a"]).satisfied("ns/web", &cache, finished));
    }

    #[test]
    fn deletions_wait_while_the_cache_shows_the_pod_not_gone() {
        let (cache, _writer) = cache(vec![pod("a", "Running")]);
        assert!(!deleted(&["a"]).satisfied("ns/web", &cache, finished));
    }

    #[test]
    fn deletions_are_satisfied_once_the_pod_leaves_the_cache() {
        let (cache, _writer) = cache(vec![pod("b", "Running")]);
        assert!(deleted(&["a"]).satisfied("ns/web", &cache, finished));
    }

    #[test]
    fn deletions_are_satisfied_by_a_cached_pod_that_counts_as_gone() {
        let (cache, _writer) = cache(vec![pod("a", "Succeeded")]);
        assert!(deleted(&["a"]).satisfied("ns/web", &cache, finished));
    }

    #[test]
    fn expectations_of_one_owner_do_not_hold_back_another() {
        let (cache, _writer) = cache(vec![]);
        assert!(created(&["a"]).satisfied("ns/db", &cache, finished));
    }

    #[test]
    fn a_satisfied_expectation_is_dropped() {
        let expectations = created(&["a"]);
        let (shown, _writer) = cache(vec![pod("a", "Running")]);
        assert!(expectations.satisfied("ns/web", &shown, finished));
        let (empty, _writer) = cache(vec![]);
        assert!(expectations.satisfied("ns/web", &empty, finished));
    }

    #[test]
    fn an_unmet_expectation_holds_until_the_timeout() {
        let expectations = created(&["a"]);
        let (cache, _writer) = cache(vec![]);
        let now = Instant::now() + EXPECTATION_TIMEOUT - Duration::from_secs(1);
        assert!(!expectations.satisfied_at("ns/web", &cache, finished, now));
    }

    #[test]
    fn an_unmet_expectation_lapses_after_the_timeout() {
        let expectations = created(&["a"]);
        let (cache, _writer) = cache(vec![]);
        let now = Instant::now() + EXPECTATION_TIMEOUT + Duration::from_secs(1);
        assert!(expectations.satisfied_at("ns/web", &cache, finished, now));
    }

    #[test]
    fn a_forgotten_owner_is_satisfied() {
        let expectations = created(&["a"]);
        expectations.forget("ns/web");
        let (cache, _writer) = cache(vec![]);
        assert!(expectations.satisfied("ns/web", &cache, finished));
    }
}
