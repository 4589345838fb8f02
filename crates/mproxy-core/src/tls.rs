//! TLS client configuration (rustls with the ring provider): the system's trusted roots plus
//! an optional private CA, optional client certificate, or no verification at all when the
//! user asks for it. Failures become one-line reasons a person can act on.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Default)]
pub struct TlsSpec {
    /// The name to verify the certificate against and send as SNI (a host name or IP literal).
    pub server_name: String,
    /// A PEM file of extra CA certificates to trust.
    pub ca_file: Option<String>,
    /// PEM client certificate chain and key, for servers that require one.
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Accept any certificate. The caller warns about it.
    pub insecure: bool,
}

/// A checked TLS setup: the shared config and the name to present.
#[derive(Clone)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// "no such file or directory" rather than "I/O error: No such file or directory (os error 2)".
fn pem_problem(what: &str, path: &str, err: rustls::pki_types::pem::Error) -> Error {
    let why = match err {
        rustls::pki_types::pem::Error::Io(io) => crate::error::describe_os_error(&io),
        other => other.to_string(),
    };
    Error::new(ErrorKind::File, format!("cannot read {what} {path}: {why}"))
}

fn read_certs(path: &str, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: std::result::Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_problem(what, path, e))?
        .collect();
    let certs = certs.map_err(|e| pem_problem(what, path, e))?;
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::File,
            format!("{what} {path} holds no PEM certificate"),
        ));
    }
    Ok(certs)
}

impl TlsClient {
    /// Loads every file now, so a missing or malformed one fails the start.
    pub fn new(spec: &TlsSpec) -> Result<Self> {
        let server_name = ServerName::try_from(spec.server_name.clone()).map_err(|_| {
            Error::invalid(format!(
                "{} is not a valid TLS server name",
                spec.server_name
            ))
        })?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Io, format!("TLS setup failed: {e}")))?;
        let builder = if spec.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
        } else {
            let mut roots = RootCertStore::empty();
            // The system store may be absent or partly unreadable; a private CA can still work.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if let Some(ca) = &spec.ca_file {
                for cert in read_certs(ca, "CA file")? {
                    roots
                        .add(cert)
                        .map_err(|e| Error::new(ErrorKind::File, format!("CA file {ca}: {e}")))?;
                }
            }
            builder.with_root_certificates(roots)
        };
        let config = match (&spec.cert_file, &spec.key_file) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert, "client certificate")?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| pem_problem("client key", key, e))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::new(
                        ErrorKind::File,
                        format!("client certificate and key do not fit: {e}"),
                    )
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(Error::invalid(
                    "a client certificate needs both a certificate and a key file",
                ))
            }
        };
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// Words for a failed handshake, e.g. "certificate has expired".
pub fn describe(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate is not valid yet".into()
            }
            CertificateError::UnknownIssuer => {
                "certificate is not signed by a trusted CA (unknown issuer; see --tls-ca)".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "certificate is not valid for this host name".into()
            }
            CertificateError::BadSignature => "certificate signature is invalid".into(),
            CertificateError::Revoked => "certificate is revoked".into(),
            other => format!("invalid certificate ({other:?})"),
        },
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?})")
        }
        other => other.to_string(),
    }
}

/// `--tls-insecure`: any certificate is accepted; handshake signatures are still checked so
/// the connection is at least consistent.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_and_half_client_auth_are_named() {
        let spec = TlsSpec {
            server_name: "localhost".into(),
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let err = TlsClient::new(&spec).err().unwrap();
        assert_eq!(err.kind, ErrorKind::File);
        assert!(
            err.message
                .starts_with("cannot read CA file /nonexistent/ca.pem"),
            "{}",
            err.message
        );
        let spec = TlsSpec {
            server_name: "localhost".into(),
            cert_file: Some("c.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            TlsClient::new(&spec).err().unwrap().kind,
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn ip_literals_are_valid_server_names() {
        for name in ["127.0.0.1", "::1", "localhost"] {
            let spec = TlsSpec {
                server_name: name.into(),
                insecure: true,
                ..Default::default()
            };
            assert!(TlsClient::new(&spec).is_ok(), "{name}");
        }
    }
}
