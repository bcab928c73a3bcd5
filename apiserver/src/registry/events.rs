//! The leases events are written with, so they expire after `--event-ttl`.

use std::time::{Duration, Instant};

use super::{Registry, Target};
use crate::status::{ApiError, ApiResult};

/// Events written with one lease at most (upstream's `leaseMaxAttachedObjectCount`).
const EVENTS_PER_LEASE: usize = 1000;

impl Registry {
    /// A lease shared by the events written in one window (a minute, or the TTL when
    /// shorter), so they expire between `--event-ttl` and TTL + window without one lease
    /// per event; at most [`EVENTS_PER_LEASE`] events share one, as upstream caps the
    /// objects attached to a lease (attaching to a lease that holds many keys costs in
    /// proportion to them).
    fn event_lease_window(&self) -> Duration {
        self.event_ttl
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    pub(super) async fn event_lease(&self) -> ApiResult<u64> {
        let reusable = {
            let mut cached = self
                .event_lease
                .lock()
                .map_err(|_| ApiError::internal("lease cache poisoned"))?;
            match cached.as_mut() {
                Some((id, granted, attached))
                    if granted.elapsed() < self.event_lease_window()
                        && *attached < EVENTS_PER_LEASE =>
                {
                    *attached += 1;
                    Some(*id)
                }
                _ => None,
            }
        };
        if let Some(id) = reusable {
            return Ok(id);
        }
        let lease = self
            .store
            .lease_grant(self.event_ttl.as_secs().max(1) + self.event_lease_window().as_secs())
            .await?;
        if let Ok(mut cached) = self.event_lease.lock() {
            *cached = Some((lease.id, Instant::now(), 1));
        }
        Ok(lease.id)
    }

    pub(super) fn is_event(target: &Target<'_>) -> bool {
        target.strategy().expires()
    }
}
