//! An IP network as the user writes it for allow lists (`--allow`) and rules by source
//! (`--filter-from`, `from`): `10.0.0.0/8`, `2001:db8::/32`, or one address (that host).
//!
//! One type for both, on the `ipnet` crate, so that a block means the same wherever it is
//! given. An IPv4 block written in IPv6's mapped form (`::ffff:127.0.0.1`,
//! `::ffff:10.0.0.0/104`) is the IPv4 block it names, and a peer seen as `::ffff:a.b.c.d`
//! on a dual-stack socket is the IPv4 address it is: the two forms match each other.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

/// A network: an address and how many of its leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Parses `IP` or `IP/BITS` (decimal digits only, no `%scope`: a peer's address carries
    /// none to compare with); the message says what is wrong with it.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let not_a_block = || format!("{text} is not an IP address or CIDR block (192.0.2.0/24)");
        let (ip, bits) = match text.split_once('/') {
            Some((_, bits)) if bits.contains('/') => return Err(not_a_block()),
            Some((ip, bits)) => (ip, Some(bits)),
            None => (text, None),
        };
        let addr: IpAddr = ip.parse().map_err(|_| not_a_block())?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) if (1..=3).contains(&b.len()) && b.bytes().all(|c| c.is_ascii_digit()) => {
                match b.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => return Err(format!("{text}: the prefix length must be 0 to {max}")),
                }
            }
            Some(_) => return Err(format!("{text}: the prefix length must be 0 to {max}")),
        };
        let net = IpNet::new(addr, bits)
            .map_err(|_| format!("{text}: the prefix length must be 0 to {max}"))?;
        Ok(Cidr(canonical(net)))
    }

    /// Whether `ip` lies in the network; `::ffff:a.b.c.d` counts as `a.b.c.d`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

/// A block inside `::ffff:0:0/96` (IPv4 mapped into IPv6) as the IPv4 block it is; a
/// shorter IPv6 prefix covers more than IPv4 and stays IPv6.
fn canonical(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        _ => net,
    }
}

impl std::fmt::Display for Cidr {
    /// `addr/bits`, in the canonical form (`::ffff:127.0.0.1` reads `127.0.0.1/32`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0.addr(), self.0.prefix_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| unreachable!("{text}: {e}"))
    }

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn networks_match_their_addresses_only() {
        let lo = cidr("127.0.0.1/32");
        assert!(lo.contains(ip("127.0.0.1")));
        assert!(!lo.contains(ip("127.0.0.2")));
        assert!(lo.contains(ip("::ffff:127.0.0.1")));
        assert!(!lo.contains(ip("::1")));
        assert!(cidr("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!cidr("10.0.0.0/8").contains(ip("11.0.0.0")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(cidr("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!cidr("2001:db8::/32").contains(ip("2001:db9::1")));
        assert_eq!(cidr("::1"), cidr("::1/128"));
        assert!(cidr("::/0").contains(ip("fe80::1")));
        // Host bits below the prefix are kept as written and ignored by the match.
        assert!(cidr("10.1.2.3/8").contains(ip("10.200.0.1")));
    }

    /// The bug: `--allow ::ffff:127.0.0.1` refused the 127.0.0.1 client it names,
    /// while `--filter-from` with the same text matched it.
    #[test]
    fn mapped_ipv4_blocks_match_their_ipv4_peers_in_both_forms() {
        for written in ["::ffff:127.0.0.1", "::FFFF:127.0.0.1/128", "::ffff:7f00:1"] {
            let c = cidr(written);
            assert_eq!(c.to_string(), "127.0.0.1/32", "{written}");
            assert!(c.contains(ip("127.0.0.1")), "{written}");
            assert!(c.contains(ip("::ffff:127.0.0.1")), "{written}");
            assert!(!c.contains(ip("127.0.0.2")), "{written}");
        }
        let block = cidr("::ffff:10.0.0.0/104");
        assert_eq!(block, cidr("10.0.0.0/8"));
        assert!(block.contains(ip("10.9.8.7")));
        assert!(cidr("::ffff:0.0.0.0/96").contains(ip("198.51.100.1")));
        // Wider than the mapped range: an IPv6 block, which no IPv4 peer is in.
        let wide = cidr("::ffff:0.0.0.0/64");
        assert!(!wide.contains(ip("198.51.100.1")));
        assert!(wide.contains(ip("::1:2:3:4")));
    }

    #[test]
    fn bad_blocks_are_refused_with_a_reason() {
        for (bad, why) in [
            ("", " is not an IP address or CIDR block (192.0.2.0/24)"),
            (
                "host/8",
                "host/8 is not an IP address or CIDR block (192.0.2.0/24)",
            ),
            (
                "10.0.0/8",
                "10.0.0/8 is not an IP address or CIDR block (192.0.2.0/24)",
            ),
            (
                "fe80::1%eth0",
                "fe80::1%eth0 is not an IP address or CIDR block (192.0.2.0/24)",
            ),
            (
                "10.0.0.0/33",
                "10.0.0.0/33: the prefix length must be 0 to 32",
            ),
            ("::/129", "::/129: the prefix length must be 0 to 128"),
            ("10.0.0.0/", "10.0.0.0/: the prefix length must be 0 to 32"),
            (
                "10.0.0.0/+8",
                "10.0.0.0/+8: the prefix length must be 0 to 32",
            ),
            (
                "10.0.0.0/0008",
                "10.0.0.0/0008: the prefix length must be 0 to 32",
            ),
            (
                "1.2.3.4/8/8",
                "1.2.3.4/8/8 is not an IP address or CIDR block (192.0.2.0/24)",
            ),
        ] {
            assert_eq!(Cidr::parse(bad), Err(why.to_string()), "{bad}");
        }
    }
}
