//! Lease deadlines. The state machine records which leases exist and which keys they hold;
//! when they expire is a matter of the leader's clock, kept here in memory. Each member
//! tracks deadlines as leases are granted; a member that becomes leader first extends every
//! deadline by a full TTL (a lease never expires early because leadership moved), then
//! proposes a revoke, through Raft, for each lease whose deadline passes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::types::{Lease, LeaseId};

#[derive(Default)]
pub(crate) struct LeaseClock {
    deadlines: Mutex<HashMap<LeaseId, (Instant, u64)>>,
}

impl LeaseClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LeaseId, (Instant, u64)>> {
        // A poisoned lock only means another thread panicked mid-update of plain data.
        self.deadlines.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn granted(&self, lease: Lease) {
        self.lock().insert(
            lease.id,
            (
                Instant::now() + Duration::from_secs(lease.ttl_seconds),
                lease.ttl_seconds,
            ),
        );
    }

    pub fn revoked(&self, id: LeaseId) {
        self.lock().remove(&id);
    }

    /// Replaces every deadline (after loading or installing a snapshot): each lease gets a full TTL.
    pub fn reset(&self, leases: impl Iterator<Item = (LeaseId, u64)>) {
        let now = Instant::now();
        let mut map = self.lock();
        map.clear();
        for (id, ttl) in leases {
            map.insert(id, (now + Duration::from_secs(ttl), ttl));
        }
    }

    /// Gives every lease a full TTL from now.
    pub fn extend_all(&self) {
        let now = Instant::now();
        for (deadline, ttl) in self.lock().values_mut() {
            *deadline = now + Duration::from_secs(*ttl);
        }
    }

    /// Renews one lease; `None` if it does not exist.
    pub fn keepalive(&self, id: LeaseId) -> Option<Lease> {
        let mut map = self.lock();
        let (deadline, ttl) = map.get_mut(&id)?;
        *deadline = Instant::now() + Duration::from_secs(*ttl);
        Some(Lease {
            id,
            ttl_seconds: *ttl,
        })
    }

    pub fn expired(&self, now: Instant) -> Vec<LeaseId> {
        self.lock()
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(id, _)| *id)
            .collect()
    }
}
