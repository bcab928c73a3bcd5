//! The scheduling queue (upstream's `PriorityQueue`): pods waiting for a node, in three
//! places.
//!
//! - *active*: ready to be tried, highest `spec.priority` first, then the oldest
//!   (PrioritySort: priority, then creation time, then arrival);
//! - *backoff*: failed recently; each pod waits 1 s after its first failed attempt, doubling
//!   per attempt up to 10 s, before it is active again;
//! - *unschedulable*: fitted no node; it waits for a cluster event that could change that (a
//!   node added or changed, a pod deleted or finished), judged by the plugins that rejected
//!   it, or for 5 minutes (the periodic flush), then goes to backoff or active.
//!
//! Pods with scheduling gates wait apart until their gates are removed. Time is passed in,
//! so tests drive it.
//!
//! Also here: the nominator, which remembers the node a preempting pod was nominated for,
//! so lower-priority pods do not take the room its victims free.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pod_info::PodInfo;

/// Back-off after the first failed attempt (upstream's `podInitialBackoffDuration`).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off (`podMaxBackoffDuration`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long an unschedulable pod waits for an event before it is tried anyway
/// (`podMaxInUnschedulablePodsDuration`).
pub const UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the unschedulable pods are checked for that timeout.
pub const FLUSH_UNSCHEDULABLE_INTERVAL: Duration = Duration::from_secs(30);

/// What changed in a node, for deciding which unschedulable pods to try again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeChange {
    pub allocatable: bool,
    pub labels: bool,
    /// Taints or `spec.unschedulable`.
    pub taints: bool,
    pub images: bool,
}

impl NodeChange {
    pub fn any(&self) -> bool {
        self.allocatable || self.labels || self.taints || self.images
    }
}

/// A change in the cluster that may make unschedulable pods schedulable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    NodeAdd,
    NodeUpdate(NodeChange),
    NodeDelete,
    /// A pod was bound (by anyone) or assumed.
    AssignedPodAdd,
    /// A bound pod's labels changed.
    AssignedPodUpdate,
    /// A bound pod was deleted or finished, or an assumption was forgotten.
    AssignedPodDelete,
    /// A namespace's labels changed (namespace selectors of affinity terms).
    NamespaceChange,
    /// A Service, ReplicaSet, StatefulSet or ReplicationController changed (default
    /// spreading).
    WorkloadChange,
    /// A PersistentVolumeClaim, PersistentVolume or StorageClass changed (volume binding).
    StorageChange,
}

/// A pod in the queue and what its attempts left.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub info: Arc<PodInfo>,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// When it entered the queue or last failed; back-off is counted from here.
    pub timestamp: Instant,
    /// The plugins that rejected it last time: only events they care about move it.
    pub unschedulable_plugins: Vec<&'static str>,
    /// Arrival order, the last tie-breaker.
    seq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable { since: Instant },
    Gated,
}

struct Entry {
    pod: QueuedPod,
    place: Place,
    /// Heap items of an older generation are stale (the pod moved or changed since).
    generation: u64,
}

/// The ordering of the active heap (PrioritySort).
#[derive(PartialEq, Eq)]
struct ActiveItem {
    priority: i32,
    /// Creation time in nanoseconds since the epoch (0 when unset).
    created: i128,
    seq: u64,
    key: String,
    generation: u64,
}

impl Ord for ActiveItem {
    fn cmp(&self, other: &Self) -> Ordering {
        // The heap pops the greatest: higher priority, then earlier creation, then earlier
        // arrival.
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.created.cmp(&self.created))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// How long a pod that failed `attempts` times backs off.
pub fn backoff_duration(attempts: u32) -> Duration {
    let mut duration = INITIAL_BACKOFF;
    for _ in 1..attempts {
        duration = duration.saturating_mul(2);
        if duration >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    duration
}

fn backoff_expiry(pod: &QueuedPod) -> Instant {
    pod.timestamp + backoff_duration(pod.attempts)
}

fn is_gated(info: &PodInfo) -> bool {
    info.pod
        .spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

fn created(info: &PodInfo) -> i128 {
    info.pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(0, |t| t.0.as_nanosecond())
}

/// Whether an update could change where the pod fits: anything but its status and
/// bookkeeping metadata (upstream's `isPodUpdated`).
fn spec_changed(old: &PodInfo, new: &PodInfo) -> bool {
    let (a, b) = (&old.pod, &new.pod);
    a.spec != b.spec
        || a.metadata.labels != b.metadata.labels
        || a.metadata.annotations != b.metadata.annotations
        || a.metadata.owner_references != b.metadata.owner_references
        || a.metadata.deletion_timestamp != b.metadata.deletion_timestamp
}

/// The pods waiting to be scheduled.
#[derive(Default)]
pub struct SchedulingQueue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String, u64)>>,
    unschedulable: HashSet<String>,
    next_seq: u64,
    next_generation: u64,
    /// Incremented by each pop: a pod's attempt is identified by the cycle it was popped in.
    cycle: u64,
    /// The cycle in which the last move request came: a pod whose attempt started before
    /// it failed against a cluster that has changed since, so it is not parked.
    move_request_cycle: u64,
}

impl SchedulingQueue {
    pub fn new() -> SchedulingQueue {
        SchedulingQueue::default()
    }

    fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Puts an entry in `place`, pushing the heap item it needs.
    fn place(&mut self, key: &str, place: Place) {
        let generation = self.generation();
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        if matches!(entry.place, Place::Unschedulable { .. }) {
            self.unschedulable.remove(key);
        }
        entry.place = place;
        entry.generation = generation;
        match place {
            Place::Active => self.active.push(ActiveItem {
                priority: entry.pod.info.priority,
                created: created(&entry.pod.info),
                seq: entry.pod.seq,
                key: key.to_string(),
                generation,
            }),
            Place::Backoff => self.backoff.push(Reverse((
                backoff_expiry(&entry.pod),
                entry.pod.seq,
                key.to_string(),
                generation,
            ))),
            Place::Unschedulable { .. } => {
                self.unschedulable.insert(key.to_string());
            }
            Place::Gated => {}
        }
    }

    /// Backoff if the pod is still backing off at `now`, else active.
    fn place_after_wait(&mut self, key: &str, now: Instant) {
        let backing_off = self
            .entries
            .get(key)
            .is_some_and(|e| e.pod.attempts > 0 && backoff_expiry(&e.pod) > now);
        self.place(
            key,
            if backing_off {
                Place::Backoff
            } else {
                Place::Active
            },
        );
    }

    /// A new or changed pending pod.
    pub fn add_or_update(&mut self, info: Arc<PodInfo>, now: Instant) {
        let key = info.key.clone();
        let Some(entry) = self.entries.get_mut(&key) else {
            self.next_seq += 1;
            let gated = is_gated(&info);
            self.entries.insert(
                key.clone(),
                Entry {
                    pod: QueuedPod {
                        info,
                        attempts: 0,
                        timestamp: now,
                        unschedulable_plugins: Vec::new(),
                        seq: self.next_seq,
                    },
                    place: Place::Active,
                    generation: 0,
                },
            );
            self.place(&key, if gated { Place::Gated } else { Place::Active });
            return;
        };
        let old = std::mem::replace(&mut entry.pod.info, info.clone());
        let place = entry.place;
        match place {
            Place::Active => {
                if old.priority != info.priority || created(&old) != created(&info) {
                    self.place(&key, Place::Active);
                }
            }
            Place::Backoff => {}
            Place::Gated => {
                if !is_gated(&info) {
                    self.place(&key, Place::Active);
                }
            }
            Place::Unschedulable { .. } => {
                if spec_changed(&old, &info) {
                    self.place_after_wait(&key, now);
                }
            }
        }
    }

