//! Linux: batched UDP (`udp`, `cmsg`), socket options beyond the portable set, and the
//! routing table's choice of interface for IPv6 multicast.

mod cmsg;
mod udp;

pub(crate) use self::udp::*;

use nix::sys::socket::{setsockopt, sockopt};
use socket2::Socket;

/// The kernel counts the datagrams it drops on a full receive buffer
/// ([`enable_drop_counter`], [`udp_drop_totals`]).
pub(crate) const HAS_DROP_COUNTER: bool = true;

/// Asks for `bytes` of receive buffer, beyond `net.core.rmem_max` where we may (root,
/// CAP_NET_ADMIN), and returns what the kernel really granted.
pub fn grow_recv_buffer(socket: &Socket, bytes: usize) -> usize {
    if setsockopt(socket, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = socket.set_recv_buffer_size(bytes);
    }
    socket.recv_buffer_size().unwrap_or(0)
}

/// Same for the send side.
pub fn grow_send_buffer(socket: &Socket, bytes: usize) -> usize {
    if setsockopt(socket, sockopt::SndBufForce, &bytes).is_err() {
        let _ = socket.set_send_buffer_size(bytes);
    }
    socket.send_buffer_size().unwrap_or(0)
}

/// With every received batch the kernel then says how many datagrams it dropped so far.
pub(crate) fn enable_drop_counter(socket: &Socket) -> bool {
    setsockopt(socket, sockopt::RxqOvfl, &1).is_ok()
}

/// ICMP errors about datagrams we sent are queued on the socket with the destination they
/// were about, for connected and unconnected sockets alike.
pub(crate) fn enable_error_queue(socket: &Socket, ipv6: bool) -> bool {
    if ipv6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true).is_ok()
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true).is_ok()
    }
}

/// Only the groups this socket joined are delivered to it, not every group any socket on the
/// host joined for the same port.
pub(crate) fn deliver_joined_groups_only(socket: &Socket, ipv6: bool) -> std::io::Result<()> {
    if ipv6 {
        socket.set_multicast_all_v6(false)
    } else {
        socket.set_multicast_all_v4(false)
    }
}

/// The interface the system would use for IPv6 multicast when none is named: the device of
/// the best `ff00::/8` route.
pub(crate) fn default_ipv6_multicast_device() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/ipv6_route").ok()?;
    best_multicast_route_device(&table)
}

/// Picks the lowest-metric `ff00::/8` route from `/proc/net/ipv6_route` text, skipping
/// loopback (which the kernel never uses to leave the host).
fn best_multicast_route_device(table: &str) -> Option<String> {
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

/// The kernel's count of datagrams dropped on each socket (`sk_drops`, the same total the
/// per-batch drop counter carries), read from /proc/net/udp{,6} without receiving: drops at
/// the end of a burst reach no later datagram's counter, so they are read here. One read of
/// the tables serves every socket asked about.
pub fn udp_drop_totals(sockets: &[socket2::SockRef<'_>]) -> Vec<Option<u64>> {
    use std::os::fd::AsFd;
    // ino_t is 32 bits on 32-bit glibc targets (armv7), 64 elsewhere.
    #[allow(clippy::useless_conversion)]
    let inodes: Vec<Option<u64>> = sockets
        .iter()
        .map(|s| {
            nix::sys::stat::fstat(s.as_fd())
                .ok()
                .map(|st| u64::from(st.st_ino))
        })
        .collect();
    let mut drops = std::collections::HashMap::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let (Some(inode), Some(count)) = (fields.get(9), fields.get(12)) {
                if let (Ok(inode), Ok(count)) = (inode.parse::<u64>(), count.parse::<u64>()) {
                    drops.insert(inode, count);
                }
            }
        }
    }
    inodes
        .into_iter()
        .map(|inode| inode.and_then(|i| drops.get(&i).copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
