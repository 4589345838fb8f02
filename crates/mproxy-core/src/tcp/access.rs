//! Who may use a TCP listener: an allow list of networks (`--allow CIDR`), a cap on clients
//! per peer address (`--max-clients-per-address`), and a log that speaks about each peer
//! address at most once a minute, so a host knocking a thousand times makes one line.
//!
//! Peers are judged by their IP alone (ports change with every connection). An IPv4 address
//! mapped into IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::cidr::Cidr;
use crate::error::{Error, Result};

/// Limits of one listener. The default lets anyone in, any number of times.
#[derive(Debug, Clone, Default)]
pub struct AccessSpec {
    /// Networks clients may come from; empty: any.
    pub allow: Vec<Cidr>,
    /// Most clients connected at once from one address; 0: no cap beyond the listener's.
    pub max_per_address: usize,
}

impl AccessSpec {
    /// Parses `--allow` values; a bad one is an error naming it.
    pub fn parse_allow(texts: &[String]) -> Result<Vec<Cidr>> {
        texts
            .iter()
            .map(|t| {
                Cidr::parse(t).map_err(|_| {
                    Error::invalid(format!(
                        "allow: {t} is not an address or network (CIDR such as 10.0.0.0/8 or 2001:db8::/32)"
                    ))
                })
            })
            .collect()
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|c| c.contains(ip))
    }
}

/// Connected clients per peer address, to hold each address to its cap.
#[derive(Debug, Default)]
pub(crate) struct PerAddress {
    counts: HashMap<IpAddr, usize>,
}

impl PerAddress {
    pub(crate) fn count(&self, ip: IpAddr) -> usize {
        self.counts.get(&ip.to_canonical()).copied().unwrap_or(0)
    }

    pub(crate) fn add(&mut self, ip: IpAddr) {
        *self.counts.entry(ip.to_canonical()).or_insert(0) += 1;
    }

    pub(crate) fn remove(&mut self, ip: IpAddr) {
        let ip = ip.to_canonical();
        if let Some(n) = self.counts.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&ip);
            }
        }
    }
}

/// How often one address may be spoken about in the log.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Addresses remembered at most; beyond it the oldest half of the memory is forgotten, so a
/// scan from many addresses costs bounded memory (and at worst a few more lines).
const REMEMBERED: usize = 4096;

/// Says yes at most once per address per [`LOG_INTERVAL`] (for each kind of line: keep one
/// per kind).
#[derive(Debug, Default)]
pub(crate) struct OncePerAddress {
    last: HashMap<IpAddr, Instant>,
}

impl OncePerAddress {
    pub(crate) fn should_log(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        if let Some(at) = self.last.get(&ip) {
            if now.duration_since(*at) < LOG_INTERVAL {
                return false;
            }
        }
        if self.last.len() >= REMEMBERED {
            self.last
                .retain(|_, at| now.duration_since(*at) < LOG_INTERVAL);
            if self.last.len() >= REMEMBERED {
                let mut times: Vec<Instant> = self.last.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                self.last.retain(|_, at| *at > cut);
            }
        }
        self.last.insert(ip, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// `--allow ::ffff:127.0.0.1` lets in the 127.0.0.1 client it names, whichever form the
    /// socket reports it in; and an IPv4 allow list the mapped form of its peers.
    #[test]
    fn allow_lists_match_mapped_and_plain_ipv4_alike() {
        for written in ["::ffff:127.0.0.1", "127.0.0.1"] {
            let spec = AccessSpec {
                allow: AccessSpec::parse_allow(&[written.to_string()]).unwrap(),
                max_per_address: 0,
            };
            assert!(spec.allows(ip("127.0.0.1")), "{written}");
            assert!(spec.allows(ip("::ffff:127.0.0.1")), "{written}");
            assert!(!spec.allows(ip("127.0.0.2")), "{written}");
            assert!(!spec.allows(ip("::1")), "{written}");
        }
        let err = AccessSpec::parse_allow(&["10.0.0.0/33".to_string()]).unwrap_err();
        assert_eq!(
            err.message,
            "allow: 10.0.0.0/33 is not an address or network (CIDR such as 10.0.0.0/8 or 2001:db8::/32)"
        );
    }

    #[test]
    fn an_address_is_logged_once_a_minute() {
        let mut once = OncePerAddress::default();
        let t0 = Instant::now();
        assert!(once.should_log(ip("10.0.0.1"), t0));
        assert!(!once.should_log(ip("10.0.0.1"), t0 + Duration::from_secs(59)));
        assert!(once.should_log(ip("10.0.0.2"), t0));
        assert!(once.should_log(ip("10.0.0.1"), t0 + Duration::from_secs(60)));
        for n in 0..10_000u32 {
            once.should_log(
                IpAddr::from(n.to_be_bytes()),
                t0 + Duration::from_millis(n.into()),
            );
        }
        assert!(once.last.len() <= REMEMBERED);
    }

    #[test]
    fn clients_are_counted_per_address() {
        let mut per = PerAddress::default();
        per.add(ip("10.0.0.1"));
        per.add(ip("::ffff:10.0.0.1"));
        assert_eq!(per.count(ip("10.0.0.1")), 2);
        per.remove(ip("10.0.0.1"));
        per.remove(ip("10.0.0.1"));
        assert_eq!(per.count(ip("10.0.0.1")), 0);
        assert!(per.counts.is_empty());
    }
}
