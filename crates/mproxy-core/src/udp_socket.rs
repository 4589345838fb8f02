//! Creating and configuring UDP sockets: listeners (unicast or a multicast group), senders
//! (one per address family and outgoing interface), buffer sizes, and the route check a
//! destination gets before the first datagram.

use crate::wire::Wire;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::{Error, ErrorKind, Result};
use crate::interface::{self, Interface};
use crate::sys;

/// The socket buffer we ask for by default: room for several thousand full-size datagrams,
/// so a burst survives while the reading thread is descheduled.
pub const DEFAULT_SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// Receive buffer of a sending socket: it holds only the ICMP errors queued about what it
/// sent, about a kilobyte each; a burst of them (the kernel may answer a whole backlog of
/// datagrams at once when it is busy) must fit, or the losses they report go uncounted.
const ERROR_QUEUE_BUFFER: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ListenSpec {
    pub addr: SocketAddr,
    /// For a group: the interface to join on (name, address or index). None: the system's choice.
    pub interface: Option<String>,
    pub recv_buffer: usize,
    /// What it accepts with a bus key: sealed datagrams (the default), or plain ones from
    /// sensors (see [`Wire`]). Without a key every listener is plain.
    pub wire: Wire,
}

#[derive(Debug, Clone)]
pub struct DestinationSpec {
    pub addr: SocketAddr,
    /// For a group (or an IPv6 link-local address): the outgoing interface.
    pub interface: Option<String>,
    /// Multicast TTL / hop limit.
    pub ttl: u32,
    /// Whether our own multicast is looped back to listeners on this host.
    pub multicast_loop: bool,
}

/// A bound listener and what the kernel granted it.
pub(crate) struct Listener {
    pub socket: Socket,
    pub local_addr: SocketAddr,
    pub recv_buffer: usize,
}

/// Every UDP socket of the core is made here. A socket that receives must not fail for what
/// a destination did, so Windows' reports of ICMP refusals are off there
/// ([`sys::ignore_udp_resets`]). A sending socket keeps them: on Windows a refusal shows as
/// an error of a later send from it, which is how `icmpErrors` learns of it.
fn udp_socket(domain: Domain, receives: bool) -> std::io::Result<Socket> {
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if receives {
        sys::ignore_udp_resets(&socket)?;
    }
    Ok(socket)
}

fn new_udp(addr: &SocketAddr) -> std::io::Result<Socket> {
    let socket = udp_socket(Domain::for_address(*addr), true)?;
    if addr.is_ipv6() {
        // Keep families apart so `0.0.0.0:P` and `[::]:P` can both be listened on.
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

fn resolve_interface(spec: &Option<String>) -> Result<Option<Interface>> {
    spec.as_deref().map(interface::resolve).transpose()
}

/// What to do when the system has no interface for a group. `{multicastInterface}` is the
/// option's name: the TypeScript layer writes it as the flag or the API option. Linux's lo
/// carries IPv4 multicast but no IPv6 multicast (it has no ff00::/8 route, and a join or a
/// send there is "network is unreachable"), so for one host an IPv6 group is no way: an IPv4
/// group on lo is.
fn name_an_interface(group: &SocketAddr) -> &'static str {
    if group.is_ipv6() {
        "name one with {multicastInterface} (or [GROUP%NAME]:PORT), for example eth0; for this host only, use an IPv4 group on lo instead: 239.255.0.1:9918 with {multicastInterface} lo"
    } else {
        "name one with {multicastInterface}, for example lo for this host only"
    }
}

fn no_interface_for(group: &SocketAddr) -> String {
    format!(
        "no interface reaches multicast group {group}; {}",
        name_an_interface(group)
    )
}

/// Binds a listener. A multicast group is joined on the named interface and shares its port
/// with other listeners (in this process or others), each of which gets every datagram.
pub(crate) fn bind_listener(spec: &ListenSpec) -> Result<Listener> {
    let addr = spec.addr;
    let context = format!("cannot listen on {addr}");
    let socket = new_udp(&addr).map_err(|e| Error::os(&context, &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| Error::os(&context, &e))?;
    let group = addr.ip().is_multicast();
    if group {
        socket
            .set_reuse_address(true)
            .map_err(|e| Error::os(&context, &e))?;
        sys::share_port(&socket).map_err(|e| Error::os(&context, &e))?;
    }
    let recv_buffer = sys::grow_recv_buffer(&socket, spec.recv_buffer);
    // Where the OS keeps one, the kernel then tells us with every batch how many datagrams
    // it dropped.
    sys::enable_drop_counter(&socket);
    let bind_addr = if group {
        sys::group_bind_addr(addr)
    } else {
        addr
    };
    // Link-local addresses (fe80::/10 unicast, ff02::/16 groups) only bind with their
    // interface as the scope; a group with no interface at all is bound unspecified and
    // filtered by IPV6_MULTICAST_ALL instead.
    let bind_addr = match bind_addr {
        SocketAddr::V6(v6) if v6.ip().is_multicast() || is_link_local_v6(v6.ip()) => {
            let index = match resolve_interface(&spec.interface)? {
                Some(i) => i.index,
                None if group => interface::default_ipv6_multicast().map_or(0, |i| i.index),
                None => 0,
            };
            if group && index == 0 {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), v6.port())
            } else {
                SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, index))
            }
        }
        a => a,
    };
    socket
        .bind(&SockAddr::from(bind_addr))
        .map_err(|e| Error::os(&context, &e).at("bind", addr))?;

    if group {
        join_group(&socket, &addr, &spec.interface)?;
    }
    let local_addr = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| {
            if group {
                SocketAddr::new(addr.ip(), a.port())
            } else {
                a
            }
        })
        .unwrap_or(addr);
    Ok(Listener {
        socket,
        local_addr,
        recv_buffer,
    })
}

