//! The arithmetic of a rolling update, as upstream's deployment controller does it: how far
//! the new ReplicaSet may scale up within `maxSurge`, and how far old ones may scale down
//! within `maxUnavailable` (unhealthy replicas first, then oldest sets first).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// An int-or-percent of `total`: percentages round up for `maxSurge`, down for
/// `maxUnavailable`.
pub fn resolve(
    value: Option<&IntOrString>,
    total: i32,
    default_percent: i32,
    round_up: bool,
) -> i32 {
    let percent = |p: i32| {
        let scaled = i64::from(p).saturating_mul(i64::from(total));
        let value = if round_up {
            (scaled + 99).div_euclid(100)
        } else {
            scaled.div_euclid(100)
        };
        i32::try_from(value).unwrap_or(i32::MAX)
    };
    match value {
        None => percent(default_percent),
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i32>().ok())
            .map_or(0, percent),
    }
}

/// `maxSurge` and `maxUnavailable` of `replicas`; both zero would stall, so upstream then
/// allows one unavailable.
pub fn surge_and_unavailable(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> (i32, i32) {
    let surge = resolve(max_surge, replicas, 25, true).max(0);
    let unavailable = resolve(max_unavailable, replicas, 25, false).max(0);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable.min(replicas.max(0)))
    }
}

/// One ReplicaSet as the rollout sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    /// `spec.replicas`
    pub replicas: i32,
    /// `status.availableReplicas`
    pub available: i32,
}

/// The new set's replicas after this pass: up to `replicas`, within the surge.
pub fn scale_up_new(new: &Set, all: &[Set], replicas: i32, max_surge: i32) -> i32 {
    if new.replicas >= replicas {
        return replicas;
    }
    let current: i32 = all.iter().map(|s| s.replicas).fold(0, i32::saturating_add);
    let max_total = replicas.saturating_add(max_surge);
    if current >= max_total {
        return new.replicas;
    }
    let up = (max_total - current).min(replicas - new.replicas);
    new.replicas.saturating_add(up)
}

/// The old sets' replicas after this pass (same order as `old`, which is oldest first):
/// unhealthy replicas go first, then available ones while `replicas - maxUnavailable` stay
/// available.
pub fn scale_down_old(old: &[Set], new: &Set, replicas: i32, max_unavailable: i32) -> Vec<i32> {
    let mut target: Vec<i32> = old.iter().map(|s| s.replicas).collect();
    let old_total: i32 = target.iter().copied().fold(0, i32::saturating_add);
    if old_total == 0 {
        return target;
    }
    let all_total = old_total.saturating_add(new.replicas);
    let min_available = replicas.saturating_sub(max_unavailable);
    let new_unavailable = (new.replicas - new.available).max(0);
    let mut room = all_total - min_available - new_unavailable;
    if room <= 0 {
        return target;
    }
    // Unhealthy replicas of old sets first.
    for (i, set) in old.iter().enumerate() {
        if room <= 0 {
            break;
        }
        let unhealthy = (set.replicas - set.available).max(0);
        let cut = unhealthy.min(room);
        if let Some(t) = target.get_mut(i) {
            *t -= cut;
        }
        room -= cut;
    }
    // Then available ones, as long as enough stay available.
    let available: i32 = old
        .iter()
        .map(|s| s.available)
        .chain(std::iter::once(new.available))
        .fold(0, i32::saturating_add);
    let mut down = (available - min_available).max(0);
    for t in target.iter_mut() {
        if down <= 0 {
            break;
        }
        let cut = (*t).min(down);
        *t -= cut;
        down -= cut;
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, replicas: i32, available: i32) -> Set {
        Set {
            name: name.into(),
            replicas,
            available,
        }
    }

    #[test]
    fn percentages_round_as_upstream() {
        let p = |s: &str| IntOrString::String(s.into());
        assert_eq!(resolve(Some(&p("25%")), 10, 25, true), 3);
        assert_eq!(resolve(Some(&p("25%")), 10, 25, false), 2);
        assert_eq!(resolve(Some(&IntOrString::Int(2)), 10, 25, true), 2);
        assert_eq!(resolve(None, 4, 25, true), 1);
        assert_eq!(
            surge_and_unavailable(Some(&IntOrString::Int(0)), Some(&p("0%")), 3),
            (0, 1)
        );
    }

    #[test]
    fn the_new_set_grows_within_the_surge() {
        let new = set("new", 0, 0);
        let old = set("old", 3, 3);
        assert_eq!(scale_up_new(&new, &[old.clone(), new.clone()], 3, 1), 1);
        // At the surge limit nothing grows.
        let new = set("new", 1, 0);
        assert_eq!(scale_up_new(&new, &[old, new.clone()], 3, 1), 1);
    }

    #[test]
    fn old_sets_shrink_within_max_unavailable() {
        // 3 replicas, surge 1, unavailable 0: old 3 available, new 1 not yet available.
        let new = set("new", 1, 0);
        assert_eq!(scale_down_old(&[set("old", 3, 3)], &new, 3, 0), vec![3]);
        // Once the new one is available, one old goes.
        let new = set("new", 1, 1);
        assert_eq!(scale_down_old(&[set("old", 3, 3)], &new, 3, 0), vec![2]);
        // Unhealthy old replicas go first, within the room maxUnavailable leaves.
        let new = set("new", 1, 0);
        assert_eq!(scale_down_old(&[set("old", 3, 1)], &new, 3, 1), vec![2]);
        // Oldest sets shrink first.
        let new = set("new", 2, 2);
        assert_eq!(
            scale_down_old(&[set("a", 1, 1), set("b", 2, 2)], &new, 3, 1),
            vec![0, 0]
        );
    }
}
