//! Spreading the periodic writes of many nodes over time. Independent kubelets start at
//! independent moments and jitter their loops (`wait.JitterUntil` with a factor of 0.04),
//! so their heartbeats reach the API server spread out. Simulated nodes all start at once:
//! without a random phase, thousands of them would renew their Leases in the same instant
//! every period, and each burst would open as many connections as it has requests.

use std::time::Duration;

/// Upstream's jitter factor for the kubelet's lease and status loops.
pub const FACTOR: f64 = 0.04;

/// `period` lengthened by up to [`FACTOR`] of itself, at random.
pub fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + FACTOR * fastrand::f64())
}

/// A random moment within `period`: how long a node waits before its first periodic write.
pub fn phase(period: Duration) -> Duration {
    period.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jittered_periods_stay_within_the_factor() {
        let period = Duration::from_secs(10);
        for _ in 0..1000 {
            let wait = jittered(period);
            assert!(
                wait >= period && wait <= period.mul_f64(1.0 + FACTOR),
                "{wait:?}"
            );
        }
    }

    #[test]
    fn phases_spread_over_the_whole_period() {
        let period = Duration::from_secs(10);
        let phases: Vec<Duration> = (0..1000).map(|_| phase(period)).collect();
        assert!(phases.iter().all(|p| *p < period));
        // Both halves of the period are used (a constant phase would fail this).
        assert!(phases.iter().any(|p| *p < period / 2));
        assert!(phases.iter().any(|p| *p >= period / 2));
    }
}