    /// Forgets a pod (deleted, bound elsewhere, no longer ours).
    pub fn delete(&mut self, key: &str) {
        if self.entries.remove(key).is_some() {
            self.unschedulable.remove(key);
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&QueuedPod> {
        self.entries.get(key).map(|e| &e.pod)
    }

    /// Takes the next pod to try, with the cycle of this attempt.
    pub fn pop(&mut self) -> Option<(QueuedPod, u64)> {
        while let Some(item) = self.active.pop() {
            let current = self
                .entries
                .get(&item.key)
                .is_some_and(|e| e.place == Place::Active && e.generation == item.generation);
            if !current {
                continue;
            }
            let Some(mut entry) = self.entries.remove(&item.key) else {
                continue;
            };
            self.cycle += 1;
            entry.pod.attempts = entry.pod.attempts.saturating_add(1);
            return Some((entry.pod, self.cycle));
        }
        None
    }

    /// Whether a pod is ready to be popped.
    pub fn has_active(&mut self) -> bool {
        while let Some(item) = self.active.peek() {
            let current = self
                .entries
                .get(&item.key)
                .is_some_and(|e| e.place == Place::Active && e.generation == item.generation);
            if current {
                return true;
            }
            self.active.pop();
        }
        false
    }

    fn reinsert(&mut self, pod: QueuedPod) -> bool {
        let key = pod.info.key.clone();
        if self.entries.contains_key(&key) {
            // Added again meanwhile (a newer version of it): that one stands.
            return false;
        }
        self.entries.insert(
            key,
            Entry {
                pod,
                place: Place::Active,
                generation: 0,
            },
        );
        true
    }

    /// A pod that fitted no node in the attempt of `cycle`: it waits for an event that one
    /// of `plugins` cares about, unless one came while it was being tried.
    pub fn add_unschedulable(
        &mut self,
        mut pod: QueuedPod,
        plugins: Vec<&'static str>,
        cycle: u64,
        now: Instant,
    ) {
        pod.timestamp = now;
        pod.unschedulable_plugins = plugins;
        let key = pod.info.key.clone();
        if !self.reinsert(pod) {
            return;
        }
        if self.move_request_cycle >= cycle {
            self.place(&key, Place::Backoff);
        } else {
            self.place(&key, Place::Unschedulable { since: now });
        }
    }

    /// A pod whose attempt failed with an error (or whose binding failed): it backs off.
    pub fn add_backoff(&mut self, mut pod: QueuedPod, now: Instant) {
        pod.timestamp = now;
        pod.unschedulable_plugins.clear();
        let key = pod.info.key.clone();
        if self.reinsert(pod) {
            self.place(&key, Place::Backoff);
        }
    }

    /// Moves the unschedulable pods `event` could help (as `cares(plugin, event)` judges
    /// for the plugins that rejected each) to backoff or active.
    pub fn move_for_event(
        &mut self,
        event: ClusterEvent,
        cares: impl Fn(&str, ClusterEvent) -> bool,
        now: Instant,
    ) {
        self.move_request_cycle = self.cycle;
        let moving: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|key| {
                self.entries.get(*key).is_some_and(|e| {
                    e.pod.unschedulable_plugins.is_empty()
                        || e.pod
                            .unschedulable_plugins
                            .iter()
                            .any(|plugin| cares(plugin, event))
                })
            })
            .cloned()
            .collect();
        for key in moving {
            self.place_after_wait(&key, now);
        }
    }

    /// Moves pods whose back-off ended to active, and (when `leftover` is set) pods that
    /// waited longer than [`UNSCHEDULABLE_TIMEOUT`] for an event.
    pub fn flush(&mut self, now: Instant, leftover: bool) {
        while let Some(Reverse((expiry, _, _, _))) = self.backoff.peek() {
            if *expiry > now {
                break;
            }
            let Some(Reverse((_, _, key, generation))) = self.backoff.pop() else {
                break;
            };
            let current = self
                .entries
                .get(&key)
                .is_some_and(|e| e.place == Place::Backoff && e.generation == generation);
            if current {
                self.place(&key, Place::Active);
            }
        }
        if leftover {
            let stale: Vec<String> = self
                .unschedulable
                .iter()
                .filter(|key| {
                    self.entries.get(*key).is_some_and(|e| match e.place {
                        Place::Unschedulable { since } => {
                            now.saturating_duration_since(since) >= UNSCHEDULABLE_TIMEOUT
                        }
                        _ => false,
                    })
                })
                .cloned()
                .collect();
            for key in stale {
                self.place_after_wait(&key, now);
            }
        }
    }

    /// When the earliest back-off ends (a flush is due then).
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff
            .peek()
            .map(|Reverse((expiry, _, _, _))| *expiry)
    }

    /// Keys of every queued pod.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.keys()
    }

    /// How many pods are in each place: active, backoff, unschedulable, gated.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut counts = (0, 0, 0, 0);
        for entry in self.entries.values() {
            match entry.place {
                Place::Active => counts.0 += 1,
                Place::Backoff => counts.1 += 1,
                Place::Unschedulable { .. } => counts.2 += 1,
                Place::Gated => counts.3 += 1,
            }
        }
        counts
    }
}

/// Nodes nominated for preempting pods, and the pods nominated for each node.
#[derive(Default)]
pub struct Nominator {
    by_pod: HashMap<String, String>,
    by_node: HashMap<String, Vec<Arc<PodInfo>>>,
}

impl Nominator {
    pub fn new() -> Nominator {
        Nominator::default()
    }

    /// Records that `pod` waits for room on `node`.
    pub fn nominate(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.remove(&pod.key);
        self.by_pod.insert(pod.key.clone(), node.to_string());
        self.by_node.entry(node.to_string()).or_default().push(pod);
    }

