#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly
//! TLS on mproxy's own listeners, in routes on loopback with certificates made here: a TLS
//! input requiring client certificates (a rustls client with and without one), and mproxy's
//! own TLS client reading mproxy's TLS output. The same on every OS (no openssl, no namespace).

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{counters, destination, packed, receive_bytes, wait_until};
use mproxy_core::event::Reporter;
use mproxy_core::TcpConnectSpec;
use mproxy_core::TcpListenSpec;
use mproxy_core::TcpOutputSpec;
use mproxy_core::TlsServerSpec;
use mproxy_core::TlsSpec;
use mproxy_core::Wire;
use mproxy_core::{ListenSpec, DEFAULT_SOCKET_BUFFER};
use mproxy_core::{OutputSpec, Route, RouteSpec};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

/// Files of a CA, a server certificate for localhost/127.0.0.1 and a client certificate.
struct Files {
    dir: PathBuf,
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: CertificateDer<'static>,
    client_key: PrivateKeyDer<'static>,
    ca_der: CertificateDer<'static>,
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn files(name: &str) -> Files {
    let dir = std::env::temp_dir().join(format!("mproxy-core-tlsl-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mproxy listener test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &ca).unwrap();
    let write = |file: &str, text: String| {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    Files {
        ca: write("ca.pem", ca.pem()),
        server_cert: write("server.pem", server.pem()),
        server_key: write("server.key", server_key.serialize_pem()),
        client_cert: client.der().clone(),
        client_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client_key.serialize_der())),
        ca_der: ca.der().clone(),
        dir,
    }
}

/// A blocking rustls client to `addr`, trusting the test CA, with a client certificate or not.
fn client(
    f: &Files,
    addr: SocketAddr,
    with_cert: bool,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(f.ca_der.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = if with_cert {
        builder
            .with_client_auth_cert(vec![f.client_cert.clone()], f.client_key.clone_key())
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap())
}

#[test]
fn a_tls_input_with_client_certificates_lets_in_only_certified_clients() {
    let f = files("input");
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let spec = RouteSpec {
        tcp_listeners: vec![TcpListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            framing: packed(1472),
            max_clients: 8,
            access: Default::default(),
            idle_timeout: None,
            tls: Some(TlsServerSpec {
                cert_file: f.server_cert.clone(),
                key_file: f.server_key.clone(),
                client_ca_file: Some(f.ca.clone()),
            }),
        }],
        outputs: vec![OutputSpec::udp(vec![destination(&sink)])],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    let addr = route.tcp_listen_addrs()[0];

    let payload = b"first line over mutual TLS\nsecond line\n";
    let mut good = client(&f, addr, true);
    good.write_all(payload).unwrap();
    good.flush().unwrap();
    assert_eq!(receive_bytes(&sink, payload.len()), payload);

    // Without a certificate the handshake fails at the listener; nothing it sends arrives.
    let mut bare = client(&f, addr, false);
    let _ = bare
        .write_all(b"must not arrive\n")
        .and_then(|_| bare.flush());
    wait_until("the failed handshake", || {
        counters(&route, "tcp-listener").tls_failures == 1
    });
    drop(bare);
    good.conn.send_close_notify();
    let _ = good.flush();
    drop(good);
    wait_until("both clients gone", || {
        counters(&route, "tcp-listener").disconnects == 2
    });
    route.stop();
    let c = counters(&route, "tcp-listener");
    assert_eq!(
        (c.connects, c.tls_failures, c.bytes_in),
        (2, 1, payload.len() as u64)
    );
    sink.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(sink.recv(&mut [0u8; 64]).is_err(), "nothing more arrived");
}

#[test]
fn mproxys_tls_client_reads_mproxys_tls_output() {
    let f = files("output");
    let output = RouteSpec {
        udp_listeners: vec![ListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            interface: None,
            recv_buffer: DEFAULT_SOCKET_BUFFER,
            wire: Wire::Sealed,
        }],
        outputs: vec![OutputSpec::tcp_listen(TcpOutputSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            max_clients: 4,
            client_queue_bytes: 1 << 20,
            access: Default::default(),
            preamble: None,
            keep_alive: None,
            tls: Some(TlsServerSpec {
                cert_file: f.server_cert.clone(),
                key_file: f.server_key.clone(),
                client_ca_file: None,
            }),
        })],
        ..Default::default()
    };
    let mut output = Route::start(&output, Reporter::silent()).unwrap();
    let out_addr = output.tcp_output_addrs()[0];
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let reader = RouteSpec {
        tcp_connects: vec![TcpConnectSpec {
            host: "127.0.0.1".into(),
            port: out_addr.port(),
            addr: out_addr,
            tls: Some(TlsSpec {
                server_name: "localhost".into(),
                ca_file: Some(f.ca.clone()),
                ..Default::default()
            }),
            framing: packed(1472),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            preamble: None,
            keep_alive: None,
        }],
        outputs: vec![OutputSpec::udp(vec![destination(&sink)])],
        ..Default::default()
    };
    let mut reader = Route::start(&reader, Reporter::silent()).unwrap();
    wait_until("the reader's connection", || {
        counters(&reader, "tcp-connection").connects == 1
            && counters(&output, "tcp-output").connects == 1
    });
    let input = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut expected = Vec::new();
    for i in 0..200 {
        let line = format!("datagram {i:03} through TLS both ways\n");
        input
            .send_to(line.as_bytes(), output.listen_addrs()[0])
            .unwrap();
        expected.extend_from_slice(line.as_bytes());
    }
    assert_eq!(receive_bytes(&sink, expected.len()), expected);
    reader.stop();
    output.stop();
    let c = counters(&output, "tcp-output");
    assert_eq!((c.connects, c.tls_failures), (1, 0));
    assert_eq!(c.bytes_out, expected.len() as u64);
}

#[test]
fn megabytes_pass_a_tls_input_and_a_tls_output_with_a_reader_that_pauses() {
    let f = files("large");
    let tls = Some(TlsServerSpec {
        cert_file: f.server_cert.clone(),
        key_file: f.server_key.clone(),
        client_ca_file: None,
    });
    let spec = RouteSpec {
        tcp_listeners: vec![TcpListenSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            framing: packed(1472),
            max_clients: 4,
            access: Default::default(),
            idle_timeout: None,
            tls: tls.clone(),
        }],
        outputs: vec![OutputSpec::tcp_listen(TcpOutputSpec {
            addr: "127.0.0.1:0".parse().unwrap(),
            max_clients: 4,
            client_queue_bytes: 64 << 20,
            access: Default::default(),
            preamble: None,
            keep_alive: None,
            tls,
        })],
        ..Default::default()
    };
    let mut route = Route::start(&spec, Reporter::silent()).unwrap();
    let (in_addr, out_addr) = (route.tcp_listen_addrs()[0], route.tcp_output_addrs()[0]);
    let mut reader = client(&f, out_addr, false);
    // The handshake, so the output has its client before the data flows.
    reader.conn.complete_io(&mut reader.sock).unwrap();
    wait_until("the reader", || {
        counters(&route, "tcp-output").connects == 1
    });
    let data: Vec<u8> = (0..200_000u32)
        .flat_map(|i| {
            format!("line {i:06} {}\n", "abcdefghij".repeat((i % 7) as usize)).into_bytes()
        })
        .collect();
    let writer = {
        let data = data.clone();
        let mut w = client(&f, in_addr, false);
        std::thread::spawn(move || {
            w.write_all(&data).unwrap();
            w.flush().unwrap();
            w
        })
    };
    // Not reading for a while: the output's writes to this client must block and resume.
    std::thread::sleep(Duration::from_millis(500));
    let mut got = vec![0u8; data.len()];
    std::io::Read::read_exact(&mut reader, &mut got).unwrap();
    assert!(got == data, "the reader got the bytes written, in order");
    let mut w = writer.join().unwrap();
    w.conn.send_close_notify();
    let _ = w.flush();
    drop(w);
    drop(reader);
    route.stop();
    let c = counters(&route, "tcp-output");
    assert_eq!(
        (c.bytes_out, c.bytes_dropped, c.evicted),
        (data.len() as u64, 0, 0)
    );
    assert_eq!(counters(&route, "tcp-listener").bytes_in, data.len() as u64);
}