/// Gives an IPv6 link-local address its interface as the scope, as `[fe80::1%eth0]` means.
pub fn with_scope(addr: SocketAddr, interface: &Option<String>) -> Result<SocketAddr> {
    match (addr, resolve_interface(interface)?) {
        (SocketAddr::V6(v6), Some(iface))
            if is_link_local_v6(v6.ip()) || v6.ip().is_multicast() =>
        {
            Ok(SocketAddr::V6(SocketAddrV6::new(
                *v6.ip(),
                v6.port(),
                0,
                iface.index,
            )))
        }
        (a, _) => Ok(a),
    }
}

fn is_link_local_v6(ip: &Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

fn join_group(socket: &Socket, group: &SocketAddr, iface_spec: &Option<String>) -> Result<()> {
    let iface = resolve_interface(iface_spec)?;
    let context = |what: &str| format!("cannot join multicast group {group}{what}");
    let on = iface
        .as_ref()
        .map(|i| format!(" on {}", i.name))
        .unwrap_or_default();
    let fail = |e: std::io::Error| -> Error {
        let no_route = matches!(
            e.kind(),
            std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::AddrNotAvailable
        ) || sys::is_no_such_device(&e);
        let err = if iface.is_none() && no_route {
            Error::new(
                ErrorKind::NoRoute,
                format!(
                    "{}: no interface reaches it; {}",
                    context(""),
                    name_an_interface(group)
                ),
            )
        } else {
            Error::os(context(&on), &e)
        };
        // As Node's dgram names its own join failures.
        err.at("addMembership", group)
    };
    match group.ip() {
        IpAddr::V4(g) => {
            let which = sys::ipv4_membership_interface(
                iface.as_ref().map_or(0, |i| i.index),
                iface.as_ref().and_then(|i| i.ipv4),
            );
            socket.join_multicast_v4_n(&g, &which).map_err(fail)?;
        }
        IpAddr::V6(g) => {
            let index = match &iface {
                Some(i) => i.index,
                None => interface::default_ipv6_multicast().map_or(0, |i| i.index),
            };
            socket.join_multicast_v6(&g, index).map_err(fail)?;
        }
    }
    sys::deliver_joined_groups_only(socket, group.is_ipv6())
        .map_err(|e| Error::os(context(&on), &e))
}

/// Outgoing sockets are shared by all destinations of one family and outgoing interface,
/// so one `sendmmsg` can carry a batch to several of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SenderKey {
    pub ipv6: bool,
    pub interface_index: u32,
    pub ttl: u32,
    pub multicast_loop: bool,
}

/// A destination after its interface was resolved and its route checked.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedDestination {
    pub addr: SocketAddr,
    pub key: SenderKey,
}

/// Resolves a destination's interface and proves a route to it exists, with a socket that
/// is connected (which sends nothing) and thrown away.
pub(crate) fn resolve_destination(spec: &DestinationSpec) -> Result<ResolvedDestination> {
    let group = spec.addr.ip().is_multicast();
    let mut iface = resolve_interface(&spec.interface)?;
    if iface.is_none() && group && spec.addr.is_ipv6() {
        // IPv6 multicast needs an interface at send time; use the one the routing table
        // would pick so that a missing route is reported now, not at the first datagram.
        iface = interface::default_ipv6_multicast();
        if iface.is_none() {
            return Err(Error::new(ErrorKind::NoRoute, no_interface_for(&spec.addr)));
        }
    }
    let index = iface.as_ref().map_or(0, |i| i.index);
    let addr = match spec.addr {
        SocketAddr::V6(v6) if index != 0 && (group || is_link_local_v6(v6.ip())) => {
            SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, index))
        }
        other => other,
    };
    let key = SenderKey {
        ipv6: addr.is_ipv6(),
        interface_index: if group { index } else { 0 },
        ttl: spec.ttl,
        multicast_loop: spec.multicast_loop,
    };
    let probe = sender_socket(&key, 0)?;
    if let Err(e) = probe.connect(&SockAddr::from(addr)) {
        if group
            && index == 0
            && matches!(
                e.kind(),
                std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::InvalidInput
            )
        {
            return Err(Error::new(ErrorKind::NoRoute, no_interface_for(&spec.addr)));
        }
        let mut err = Error::os(format!("no route to {}", spec.addr), &e).at("connect", spec.addr);
        if err.kind == ErrorKind::Io {
            err.kind = ErrorKind::NoRoute;
        }
        return Err(err);
    }
    Ok(ResolvedDestination { addr, key })
}