    pub fn remove(&mut self, key: &str) {
        let Some(node) = self.by_pod.remove(key) else {
            return;
        };
        if let Some(pods) = self.by_node.get_mut(&node) {
            pods.retain(|p| p.key != key);
            if pods.is_empty() {
                self.by_node.remove(&node);
            }
        }
    }

    /// Whether no pod is nominated anywhere (the common case: filters skip the lookup).
    pub fn is_empty(&self) -> bool {
        self.by_pod.is_empty()
    }

    /// The node a pod is nominated for.
    pub fn node_of(&self, key: &str) -> Option<&str> {
        self.by_pod.get(key).map(String::as_str)
    }

    /// The pods nominated for a node.
    pub fn pods_on(&self, node: &str) -> &[Arc<PodInfo>] {
        self.by_node
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Follows a new version of a pending pod: its `status.nominatedNodeName` when set;
    /// when neither version has one, a nomination made here (whose status write may not
    /// have been seen yet) stands.
    pub fn update(&mut self, old: Option<&PodInfo>, new: Arc<PodInfo>) {
        let status_node = |p: &PodInfo| {
            p.pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .filter(|n| !n.is_empty())
        };
        let node = match status_node(&new) {
            Some(node) => Some(node),
            None if old.and_then(status_node).is_none() => {
                self.node_of(&new.key).map(str::to_string)
            }
            None => None,
        };
        self.remove(&new.key);
        if let Some(node) = node {
            self.nominate(new, &node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::pod_info::tests::{pod, pod_with};

    fn pod_at(name: &str, priority: i32, created: &str) -> Arc<PodInfo> {
        pod_with(
            name,
            serde_json::json!({"creationTimestamp": created}),
            serde_json::json!({}),
            priority,
        )
    }

    fn pop_name(q: &mut SchedulingQueue) -> Option<String> {
        q.pop().map(|(p, _)| p.info.name.clone())
    }

    #[test]
    fn active_pods_pop_by_priority_then_creation_then_arrival() {
        let now = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(pod_at("low-old", 0, "2026-01-01T00:00:00Z"), now);
        q.add_or_update(pod_at("high", 100, "2026-01-01T00:00:05Z"), now);
        q.add_or_update(pod_at("low-new", 0, "2026-01-01T00:00:03Z"), now);
        q.add_or_update(pod_at("low-new-2", 0, "2026-01-01T00:00:03Z"), now);
        q.add_or_update(pod_at("negative", -5, "2025-01-01T00:00:00Z"), now);
        let order: Vec<String> = std::iter::from_fn(|| pop_name(&mut q)).collect();
        assert_eq!(
            order,
            ["high", "low-old", "low-new", "low-new-2", "negative"]
        );
        assert!(!q.has_active());
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let secs: Vec<u64> = (1..=6).map(|a| backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff_duration(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn a_failed_pod_backs_off_then_is_active_again() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(pod("p", serde_json::json!({})), t0);
        let (p, _) = q.pop().expect("active");
        assert_eq!(p.attempts, 1);
        q.add_backoff(p, t0);
        assert_eq!(q.counts(), (0, 1, 0, 0));
        assert_eq!(q.next_backoff_expiry(), Some(t0 + Duration::from_secs(1)));
        q.flush(t0 + Duration::from_millis(999), false);
        assert!(!q.has_active());
        q.flush(t0 + Duration::from_secs(1), false);
        let (p, _) = q.pop().expect("active after its back-off");
        assert_eq!(p.attempts, 2);
        // The second failure waits 2 s.
        q.add_backoff(p, t0);
        q.flush(t0 + Duration::from_secs(1), false);
        assert!(!q.has_active());
        q.flush(t0 + Duration::from_secs(2), false);
        assert!(q.has_active());
    }

    #[test]
    fn unschedulable_pods_move_on_events_their_plugins_care_about() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(pod("fit", serde_json::json!({})), t0);
        q.add_or_update(pod("taint", serde_json::json!({})), t0);
        let (fit, cycle) = q.pop().expect("pod");
        q.add_unschedulable(fit, vec!["NodeResourcesFit"], cycle, t0);
        let (taint, cycle) = q.pop().expect("pod");
        q.add_unschedulable(taint, vec!["TaintToleration"], cycle, t0);
        assert_eq!(q.counts(), (0, 0, 2, 0));
        let cares = |plugin: &str, event: ClusterEvent| match event {
            ClusterEvent::AssignedPodDelete => plugin == "NodeResourcesFit",
            ClusterEvent::NodeUpdate(change) => plugin == "TaintToleration" && change.taints,
            _ => false,
        };
        // A label change helps neither.
        let labels = NodeChange {
            labels: true,
            ..NodeChange::default()
        };
        q.move_for_event(ClusterEvent::NodeUpdate(labels), cares, t0);
        assert_eq!(q.counts(), (0, 0, 2, 0));
        // A pod deleted 5 s later frees resources: the fit pod is past its 1 s back-off.
        q.move_for_event(
            ClusterEvent::AssignedPodDelete,
            cares,
            t0 + Duration::from_secs(5),
        );
        assert_eq!(q.counts(), (1, 0, 1, 0));
        assert_eq!(pop_name(&mut q).as_deref(), Some("fit"));
        // A taint change right away: the taint pod is still backing off.
        let taints = NodeChange {
            taints: true,
            ..NodeChange::default()
        };
        q.move_for_event(ClusterEvent::NodeUpdate(taints), cares, t0);
        assert_eq!(q.counts(), (0, 1, 0, 0));
    }

    #[test]
    fn a_pod_tried_while_the_cluster_changed_is_not_parked() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(pod("p", serde_json::json!({})), t0);
        let (p, cycle) = q.pop().expect("pod");
        // A node was added during its attempt.
        q.move_for_event(ClusterEvent::NodeAdd, |_, _| true, t0);
        q.add_unschedulable(p, vec!["NodeAffinity"], cycle, t0);
        assert_eq!(q.counts(), (0, 1, 0, 0));
    }

    #[test]
    fn unschedulable_pods_are_retried_after_five_minutes() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(pod("p", serde_json::json!({})), t0);
        let (p, cycle) = q.pop().expect("pod");
        q.add_unschedulable(p, vec!["NodeAffinity"], cycle, t0);
        q.flush(t0 + Duration::from_secs(299), true);
        assert_eq!(q.counts(), (0, 0, 1, 0));
        q.flush(t0 + UNSCHEDULABLE_TIMEOUT, true);
        assert_eq!(q.counts(), (1, 0, 0, 0));
    }

    #[test]
    fn updates_and_deletes() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(pod("p", serde_json::json!({})), t0);
        let (p, cycle) = q.pop().expect("pod");
        q.add_unschedulable(p, vec!["NodeAffinity"], cycle, t0);
        // A status-only change leaves it parked; a spec change moves it.
        let same = pod("p", serde_json::json!({}));
        q.add_or_update(same, t0 + Duration::from_secs(5));
        assert_eq!(q.counts(), (0, 0, 1, 0));
        let changed = pod("p", serde_json::json!({"nodeSelector": {"zone": "a"}}));
        q.add_or_update(changed, t0 + Duration::from_secs(5));
        assert_eq!(q.counts(), (1, 0, 0, 0));
        q.delete("default/p");
        assert!(q.pop().is_none());
        // Gated pods wait until their gates go.
        let gated = pod(
            "g",
            serde_json::json!({"schedulingGates": [{"name": "wait"}]}),
        );
        q.add_or_update(gated, t0);
        assert_eq!(q.counts(), (0, 0, 0, 1));
        assert!(q.pop().is_none());
        q.add_or_update(pod("g", serde_json::json!({})), t0);
        assert_eq!(pop_name(&mut q).as_deref(), Some("g"));
        // A priority change reorders an active pod.
        q.add_or_update(pod_at("a", 1, "2026-01-01T00:00:00Z"), t0);
        q.add_or_update(pod_at("b", 2, "2026-01-01T00:00:00Z"), t0);
        q.add_or_update(pod_at("a", 3, "2026-01-01T00:00:00Z"), t0);
        assert_eq!(pop_name(&mut q).as_deref(), Some("a"));
        assert_eq!(pop_name(&mut q).as_deref(), Some("b"));
        assert!(q.pop().is_none());
    }

    #[test]
    fn nominations_follow_the_pod() {
        let mut n = Nominator::new();
        let p = pod("p", serde_json::json!({}));
        n.nominate(p.clone(), "node-1");
        assert_eq!(n.pods_on("node-1").len(), 1);
        // An update without a nominated node in either version keeps the one made here.
        n.update(Some(&p), pod("p", serde_json::json!({})));
        assert_eq!(n.node_of("default/p"), Some("node-1"));
        n.remove("default/p");
        assert!(n.pods_on("node-1").is_empty());
        assert_eq!(n.node_of("default/p"), None);
    }
}
