//! TLS client configuration (rustls with the ring provider): the system's trusted roots plus
//! an optional private CA, optional client certificate, or no verification at all when the
//! user asks for it. A certificate in the CA file that a server presents as its own (a
//! self-signed certificate, say from `openssl req -x509`) is pinned: that exact certificate is
//! accepted within its validity dates. Failures become one-line reasons a person can act on.
//!
//! Its files are read through [`super::pem`]. The words for rustls' errors ([`describe`],
//! [`words`]) serve the server side too.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, PeerIncompatible,
    RootCertStore, SignatureScheme,
};

use super::pem::{read_certs, read_key};
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Default)]
pub struct TlsSpec {
    /// The name to verify the certificate against and send as SNI (a host name or IP literal).
    pub server_name: String,
    /// A PEM file of extra CA certificates to trust (and certificates to pin).
    pub ca_file: Option<String>,
    /// PEM client certificate chain and key, for servers that require one.
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Accept any certificate. The caller warns about it.
    pub insecure: bool,
}

/// A checked TLS setup: the shared config and the name to present.
#[derive(Clone)]
pub(crate) struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

impl TlsClient {
    /// Loads every file now, so a missing or malformed one fails the start.
    pub(crate) fn new(spec: &TlsSpec) -> Result<Self> {
        let server_name = ServerName::try_from(spec.server_name.clone()).map_err(|_| {
            Error::invalid(format!(
                "{} is not a valid TLS server name",
                spec.server_name
            ))
        })?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                Error::new(ErrorKind::Io, format!("TLS setup failed: {}", describe(&e)))
            })?;
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
            match &spec.ca_file {
                None => builder.with_root_certificates(roots),
                Some(ca) => {
                    let pinned = read_certs(ca, "CA file")?;
                    for (n, cert) in pinned.iter().enumerate() {
                        roots.add(cert.clone()).map_err(|e| {
                            Error::new(
                                ErrorKind::File,
                                format!(
                                    "CA file {ca}: certificate {} cannot be used: {}",
                                    n + 1,
                                    describe(&e)
                                ),
                            )
                        })?;
                    }
                    let webpki =
                        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                            .build()
                            .map_err(|_| {
                                Error::new(
                            ErrorKind::File,
                            format!("CA file {ca} holds no certificate usable as a trust anchor"),
                        )
                            })?;
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(PinnedOrWebPki {
                            pinned,
                            webpki,
                        }))
                }
            }
        };
        let config = match (&spec.cert_file, &spec.key_file) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert, "client certificate")?;
                let key = read_key(key, "client key")?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::new(
                        ErrorKind::File,
                        format!("client certificate and key do not fit: {}", describe(&e)),
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

/// `SomeName { field: .. }` or `SomeName(..)` as words: "some name". For the few error
/// values rustls only names through `Debug`.
pub(crate) fn words(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push(' ');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn describe_certificate(err: &CertificateError) -> String {
    match err {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not valid yet".into()
        }
        CertificateError::UnknownIssuer => {
            "certificate is not signed by a trusted CA (unknown issuer; see {tlsCa})".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "certificate is not valid for this host name".into()
        }
        CertificateError::BadSignature => "certificate signature is invalid".into(),
        CertificateError::Revoked => "certificate is revoked".into(),
        CertificateError::BadEncoding => "certificate is malformed".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "certificate is not meant for a TLS server".into()
        }
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "certificate is signed with an algorithm that is not supported".into()
        }
        CertificateError::UnhandledCriticalExtension => {
            "certificate has a critical extension that is not understood".into()
        }
        CertificateError::Other(other) => match words(&other.to_string()).as_str() {
            "ca used as end entity" => "the server presents a CA certificate as its own; to pin a self-signed certificate, give that exact certificate with {tlsCa}".into(),
            "end entity used as ca" => "a certificate that is not a CA signed another one in the chain".into(),
            "path len constraint violated" | "maximum path depth exceeded" => {
                "the certificate chain is longer than its CAs allow".into()
            }
            "" => "certificate was refused".into(),
            reason => format!("certificate was refused ({reason})"),
        },
        other => format!("certificate was refused ({})", words(&format!("{other:?}"))),
    }
}

