//! Address management: IPv4 CIDRs, a `/24` pod CIDR per node out of the cluster CIDR (what
//! upstream's node-ipam controller does with `--cluster-cidr` and `--node-cidr-mask-size`),
//! the node's own address, and a pool handing out pod IPs from a node's pod CIDR (what the
//! `host-local` CNI plugin does on a real node).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

pub use keelson_apis::cidr::{free_node_cidr, BadCidr, Cidr, NODE_CIDR_MASK_SIZE};

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
        let first = u32::from(self.cidr.network()).checked_add(2)?;
        let last = u32::try_from(u64::from(u32::from(self.cidr.network())) + size - 2).ok()?;
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
