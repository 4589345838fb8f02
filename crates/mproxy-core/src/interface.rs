//! Naming network interfaces: by name (`eth0`), by one of their IPv4 addresses, or by index.
//! Multicast joins and outgoing-interface options want an index (and, for IPv4 on systems
//! without `ip_mreqn`, an address), so everything resolves to an [`Interface`].

use std::net::{IpAddr, Ipv4Addr};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    /// The first IPv4 address of the interface, if it has one.
    pub ipv4: Option<Ipv4Addr>,
}

/// Resolves `NAME`, `ADDRESS` or `INDEX` to an interface of this host.
pub fn resolve(spec: &str) -> Result<Interface> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(Error::invalid("interface name is empty"));
    }
    let all = list()?;
    let found = if let Ok(index) = spec.parse::<u32>() {
        all.into_iter().find(|i| i.index == index)
    } else if let Ok(addr) = spec.parse::<IpAddr>() {
        let owners = addresses()?;
        owners
            .into_iter()
            .find(|(_, a)| *a == addr)
            .and_then(|(name, _)| all.into_iter().find(|i| i.name == name))
    } else {
        all.into_iter().find(|i| i.name == spec)
    };
    found.ok_or_else(|| {
        Error::new(
            ErrorKind::NoSuchInterface,
            format!("no network interface named {spec}"),
        )
    })
}

/// Interfaces of this host, with their index.
#[cfg(unix)]
pub fn list() -> Result<Vec<Interface>> {
    let addrs = addresses()?;
    let mut out: Vec<Interface> = Vec::new();
    // SAFETY: if_nameindex returns a heap array terminated by a zero entry, freed below.
    unsafe {
        let head = libc::if_nameindex();
        if head.is_null() {
            return Err(Error::os(
                "list network interfaces",
                &std::io::Error::last_os_error(),
            ));
        }
        let mut cursor = head;
        while (*cursor).if_index != 0 && !(*cursor).if_name.is_null() {
            let name = std::ffi::CStr::from_ptr((*cursor).if_name)
                .to_string_lossy()
                .into_owned();
            let ipv4 = addrs.iter().find_map(|(n, a)| match a {
                IpAddr::V4(v4) if *n == name => Some(*v4),
                _ => None,
            });
            out.push(Interface {
                index: (*cursor).if_index,
                name,
                ipv4,
            });
            cursor = cursor.add(1);
        }
        libc::if_freenameindex(head);
    }
    Ok(out)
}

#[cfg(not(unix))]
pub fn list() -> Result<Vec<Interface>> {
    Ok(Vec::new())
}

/// (interface name, address) for every address configured on this host.
#[cfg(unix)]
pub fn addresses() -> Result<Vec<(String, IpAddr)>> {
    let mut out = Vec::new();
    // SAFETY: getifaddrs fills a linked list that we walk read-only and free once.
    unsafe {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut head) != 0 {
            return Err(Error::os(
                "list interface addresses",
                &std::io::Error::last_os_error(),
            ));
        }
        let mut cursor = head;
        while !cursor.is_null() {
            let entry = &*cursor;
            if !entry.ifa_addr.is_null() && !entry.ifa_name.is_null() {
                let name = std::ffi::CStr::from_ptr(entry.ifa_name)
                    .to_string_lossy()
                    .into_owned();
                match (*entry.ifa_addr).sa_family as libc::c_int {
                    libc::AF_INET => {
                        let sin = &*(entry.ifa_addr as *const libc::sockaddr_in);
                        out.push((
                            name,
                            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(entry.ifa_addr as *const libc::sockaddr_in6);
                        out.push((
                            name,
                            IpAddr::V6(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr)),
                        ));
                    }
                    _ => {}
                }
            }
            cursor = entry.ifa_next;
        }
        libc::freeifaddrs(head);
    }
    Ok(out)
}

#[cfg(not(unix))]
pub fn addresses() -> Result<Vec<(String, IpAddr)>> {
    Ok(Vec::new())
}

/// The interface the system would use for IPv6 multicast when none is named: the
/// device of the best `ff00::/8` route. Linux only; elsewhere the kernel decides at send time.
#[cfg(target_os = "linux")]
pub fn default_ipv6_multicast() -> Option<Interface> {
    let table = std::fs::read_to_string("/proc/net/ipv6_route").ok()?;
    let device = best_multicast_route_device(&table)?;
    resolve(&device).ok()
}

#[cfg(not(target_os = "linux"))]
pub fn default_ipv6_multicast() -> Option<Interface> {
    None
}

/// Picks the lowest-metric `ff00::/8` route from `/proc/net/ipv6_route` text, skipping
/// loopback (which the kernel never uses to leave the host).
pub fn best_multicast_route_device(table: &str) -> Option<String> {
    let mut best: Option<(u32, String)> = None;
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 10 {
            continue;
        }
        let (dest, prefix, metric, device) = (fields[0], fields[1], fields[5], fields[9]);
        if !dest.starts_with("ff00") || prefix != "08" || device == "lo" {
            continue;
        }
        let Ok(metric) = u32::from_str_radix(metric, 16) else {
            continue;
        };
        if best.as_ref().is_none_or(|(m, _)| metric < *m) {
            best = Some((metric, device.to_string()));
        }
    }
    best.map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolves_by_name_index_and_address() {
        let by_name = resolve("lo").unwrap();
        assert_eq!(by_name.name, "lo");
        assert_eq!(resolve(&by_name.index.to_string()).unwrap(), by_name);
        assert_eq!(resolve("127.0.0.1").unwrap().name, "lo");
        assert_eq!(by_name.ipv4, Some(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn unknown_interface_is_a_named_error() {
        let err = resolve("nosuch0").unwrap_err();
        assert_eq!(err.kind, ErrorKind::NoSuchInterface);
        assert_eq!(err.message, "no network interface named nosuch0");
        assert_eq!(resolve("").unwrap_err().kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn multicast_route_choice_prefers_lowest_metric_and_skips_loopback() {
        let table = "\
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001   eth1
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   eth0
";
        assert_eq!(best_multicast_route_device(table).as_deref(), Some("eth0"));
        assert_eq!(best_multicast_route_device(""), None);
    }
}
