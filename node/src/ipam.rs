//! Address management: IPv4 CIDRs, a `/24` pod CIDR per node out of the cluster CIDR (what
//! upstream's node-ipam controller does with `--cluster-cidr` and `--node-cidr-mask-size`),
//! the node's own address, and a pool handing out pod IPs from a node's pod CIDR (what the
//! `host-local` CNI plugin does on a real node).

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
    fn size(&self) -> u64 {
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

/// The node's InternalIP: a loopback address named after its pod CIDR (`10.244.3.0/24` ->
/// `127.244.3.1`), unique per node while the cluster CIDR is no wider than a `/8`. Every
/// loopback address can be listened on, so the node's own HTTPS server can use it later.
pub fn node_address(pod_cidr: &Cidr) -> Ipv4Addr {
    let [_, b, c, _] = pod_cidr.network().octets();
    Ipv4Addr::new(127, b, c, 1)
}

/// Pod IPs out of one node's pod CIDR, as `host-local` hands them out: the network address,
/// the gateway (`.1`) and the broadcast address are never given; addresses are handed out
/// in turn after the last one given, so a released address is not reused at once.
#[derive(Debug)]
pub struct IpPool {
    cidr: Cidr,
    used: BTreeSet<u32>,
    last: Option<u32>,
}

impl IpPool {
    pub fn new(cidr: Cidr) -> IpPool {
        IpPool {
            cidr,
            used: BTreeSet::new(),
            last: None,
        }
    }

    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// The first and last address that may be handed out, if any.
    fn range(&self) -> Option<(u32, u32)> {
        let size = self.cidr.size();
        if size < 4 {
            return None;
        }
        let first = self.cidr.base.checked_add(2)?;
        let last = u32::try_from(u64::from(self.cidr.base) + size - 2).ok()?;
        Some((first, last))
    }

    /// A free address, or `None` when the pool is exhausted.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let (first, last) = self.range()?;
        let start = match self.last {
            Some(l) if l >= first && l < last => l + 1,
            _ => first,
        };
        let found = (start..=last)
            .chain(first..start)
            .find(|ip| !self.used.contains(ip))?;
        self.used.insert(found);
        self.last = Some(found);
        Some(Ipv4Addr::from(found))
    }

    /// Gives `ip` back.
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&u32::from(ip));
    }

    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_print_and_split() {
        assert_eq!(cidr("10.244.0.0/16").to_string(), "10.244.0.0/16");
        assert_eq!(cidr("10.244.7.9/16").to_string(), "10.244.0.0/16");
        assert!("10.244.0.0".parse::<Cidr>().is_err());
        assert!("10.244.0.0/33".parse::<Cidr>().is_err());
        assert!("x/8".parse::<Cidr>().is_err());
        let cluster = cidr("10.244.0.0/16");
        assert_eq!(cluster.subnets(24), 256);
        assert_eq!(cluster.subnet(24, 3), Some(cidr("10.244.3.0/24")));
        assert_eq!(cluster.subnet(24, 256), None);
        assert_eq!(cluster.subnet(8, 0), None);
        assert!(cidr("10.244.3.0/24").contains("10.244.3.200".parse().unwrap()));
        assert!(!cidr("10.244.3.0/24").contains("10.244.4.1".parse().unwrap()));
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
    }

    #[test]
    fn node_cidrs_are_the_lowest_free_ones() {
        let cluster = cidr("10.244.0.0/16");
        let mut taken = BTreeSet::new();
        assert_eq!(
            free_node_cidr(&cluster, &taken),
            Some(cidr("10.244.0.0/24"))
        );
        taken.insert(cidr("10.244.0.0/24"));
        taken.insert(cidr("10.244.2.0/24"));
        assert_eq!(
            free_node_cidr(&cluster, &taken),
            Some(cidr("10.244.1.0/24"))
        );
        let small = cidr("10.244.0.0/24");
        assert_eq!(free_node_cidr(&small, &taken), None);
        assert_eq!(
            node_address(&cidr("10.244.3.0/24")),
            Ipv4Addr::new(127, 244, 3, 1)
        );
    }

    #[test]
    fn pod_ips_skip_reserved_addresses_and_are_not_reused_at_once() {
        let mut pool = IpPool::new(cidr("10.244.1.0/24"));
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 244, 1, 2));
        assert_eq!(b, Ipv4Addr::new(10, 244, 1, 3));
        pool.release(a);
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 244, 1, 4)));
        // 253 addresses in all (.2 to .254); then the released .2 comes round again.
        while let Some(ip) = pool.allocate() {
            assert!(!matches!(ip.octets()[3], 0 | 1 | 255), "{ip} handed out");
        }
        assert_eq!(pool.in_use(), 253);
        pool.release(Ipv4Addr::new(10, 244, 1, 77));
        assert_eq!(pool.allocate(), Some(Ipv4Addr::new(10, 244, 1, 77)));
        assert_eq!(pool.allocate(), None);
        assert_eq!(IpPool::new(cidr("10.0.0.0/31")).allocate(), None);
    }
}
