#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly
//! A kept TLS connection in a route, against a real rustls server on loopback, with
//! certificates made here: the same on every OS (no openssl, no namespace).

mod common;

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::TempDir;
use mproxy_core::event::{Event, Reporter};
use mproxy_core::DestinationSpec;
use mproxy_core::Framing;
use mproxy_core::FramingSpec;
use mproxy_core::TcpConnectSpec;
use mproxy_core::TlsSpec;
use mproxy_core::{OutputSpec, Route, RouteSpec};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

/// A CA (named `ca_name`) and a server certificate it signed for localhost and 127.0.0.1.
fn pki(ca_name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// Accepts one client, sends `payload` over TLS, closes. The handshake's outcome is sent back.
fn tls_server(pki: &Pki, payload: &'static [u8]) -> (std::net::SocketAddr, mpsc::Receiver<bool>) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![pki.cert.clone()], pki.key.clone_key())
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        let sent = stream
            .write_all(payload)
            .and_then(|_| stream.flush())
            .is_ok();
        stream.conn.send_close_notify();
        let _ = stream.flush();
        let _ = tx.send(sent);
        std::thread::sleep(Duration::from_millis(200));
    });
    (addr, rx)
}

fn route_to(
    addr: std::net::SocketAddr,
    ca_file: &std::path::Path,
    sink: &UdpSocket,
    events: mpsc::Sender<Event>,
) -> Route {
    let spec = RouteSpec {
        tcp_connects: vec![TcpConnectSpec {
            host: "127.0.0.1".into(),
            port: addr.port(),
            addr,
            tls: Some(TlsSpec {
                server_name: "localhost".into(),
                ca_file: Some(ca_file.to_string_lossy().into_owned()),
                ..Default::default()
            }),
            framing: FramingSpec {
                framing: Framing::Packed,
                max_datagram: 1472,
                linger: Duration::from_millis(20),
                rate: 0,
                datagram_rate: 0,
                replay: None,
            },
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            preamble: None,
            keep_alive: None,
        }],
        outputs: vec![OutputSpec::udp(vec![DestinationSpec {
            addr: sink.local_addr().unwrap(),
            interface: None,
            ttl: 1,
            multicast_loop: true,
        }])],
        ..Default::default()
    };
    let reporter = Reporter::new(Arc::new(move |e| {
        let _ = events.send(e);
    }));
    Route::start(&spec, reporter).unwrap()
}

#[test]
fn a_tls_stream_verified_by_a_private_ca_arrives_as_datagrams() {
    let pki = pki("mproxy test CA");
    let dir = TempDir::new("private-ca");
    let ca = dir.path("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let payload: &'static [u8] = b"!AIVDM,1,1,,A,first,0*00\n!AIVDM,1,1,,B,second,0*00\n";
    let (addr, served) = tls_server(&pki, payload);
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (tx, _events) = mpsc::channel();
    let mut route = route_to(addr, &ca, &sink, tx);
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < payload.len() {
        let n = sink.recv(&mut buf).expect("a datagram within 10 s");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, payload);
    assert!(served.recv_timeout(Duration::from_secs(5)).unwrap());
    route.stop();
    let stats = route.stats();
    let c = &stats
        .iter()
        .find(|e| e.kind == "tcp-connection")
        .unwrap()
        .counters;
    assert_eq!(c.connects, 1);
    assert_eq!(c.bytes_in, payload.len() as u64);
}

#[test]
fn a_server_signed_by_another_ca_is_refused_with_a_sentence() {
    let pki = pki("mproxy test CA");
    // Another CA, named differently: the server's certificate has no issuer here.
    let dir = TempDir::new("other-ca");
    let ca = dir.path("other-ca.pem");
    std::fs::write(&ca, self::pki("another CA").ca_pem).unwrap();
    let (addr, _served) = tls_server(&pki, b"never\n");
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tx, events) = mpsc::channel();
    let mut route = route_to(addr, &ca, &sink, tx);
    let message = loop {
        match events
            .recv_timeout(Duration::from_secs(10))
            .expect("a log line within 10 s")
        {
            Event::Log { message, .. } if message.starts_with("cannot connect") => break message,
            _ => {}
        }
    };
    route.stop();
    assert!(
        message.starts_with(&format!("cannot connect to tls://127.0.0.1:{}: TLS handshake failed: certificate is not signed by a trusted CA", addr.port())),
        "{message}"
    );
}