/// Creates the shared outgoing socket for one [`SenderKey`].
pub(crate) fn sender_socket(key: &SenderKey, send_buffer: usize) -> Result<Socket> {
    let family = if key.ipv6 { Domain::IPV6 } else { Domain::IPV4 };
    let context = "cannot create a sending socket";
    let socket = udp_socket(family, false).map_err(|e| Error::os(context, &e))?;
    if send_buffer > 0 {
        let _ = sys::grow_send_buffer(&socket, send_buffer);
    }
    // ICMP errors about what we send are queued with their destination (where the OS does
    // that), with room for a burst of them, so a lost datagram is charged to the right one.
    if sys::enable_error_queue(&socket, key.ipv6) {
        sys::grow_recv_buffer(&socket, ERROR_QUEUE_BUFFER);
    }
    let mc = |e: std::io::Error| Error::os("cannot configure multicast sending", &e);
    if key.ipv6 {
        socket
            .set_only_v6(true)
            .map_err(|e| Error::os(context, &e))?;
        if key.interface_index != 0 {
            socket
                .set_multicast_if_v6(key.interface_index)
                .map_err(mc)?;
        }
        socket.set_multicast_hops_v6(key.ttl).map_err(mc)?;
        socket
            .set_multicast_loop_v6(key.multicast_loop)
            .map_err(mc)?;
    } else {
        if key.interface_index != 0 {
            set_multicast_if_v4_index(&socket, key.interface_index).map_err(mc)?;
        }
        socket.set_multicast_ttl_v4(key.ttl).map_err(mc)?;
        socket
            .set_multicast_loop_v4(key.multicast_loop)
            .map_err(mc)?;
    }
    Ok(socket)
}

/// IPv4's outgoing multicast interface is named by one of its addresses (the portable form
/// of the option).
fn set_multicast_if_v4_index(socket: &Socket, index: u32) -> std::io::Result<()> {
    let local = interface::list()
        .ok()
        .and_then(|all| all.into_iter().find(|i| i.index == index))
        .and_then(|i| i.ipv4)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                "the interface has no IPv4 address to send multicast from",
            )
        })?;
    socket.set_multicast_if_v4(&local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(addr: &str) -> ListenSpec {
        ListenSpec {
            addr: addr.parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }
    }

    #[test]
    fn port_zero_gets_a_real_port_and_a_buffer() {
        let l = bind_listener(&spec("127.0.0.1:0")).unwrap();
        assert_ne!(l.local_addr.port(), 0);
        assert!(l.recv_buffer > 0);
    }

    #[test]
    fn a_port_in_use_is_a_named_error() {
        let first = bind_listener(&spec("127.0.0.1:0")).unwrap();
        let err = bind_listener(&spec(&first.local_addr.to_string()))
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::AddressInUse);
        // The OS's own words follow ours: Linux's are checked, others only begin as ours.
        let ours = format!("cannot listen on {}: ", first.local_addr);
        assert!(err.message.starts_with(&ours), "{}", err.message);
        #[cfg(target_os = "linux")]
        assert_eq!(&err.message[ours.len()..], "address already in use");
    }

    /// On Windows an ICMP "port unreachable" about a datagram a socket sent makes its next
    /// receive fail (WSAECONNRESET) unless SIO_UDP_CONNRESET is off, which `udp_socket` does.
    /// Linux never reports it on an unconnected socket, and neither does Wine (it runs on
    /// Linux's sockets): there the test shows only that the listener keeps receiving.
    #[test]
    fn a_refused_destination_does_not_break_a_listener_of_the_same_socket() {
        let listener = bind_listener(&spec("127.0.0.1:0")).unwrap();
        let nobody = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed = nobody.local_addr().unwrap();
        drop(nobody);
        for _ in 0..3 {
            listener
                .socket
                .send_to(b"to nobody", &closed.into())
                .unwrap();
        }
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"hello", listener.local_addr).unwrap();
        let socket: std::net::UdpSocket = listener.socket.try_clone().unwrap().into();
        socket.set_nonblocking(false).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, peer.local_addr().unwrap());
    }

    #[test]
    fn unicast_destination_on_loopback_has_a_route() {
        let d = resolve_destination(&DestinationSpec {
            addr: "127.0.0.1:9".parse().unwrap(),
            interface: None,
            ttl: 1,
            multicast_loop: true,
        })
        .unwrap();
        assert!(!d.key.ipv6);
    }

    #[test]
    fn unknown_interface_for_a_destination_is_reported() {
        let err = resolve_destination(&DestinationSpec {
            addr: "239.1.2.3:9".parse().unwrap(),
            interface: Some("nosuch0".into()),
            ttl: 1,
            multicast_loop: true,
        })
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NoSuchInterface);
    }
}
