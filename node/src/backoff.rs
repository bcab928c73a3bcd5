//! The crash-loop back-off, as upstream's kubelet keeps it (`flowcontrol.Backoff` with 10 s
//! initial and 5 min maximum): the first restart of an exited container is immediate; each
//! later one waits, from the moment the container exited, twice as long as the one before,
//! up to 5 minutes. An entry not touched for twice the maximum (10 minutes: the container
//! ran that long) starts over.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

/// Upstream's kubelet: the first back-off.
pub const INITIAL: Duration = Duration::from_secs(10);
/// Upstream's `MaxContainerBackOff`.
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Entry {
    backoff: Duration,
    last_update: Timestamp,
}

/// Back-off per container, keyed by [`key`].
#[derive(Debug)]
pub struct BackOff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Default for BackOff {
    fn default() -> Self {
        BackOff::new(INITIAL, MAX)
    }
}

/// The key of one container of one pod.
pub fn key(pod_uid: &str, container: &str) -> String {
    format!("{pod_uid}/{container}")
}

impl BackOff {
    pub fn new(initial: Duration, max: Duration) -> BackOff {
        BackOff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// Whether `key`, which exited at `exited`, must still wait at `now`: the back-off it
    /// waits (for the message) and when the wait ends. Upstream's `IsInBackOffSince`.
    pub fn waiting(
        &self,
        key: &str,
        exited: Timestamp,
        now: Timestamp,
    ) -> Option<(Duration, Timestamp)> {
        let entry = self.entries.get(key)?;
        if self.expired(now, entry.last_update) {
            return None;
        }
        let until = exited.checked_add(entry.backoff).ok()?;
        (now < until).then_some((entry.backoff, until))
    }

    /// Records a restart of `key`, which exited at `exited`: the next restart waits longer.
    /// Upstream's `Next`.
    pub fn next(&mut self, key: &str, exited: Timestamp) {
        let backoff = match self.entries.get(key) {
            Some(entry) if !self.expired(exited, entry.last_update) => {
                entry.backoff.saturating_mul(2).min(self.max)
            }
            _ => self.initial,
        };
        self.entries.insert(
            key.to_string(),
            Entry {
                backoff,
                last_update: exited,
            },
        );
    }

    /// Forgets every container of the pod `uid`.
    pub fn forget_pod(&mut self, uid: &str) {
        let prefix = format!("{uid}/");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Whether an entry last updated at `last_update` has expired at `at`.
    fn expired(&self, at: Timestamp, last_update: Timestamp) -> bool {
        let limit = self.max.saturating_mul(2);
        at.duration_since(last_update)
            .try_into()
            .is_ok_and(|age: Duration| age > limit)
    }
}

/// A duration as Go prints it (`10s`, `1m20s`, `5m0s`, `1h0m0s`), for upstream's messages.
pub fn go_duration(d: Duration) -> String {
    let total = d.as_secs();
    let (hours, minutes, seconds) = (total / 3600, (total / 60) % 60, total % 60);
    let millis = d.subsec_millis();
    let seconds = if millis == 0 {
        format!("{seconds}s")
    } else {
        let fraction = format!("{millis:03}");
        format!("{seconds}.{}s", fraction.trim_end_matches('0'))
    };
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}")
    } else {
        seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    /// Simulates a container that exits `run` seconds after each start and is restarted as
    /// soon as the back-off allows; the seconds between each exit and the next start.
    fn waits(run: i64, restarts: usize) -> Vec<i64> {
        let mut backoff = BackOff::default();
        let mut now = at(0);
        let mut waits = Vec::new();
        for _ in 0..restarts {
            let exited = now + jiff::SignedDuration::from_secs(run);
            let start = match backoff.waiting("uid/app", exited, exited) {
                Some((_, until)) => until,
                None => exited,
            };
            assert!(backoff.waiting("uid/app", exited, start).is_none());
            backoff.next("uid/app", exited);
            waits.push(start.duration_since(exited).as_secs());
            now = start;
        }
        waits
    }

    #[test]
    fn restarts_wait_ten_seconds_doubling_to_five_minutes() {
        assert_eq!(
            waits(1, 9),
            [0, 10, 20, 40, 80, 160, 300, 300, 300],
            "the first restart is immediate"
        );
    }

    #[test]
    fn a_container_that_ran_ten_minutes_starts_over() {
        // Each run lasts 11 minutes: longer than twice the maximum back-off.
        assert_eq!(waits(660, 4), [0, 0, 0, 0]);
    }

    #[test]
    fn the_wait_is_counted_from_the_exit() {
        let mut backoff = BackOff::default();
        backoff.next("uid/app", at(0));
        let (wait, until) = backoff.waiting("uid/app", at(100), at(105)).unwrap();
        assert_eq!(wait, Duration::from_secs(10));
        assert_eq!(until, at(110));
        assert!(backoff.waiting("uid/app", at(100), at(110)).is_none());
        assert!(backoff.waiting("uid/other", at(100), at(105)).is_none());
        backoff.forget_pod("uid");
        assert!(backoff.waiting("uid/app", at(100), at(105)).is_none());
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
