//! systemd's readiness notifications reach a real unix datagram socket, at a path and (on
//! Linux) at an abstract name.
#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn receive(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn notifies_a_socket_at_a_path() -> std::io::Result<()> {
    let dir = std::env::temp_dir().join(format!("mproxy-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("notify.sock");
    let listener = UnixDatagram::bind(&path)?;
    listener.set_read_timeout(Some(Duration::from_secs(10)))?;
    let text = path.to_string_lossy().into_owned();
    mproxy_core::os::notify_service_manager(&text, "READY=1")?;
    assert_eq!(receive(&listener), "READY=1");
    mproxy_core::os::notify_service_manager(&text, "STOPPING=1")?;
    assert_eq!(receive(&listener), "STOPPING=1");
    drop(listener);
    std::fs::remove_dir_all(&dir)?;
    // Nobody listening there any more: an error, not a panic.
    assert!(mproxy_core::os::notify_service_manager(&text, "READY=1").is_err());
    Ok(())
}

#[cfg(target_os = "linux")]
#[test]
fn notifies_an_abstract_socket() -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("mproxy-notify-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    let listener = UnixDatagram::bind_addr(&addr)?;
    listener.set_read_timeout(Some(Duration::from_secs(10)))?;
    mproxy_core::os::notify_service_manager(&format!("@{name}"), "READY=1")?;
    assert_eq!(receive(&listener), "READY=1");
    Ok(())
}

#[test]
fn the_monotonic_clock_moves_forward() -> std::io::Result<()> {
    let a = mproxy_core::os::monotonic_usec()?;
    let b = mproxy_core::os::monotonic_usec()?;
    assert!(a > 0 && b >= a);
    Ok(())
}