fn describe_alert(alert: &AlertDescription) -> String {
    match alert {
        AlertDescription::CertificateRequired => {
            "the server requires a client certificate (see {tlsCert} and {tlsKey})".into()
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown => {
            "the server refused the client certificate".into()
        }
        AlertDescription::UnknownCA => {
            "the server does not trust the CA of the client certificate".into()
        }
        AlertDescription::CertificateExpired => {
            "the server says the client certificate has expired".into()
        }
        AlertDescription::CertificateRevoked => {
            "the server says the client certificate is revoked".into()
        }
        AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => {
            "the server refused the handshake (no protocol version or cipher suite in common)"
                .into()
        }
        AlertDescription::ProtocolVersion => "the server does not speak TLS 1.2 or 1.3".into(),
        AlertDescription::UnrecognisedName => {
            "the server does not serve this host name (SNI)".into()
        }
        AlertDescription::AccessDenied => "the server denied access".into(),
        AlertDescription::InternalError => "the server reported an internal error".into(),
        other => format!(
            "the server ended the handshake with the alert \"{}\"",
            words(&format!("{other:?}"))
        ),
    }
}

/// Words for a failed handshake, e.g. "certificate has expired": always a sentence, never
/// Rust's debug text.
pub(crate) fn describe(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(cert) => describe_certificate(cert),
        rustls::Error::AlertReceived(alert) => describe_alert(alert),
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        rustls::Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13) => {
            "the server does not speak TLS 1.2 or 1.3".into()
        }
        rustls::Error::PeerIncompatible(why) => {
            format!(
                "the server is not compatible ({})",
                words(&format!("{why:?}"))
            )
        }
        rustls::Error::PeerMisbehaved(why) => {
            format!(
                "the server broke the TLS protocol ({})",
                words(&format!("{why:?}"))
            )
        }
        rustls::Error::InvalidMessage(why) => {
            format!(
                "the server sent a malformed TLS message ({})",
                words(&format!("{why:?}"))
            )
        }
        rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            "the server sent an unexpected TLS message (is it a TLS server?)".into()
        }
        rustls::Error::DecryptError => "a TLS record failed to decrypt".into(),
        rustls::Error::PeerSentOversizedRecord => {
            "the server sent an oversized TLS record (is it a TLS server?)".into()
        }
        rustls::Error::InconsistentKeys(_) => {
            "the client certificate does not belong to the client key".into()
        }
        rustls::Error::General(text) => text.clone(),
        other => words(&format!("{other:?}")),
    }
}

/// The validity period of a DER X.509 certificate, in seconds since the Unix epoch.
///
/// Read straight from the DER because a pinned certificate cannot go through webpki's path
/// checks (a self-signed certificate is usually marked as a CA, which webpki refuses as an
/// end entity), and the dates are all that is left to check of it.
fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (certificate, _) = der_item(der, 0x30)?;
    let (tbs, _) = der_item(certificate, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = der_item(rest, 0xa0)?.1; // [0] version
    }
    rest = der_item(rest, 0x02)?.1; // serial number
    rest = der_item(rest, 0x30)?.1; // signature algorithm
    rest = der_item(rest, 0x30)?.1; // issuer
    let (period, _) = der_item(rest, 0x30)?;
    let (not_before, rest) = der_time(period)?;
    let (not_after, _) = der_time(rest)?;
    Some((not_before, not_after))
}

