//! Naming network interfaces: by name (`eth0`), by one of their IPv4 addresses, or by index.
//! Multicast joins want an index and IPv4's outgoing-interface option an address, so
//! everything resolves to an [`Interface`].

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
        all.into_iter().find(|i| i.name == spec).or_else(|| {
            // An interface with no address yet (a link that is up but unnumbered).
            crate::sys::interface_index(spec).map(|index| Interface {
                index,
                name: spec.to_string(),
                ipv4: None,
            })
        })
    };
    found.ok_or_else(|| {
        Error::new(
            ErrorKind::NoSuchInterface,
            format!("no network interface named {spec}"),
        )
    })
}

/// Interfaces of this host with an address, with their index (through if-addrs, which
/// reads them the same way on every OS).
pub(crate) fn list() -> Result<Vec<Interface>> {
    let all =
        if_addrs::get_if_addrs().map_err(|e| Error::os("cannot list network interfaces", &e))?;
    let mut out: Vec<Interface> = Vec::new();
    for entry in &all {
        let Some(index) = entry.index.filter(|i| *i != 0) else {
            continue;
        };
        let ipv4 = match entry.addr.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        };
        match out.iter_mut().find(|i| i.index == index) {
            Some(known) => known.ipv4 = known.ipv4.or(ipv4),
            None => out.push(Interface {
                index,
                name: entry.name.clone(),
                ipv4,
            }),
        }
    }
    Ok(out)
}

/// (interface name, address) for every address configured on this host.
pub(crate) fn addresses() -> Result<Vec<(String, IpAddr)>> {
    let all =
        if_addrs::get_if_addrs().map_err(|e| Error::os("cannot list interface addresses", &e))?;
    Ok(all
        .into_iter()
        .map(|i| (i.name.clone(), i.addr.ip()))
        .collect())
}

/// The interface the system would use for IPv6 multicast when none is named: the
/// device of the best `ff00::/8` route, where the OS tells (Linux); elsewhere the kernel
/// decides at send time.
pub(crate) fn default_ipv6_multicast() -> Option<Interface> {
    let device = crate::sys::default_ipv6_multicast_device()?;
    resolve(&device).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolves_by_name_index_and_address() {
        // Loopback is `lo` on Linux, `lo0` on macOS, a long name on Windows: find it by
        // its address, then by its name and index.
        let by_address = resolve("127.0.0.1").unwrap();
        let by_name = resolve(&by_address.name).unwrap();
        assert_eq!(by_name, by_address);
        assert_eq!(resolve(&by_name.index.to_string()).unwrap(), by_name);
        assert_eq!(by_name.ipv4, Some(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn unknown_interface_is_a_named_error() {
        let err = resolve("nosuch0").unwrap_err();
        assert_eq!(err.kind, ErrorKind::NoSuchInterface);
        assert_eq!(err.message, "no network interface named nosuch0");
        assert_eq!(resolve("").unwrap_err().kind, ErrorKind::InvalidArgument);
    }
}
