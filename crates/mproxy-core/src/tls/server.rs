//! TLS on mproxy's own listeners (`tls://HOST:PORT` inputs and outputs of the reverse proxy):
//! a rustls server configuration loaded from PEM files at start, optionally requiring client
//! certificates signed by a given CA (mutual TLS), and [`ClientStream`], a client's socket
//! with or without TLS behind one non-blocking read/write interface.
//!
//! Nothing here blocks: a TLS client's handshake is driven by the listener thread's readiness
//! events like any other read or write (records are read with `read_tls` until the socket
//! would block, and what rustls has to send goes out with `write_tls` until it would block),
//! so one slow or hostile handshake never holds up the other clients.

use std::io::{self, Read as _, Write as _};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::crypto::ring;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, RootCertStore, ServerConfig, ServerConnection};

use super::client::{describe, words};
use super::pem::{read_certs, read_key};
use crate::error::{Error, ErrorKind, Result};

/// The files of a TLS listener.
#[derive(Debug, Clone, Default)]
pub struct TlsServerSpec {
    /// PEM certificate chain the listener presents (leaf first).
    pub cert_file: String,
    /// PEM private key of that certificate.
    pub key_file: String,
    /// PEM CA certificates a client certificate must be signed by; given: every client must
    /// present one (mutual TLS).
    pub client_ca_file: Option<String>,
}

/// A checked server configuration, shared by every connection of a listener.
#[derive(Clone)]
pub(crate) struct TlsServer {
    config: Arc<ServerConfig>,
}

fn setup_failed(e: &rustls::Error) -> Error {
    Error::new(ErrorKind::Io, format!("TLS setup failed: {}", describe(e)))
}

impl TlsServer {
    /// Loads every file now, so a missing or malformed one fails the start.
    pub(crate) fn new(spec: &TlsServerSpec) -> Result<Self> {
        let provider = Arc::new(ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| setup_failed(&e))?;
        let builder = match &spec.client_ca_file {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for (n, cert) in read_certs(ca, "TLS client CA file")?
                    .into_iter()
                    .enumerate()
                {
                    roots.add(cert).map_err(|e| {
                        Error::new(
                            ErrorKind::File,
                            format!(
                                "TLS client CA file {ca}: certificate {} cannot be used: {}",
                                n + 1,
                                describe(&e)
                            ),
                        )
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|_| {
                            Error::new(
                                ErrorKind::File,
                                format!(
                            "TLS client CA file {ca} holds no certificate usable as a trust anchor"
                        ),
                            )
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let chain = read_certs(&spec.cert_file, "TLS certificate")?;
        let key = read_key(&spec.key_file, "TLS key")?;
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            let (cert, key) = (&spec.cert_file, &spec.key_file);
            let why = match e {
                rustls::Error::InconsistentKeys(_) => {
                    format!("TLS key {key} does not belong to TLS certificate {cert}")
                }
                other => format!(
                    "TLS certificate {cert} cannot be used with key {key}: {}",
                    describe(&other)
                ),
            };
            Error::new(ErrorKind::File, why)
        })?;
        Ok(TlsServer {
            config: Arc::new(config),
        })
    }

    /// A new connection's TLS state, with nothing received yet.
    pub(crate) fn accept(&self, socket: TcpStream) -> Result<ClientStream> {
        let conn = ServerConnection::new(self.config.clone()).map_err(|e| setup_failed(&e))?;
        Ok(ClientStream::Tls(Box::new(TlsConn {
            socket,
            conn,
            failure: None,
            announced: false,
        })))
    }
}

/// A client of a listener: a plain socket, or one with a TLS session on it.
pub(crate) enum ClientStream {
    Plain(TcpStream),
    Tls(Box<TlsConn>),
}

pub(crate) struct TlsConn {
    socket: TcpStream,
    conn: ServerConnection,
    /// Why the handshake failed, once it has.
    failure: Option<String>,
    /// Whether the finished handshake was reported.
    announced: bool,
}

impl ClientStream {
    /// The socket itself (to register, deregister, shut down, set options).
    pub(crate) fn socket(&mut self) -> &mut TcpStream {
        match self {
            ClientStream::Plain(s) => s,
            ClientStream::Tls(t) => &mut t.socket,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, ClientStream::Tls(_))
    }

    /// Whether a TLS client has not finished its handshake yet.
    pub(crate) fn handshaking(&self) -> bool {
        match self {
            ClientStream::Plain(_) => false,
            ClientStream::Tls(t) => t.conn.is_handshaking(),
        }
    }

    /// True once, the first time it is asked after a TLS handshake finished.
    pub(crate) fn newly_established(&mut self) -> bool {
        match self {
            ClientStream::Tls(t) if !t.announced && !t.conn.is_handshaking() => {
                t.announced = true;
                true
            }
            _ => false,
        }
    }

    /// Why a TLS handshake failed; for a connection that ended before its handshake
    /// finished, that it did. `None` for plain clients and finished handshakes.
    pub(crate) fn handshake_failure(&self) -> Option<String> {
        match self {
            ClientStream::Tls(t) if t.failure.is_some() => t.failure.clone(),
            ClientStream::Tls(t) if t.conn.is_handshaking() => {
                Some("the connection ended before the TLS handshake finished".into())
            }
            _ => None,
        }
    }

    /// Gives up on a handshake that took longer than `limit`: the client is to be closed,
    /// and [`ClientStream::handshake_failure`] says why.
    pub(crate) fn handshake_timed_out(&mut self, limit: std::time::Duration) {
        if let ClientStream::Tls(t) = self {
            t.failure = Some(format!(
                "it did not finish the TLS handshake within {} seconds",
                limit.as_secs()
            ));
        }
    }

    /// Whether TLS records wait to be sent (sent by [`ClientStream::flush`]).
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            ClientStream::Plain(_) => false,
            ClientStream::Tls(t) => t.conn.wants_write(),
        }
    }

    /// Sends waiting TLS records until the socket would block.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            ClientStream::Plain(_) => Ok(()),
            ClientStream::Tls(t) => t.flush(),
        }
    }

    /// Ends a TLS session in order (close_notify), as far as the socket takes it now.
    pub(crate) fn close_notify(&mut self) {
        if let ClientStream::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.flush();
        }
    }

    /// Reads what the client sent (decrypted). `Ok(0)`: it left; `WouldBlock`: nothing more
    /// now. A TLS client's handshake advances as a side effect.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.read(buf),
            ClientStream::Tls(t) => t.read(buf),
        }
    }

    /// Writes to the client (through TLS: into the session, sent as far as the socket takes
    /// it). `WouldBlock` when nothing could be taken.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.write(buf),
            ClientStream::Tls(t) => t.write(buf),
        }
    }
}

