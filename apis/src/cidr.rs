//! IPv4 CIDRs as the cluster's network settings use them: `--cluster-cidr`, the `/24` pod
//! CIDR the node-ipam controller gives every node out of it, and the node's own checks.
//!
//! ```
//! use keelson_apis::cidr::{free_node_cidr, Cidr};
//! let cluster: Cidr = "10.244.0.0/16".parse().unwrap();
//! let taken = [cluster.subnet(24, 0).unwrap()].into();
//! assert_eq!(free_node_cidr(&cluster, &taken).unwrap().to_string(), "10.244.1.0/24");
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The prefix length of every node's pod CIDR.
pub const NODE_CIDR_MASK_SIZE: u8 = 24;

/// An IPv4 network such as `10.244.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    base: u32,
    prefix: u8,
}

/// Text that is not an IPv4 CIDR.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an IPv4 CIDR such as 10.244.0.0/16")]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(text: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(text.to_string());
        let (ip, prefix) = text.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        // Upstream accepts host bits and masks them off.
        Ok(Cidr::new(ip, prefix))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl Cidr {
    /// The network of `ip` with `prefix` bits (host bits cleared); `prefix` at most 32.
    pub fn new(ip: Ipv4Addr, prefix: u8) -> Cidr {
        let prefix = prefix.min(32);
        Cidr {
            base: u32::from(ip) & mask(prefix),
            prefix,
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// How many addresses the network spans.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.base
    }

    /// The `index`-th subnet of prefix `prefix` inside this network, if there is one.
    pub fn subnet(&self, prefix: u8, index: u32) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let count = 1u64 << (prefix - self.prefix);
        if u64::from(index) >= count {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let offset = u64::from(index).checked_mul(step)?;
        let base = u64::from(self.base).checked_add(offset)?;
        Some(Cidr {
            base: u32::try_from(base).ok()?,
            prefix,
        })
    }

    /// How many subnets of prefix `prefix` the network holds (0 if `prefix` is shorter).
    pub fn subnets(&self, prefix: u8) -> u64 {
        if prefix < self.prefix || prefix > 32 {
            return 0;
        }
        1u64 << (prefix - self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// The lowest `/24` of `cluster` that is not in `taken`, or `None` when all are.
pub fn free_node_cidr(cluster: &Cidr, taken: &BTreeSet<Cidr>) -> Option<Cidr> {
    let count = cluster.subnets(NODE_CIDR_MASK_SIZE);
    (0..count)
        .filter_map(|i| u32::try_from(i).ok())
        .filter_map(|i| cluster.subnet(NODE_CIDR_MASK_SIZE, i))
        .find(|cidr| !taken.contains(cidr))
}