/// One DER item with the expected tag: its contents and what follows it.
fn der_item(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = rest.get(..count)?;
        rest = rest.get(count..)?;
        bytes.iter().fold(0usize, |len, &b| (len << 8) | b as usize)
    };
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), as RFC 5280 has them.
fn der_time(input: &[u8]) -> Option<(i64, &[u8])> {
    let (tag, year_digits) = match input.first()? {
        0x17 => (0x17, 2),
        0x18 => (0x18, 4),
        _ => return None,
    };
    let (text, rest) = der_item(input, tag)?;
    if text.len() != year_digits + 11 || text.last() != Some(&b'Z') {
        return None;
    }
    let number = |from: usize, len: usize| -> Option<i64> {
        text.get(from..from + len)?.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let mut year = number(0, year_digits)?;
    if tag == 0x17 {
        year += if year < 50 { 2000 } else { 1900 };
    }
    let at = year_digits;
    let (month, day) = (number(at, 2)?, number(at + 2, 2)?);
    let (hour, minute, second) = (number(at + 4, 2)?, number(at + 6, 2)?, number(at + 8, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3_600 + minute * 60 + second, rest))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `--tls-ca FILE`: the file's certificates are trust anchors (with the system's), and a
/// server presenting one of them as its own certificate is accepted as pinned, within its
/// validity dates. Handshake signatures are always checked against the presented key.
#[derive(Debug)]
struct PinnedOrWebPki {
    pinned: Vec<CertificateDer<'static>>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if !self
            .pinned
            .iter()
            .any(|pin| pin.as_ref() == end_entity.as_ref())
        {
            return self.webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp,
                now,
            );
        }
        let (not_before, not_after) = validity(end_entity.as_ref()).ok_or(
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
        )?;
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now < not_before {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet,
            ));
        }
        if now > not_after {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
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
    use super::super::pem::MAX_PEM_BYTES;
    use super::*;
    use rustls::pki_types::pem::PemObject as _;

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

    /// `openssl req -x509 -newkey ec -subj /CN=pinned.example -days 3650`: self-signed and,
    /// as openssl marks such certificates by default, a CA.
    const SELF_SIGNED: &str = "-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUAXaX/Qb2h7PAu9xQGkJyEYCtuT4wCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOcGlubmVkLmV4YW1wbGUwHhcNMjYxMTI3MTcyOTQzWhcNMzYx
MTI0MTcyOTQzWjAZMRcwFQYDVQQDDA5waW5uZWQuZXhhbXBsZTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABGLoRW/rtZCPLq8KkNyZsRWsmLpTi2mQBZbfJGvtMeWb
mMIskDHcwCPNu+99t0xNZpe7kDRyIc+VphsaaRMzDtCjUzBRMB0GA1UdDgQWBBTg
uE81BTPiINJZcF1G+rXkcMZf1TAfBgNVHSMEGDAWgBTguE81BTPiINJZcF1G+rXk
cMZf1TAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDoU1GHpxMf
i9KssDNgWamvJi2/Awo/GjWpGfHt68IVTAIgCGAyz2vXNSrhIUD9JzzxExj9JftO
fZZi7Xzh1MrFxGU=
-----END CERTIFICATE-----
";

    #[test]
    fn validity_dates_are_read_from_the_der() {
        let der = CertificateDer::from_pem_slice(SELF_SIGNED.as_bytes()).unwrap();
        // `date -d 'Nov 27 17:29:43 2026 GMT' +%s` and the same for Nov 24 2036.
        assert_eq!(validity(der.as_ref()), Some((1_795_800_583, 2_111_160_583)));
        assert_eq!(validity(&der.as_ref()[..40]), None);
        assert_eq!(validity(b""), None);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    fn pinned_verifier() -> PinnedOrWebPki {
        let der = CertificateDer::from_pem_slice(SELF_SIGNED.as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(der.clone()).unwrap();
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        PinnedOrWebPki {
            pinned: vec![der],
            webpki,
        }
    }

    #[test]
    fn a_pinned_self_signed_certificate_is_accepted_within_its_dates() {
        let verifier = pinned_verifier();
        let der = CertificateDer::from_pem_slice(SELF_SIGNED.as_bytes()).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let at = |secs| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        assert!(verifier
            .verify_server_cert(&der, &[], &name, &[], at(1_900_000_000))
            .is_ok());
        let expired = verifier
            .verify_server_cert(&der, &[], &name, &[], at(2_111_160_584))
            .unwrap_err();
        assert_eq!(describe(&expired), "certificate has expired");
        let early = verifier
            .verify_server_cert(&der, &[], &name, &[], at(1_795_800_582))
            .unwrap_err();
        assert_eq!(describe(&early), "certificate is not valid yet");
    }

    #[test]
    fn failures_read_as_sentences() {
        use rustls::OtherError;
        let ca_as_leaf = rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
            Arc::new(std::io::Error::other("CaUsedAsEndEntity")),
        )));
        assert_eq!(
            describe(&ca_as_leaf),
            "the server presents a CA certificate as its own; to pin a self-signed certificate, give that exact certificate with {tlsCa}"
        );
        assert_eq!(
            describe(&rustls::Error::AlertReceived(
                AlertDescription::CertificateRequired
            )),
            "the server requires a client certificate (see {tlsCert} and {tlsKey})"
        );
        assert_eq!(
            describe(&rustls::Error::AlertReceived(
                AlertDescription::IllegalParameter
            )),
            "the server ended the handshake with the alert \"illegal parameter\""
        );
        for err in [
            rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::IllegalMiddleboxChangeCipherSpec),
            rustls::Error::InvalidMessage(rustls::InvalidMessage::MessageTooShort),
            rustls::Error::HandshakeNotComplete,
            rustls::Error::InvalidCertificate(CertificateError::UnknownRevocationStatus),
        ] {
            let text = describe(&err);
            // No Rust paths, braces or CamelCase names: words only.
            let camel_case = text.split(' ').any(|word| {
                word.chars().skip(1).any(|c| c.is_ascii_uppercase())
                    && word.chars().any(|c| c.is_ascii_lowercase())
            });
            assert!(
                !text.contains("::") && !text.contains('{') && !camel_case,
                "{text}"
            );
        }
        assert_eq!(words("CertExpired { time: 1 }"), "cert expired");
        assert_eq!(words("UnknownCA"), "unknown ca");
    }

    fn ca_spec(path: &str) -> TlsSpec {
        TlsSpec {
            server_name: "localhost".into(),
            ca_file: Some(path.into()),
            ..Default::default()
        }
    }

    /// A folder of this test's own, removed by the caller.
    fn test_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mproxy-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = test_dir("files");
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'A'; MAX_PEM_BYTES as usize + 1]).unwrap();
        let big = big.to_str().unwrap();
        assert_eq!(
            TlsClient::new(&ca_spec(big)).err().unwrap().message,
            format!("cannot read CA file {big}: it is larger than 1 MiB (1048577 bytes); a PEM file of certificates or a key is a few KiB")
        );
        let d = dir.to_str().unwrap();
        assert_eq!(
            TlsClient::new(&ca_spec(d)).err().unwrap().message,
            format!("cannot read CA file {d}: it is a directory")
        );
        let pem = dir.join("pinned.pem");
        std::fs::write(&pem, SELF_SIGNED).unwrap();
        assert!(TlsClient::new(&ca_spec(pem.to_str().unwrap())).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Devices and FIFOs, which reading could block on or never finish.
    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_not_read() {
        let err = TlsClient::new(&ca_spec("/dev/zero")).err().unwrap();
        assert_eq!(
            err.message,
            "cannot read CA file /dev/zero: it is a character device, not a regular file"
        );
        let dir = test_dir("fifo");
        let fifo = dir.join("fifo.pem");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        nix::unistd::mkfifo(
            c_path.as_c_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let fifo = fifo.to_str().unwrap();
        // No writer: reading it would block forever.
        assert_eq!(
            TlsClient::new(&ca_spec(fifo)).err().unwrap().message,
            format!("cannot read CA file {fifo}: it is a FIFO, not a regular file")
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