impl TlsConn {
    fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: it left all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            self.flush()?;
            match self.conn.read_tls(&mut self.socket) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    let handshaking = self.conn.is_handshaking();
                    if let Err(e) = self.conn.process_new_packets() {
                        let why = describe_client_failure(&e);
                        // The alert that tells the client why.
                        let _ = self.flush();
                        if handshaking {
                            self.failure = Some(why.clone());
                        }
                        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
                    }
                    self.flush()?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush()?;
        let n = self.conn.writer().write(buf)?;
        self.flush()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

/// A failed handshake from the listener's side, as a sentence about the client.
pub(crate) fn describe_client_failure(err: &rustls::Error) -> String {
    match err {
        rustls::Error::NoCertificatesPresented => {
            "the client presented no certificate (one is required: {tlsClientCa})".into()
        }
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "the client certificate is not signed by the CA of {tlsClientCa}".into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the client certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the client certificate is not valid yet".into()
            }
            CertificateError::BadSignature => "the client certificate signature is invalid".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the client certificate is not meant for a TLS client".into()
            }
            other => format!(
                "the client certificate was refused ({})",
                words(&format!("{other:?}"))
            ),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the client ended the handshake with the alert \"{}\"",
            words(&format!("{alert:?}"))
        ),
        rustls::Error::PeerIncompatible(why) => format!(
            "the client is not compatible ({})",
            words(&format!("{why:?}"))
        ),
        rustls::Error::PeerMisbehaved(why) => format!(
            "the client broke the TLS protocol ({})",
            words(&format!("{why:?}"))
        ),
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            "the client does not speak TLS (is it a plain TCP client?)".into()
        }
        rustls::Error::DecryptError => "a TLS record from the client failed to decrypt".into(),
        other => words(&format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let spec = TlsServerSpec {
            cert_file: "/nonexistent/cert.pem".into(),
            key_file: "/nonexistent/key.pem".into(),
            client_ca_file: None,
        };
        let err = TlsServer::new(&spec).err().unwrap();
        assert!(
            err.message
                .starts_with("cannot read TLS certificate /nonexistent/cert.pem"),
            "{}",
            err.message
        );
        let spec = TlsServerSpec {
            client_ca_file: Some("/nonexistent/ca.pem".into()),
            ..spec
        };
        let err = TlsServer::new(&spec).err().unwrap();
        assert!(
            err.message
                .starts_with("cannot read TLS client CA file /nonexistent/ca.pem"),
            "{}",
            err.message
        );
    }

    #[test]
    fn client_failures_read_as_sentences() {
        assert_eq!(
            describe_client_failure(&rustls::Error::NoCertificatesPresented),
            "the client presented no certificate (one is required: {tlsClientCa})"
        );
        assert_eq!(
            describe_client_failure(&rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            "the client certificate is not signed by the CA of {tlsClientCa}"
        );
        assert_eq!(
            describe_client_failure(&rustls::Error::InvalidMessage(
                rustls::InvalidMessage::MessageTooShort
            )),
            "the client does not speak TLS (is it a plain TCP client?)"
        );
    }
}
