//! TLS for QUIC: a self-signed identity kept on disk, certificate-fingerprint pinning, and the quinn configs.
//!
//! The master (and each executor's block server) has a self-signed
//! certificate generated on first start and reused later. Clients do not use
//! a CA: they pin the sha256 of the server's certificate (`Fingerprint`),
//! printed by the server at start. Client authentication is the cluster
//! secret's HMAC proof in the in-band handshake (`endpoint`), so servers ask
//! for no client certificate. Everything is TLS 1.3 only, ALPN `wisp/1`,
//! with the ring provider passed explicitly (no process-wide provider).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::net::protocol::ALPN;

/// File name of the certificate in an identity directory.
pub(crate) const CERT_FILE: &str = "cert.der";
/// File name of the private key (PKCS#8 DER, mode 0600) in an identity directory.
pub(crate) const KEY_FILE: &str = "key.der";

/// The server name clients put in their TLS hello; the pinning verifier ignores names.
pub(crate) const SERVER_NAME: &str = "wisp";

/// The sha256 of a certificate's DER encoding, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(cert_der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(cert_der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A fingerprint string that is not 32 bytes of hex.
#[derive(Debug, thiserror::Error)]
#[error("not a certificate fingerprint (64 hex digits, colons allowed): {text:?}")]
pub struct ParseFingerprintError {
    /// The rejected text.
    pub text: String,
}

impl FromStr for Fingerprint {
    type Err = ParseFingerprintError;
    /// Accepts 64 hex digits, either case, optionally separated by colons, surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseFingerprintError { text: s.to_string() };
        let digits: Vec<u8> = s.trim().bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| err())?;
            out[i] = u8::from_str_radix(hex, 16).map_err(|_| err())?;
        }
        Ok(Fingerprint(out))
    }
}

/// Loading or creating an identity failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Generating the key or certificate failed.
    #[error("cannot generate a certificate")]
    Generate {
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// A file could not be read or written.
    #[error("cannot access {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Only one of the two files exists: refuse to replace a half identity silently.
    #[error("{} exists but {} does not; remove it to generate a new identity", present.display(), missing.display())]
    Incomplete {
        /// The file found.
        present: PathBuf,
        /// The file missing.
        missing: PathBuf,
    },
}

/// A certificate and its private key.
pub(crate) struct Identity {
    /// The self-signed certificate (DER).
    pub cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { cert: self.cert.clone(), key: self.key.clone_key() }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").field("fingerprint", &self.fingerprint()).finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh self-signed identity (ECDSA P-256).
    pub(crate) fn generate() -> Result<Identity, IdentityError> {
        let generate = |source| IdentityError::Generate { source };
        let key = rcgen::KeyPair::generate().map_err(generate)?;
        let mut params =
            rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()]).map_err(generate)?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "wisp");
        let cert = params.self_signed(&key).map_err(generate)?;
        Ok(Identity {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// The identity kept in `dir` (`cert.der`, `key.der`), generated and
    /// written there on first use (directory 0700, key 0600, both written
    /// to a temporary name and renamed).
    pub(crate) fn load_or_generate(dir: &Path) -> Result<Identity, IdentityError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IdentityError::Io { path, source }
        };
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                let cert = std::fs::read(&cert_path).map_err(io(&cert_path))?;
                let key = std::fs::read(&key_path).map_err(io(&key_path))?;
                Ok(Identity {
                    cert: CertificateDer::from(cert),
                    key: PrivatePkcs8KeyDer::from(key),
                })
            }
            (true, false) => {
                Err(IdentityError::Incomplete { present: cert_path, missing: key_path })
            }
            (false, true) => {
                Err(IdentityError::Incomplete { present: key_path, missing: cert_path })
            }
            (false, false) => {
                create_private_dir(dir).map_err(io(dir))?;
                let id = Identity::generate()?;
                write_private(&key_path, id.key.secret_pkcs8_der()).map_err(io(&key_path))?;
                write_private(&cert_path, &id.cert).map_err(io(&cert_path))?;
                tracing::info!(dir = %dir.display(), fingerprint = %id.fingerprint(), "generated a new TLS identity");
                Ok(id)
            }
        }
    }

    /// sha256 of the certificate: what clients pin.
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.cert)
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Building a TLS configuration failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsConfigError {
    /// rustls rejected the configuration (e.g. an unusable key).
    #[error("invalid TLS configuration")]
    Rustls {
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },
    /// quinn could not use the rustls configuration.
    #[error("TLS configuration unusable for QUIC")]
    Quic {
        /// quinn's error.
        #[source]
        source: quinn::crypto::rustls::NoInitialCipherSuite,
    },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// QUIC transport settings shared by both sides.
fn transport(idle_timeout: Duration, keep_alive: Option<Duration>) -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(quinn::IdleTimeout::try_from(idle_timeout).ok());
    t.keep_alive_interval(keep_alive);
    // MTU discovery searches up to the payload every Wisp endpoint accepts (see there why).
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(crate::net::endpoint::MAX_UDP_PAYLOAD);
    t.mtu_discovery_config(Some(mtu));
    Arc::new(t)
}

/// The server side: our identity, no client certificate, TLS 1.3, ALPN `wisp/1`.
pub(crate) fn server_config(
    identity: &Identity,
    idle_timeout: Duration,
) -> Result<quinn::ServerConfig, TlsConfigError> {
    let rustls_err = |source| TlsConfigError::Rustls { source };
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(rustls_err)?
        .with_no_client_auth()
        .with_single_cert(vec![identity.cert.clone()], identity.key())
        .map_err(rustls_err)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto =
        QuicServerConfig::try_from(tls).map_err(|source| TlsConfigError::Quic { source })?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport(idle_timeout, None));
    Ok(config)
}

/// The client side: trusts exactly the server whose certificate hashes to
/// `pinned`. The returned verifier remembers a mismatching fingerprint, for
/// the error message.
pub(crate) fn client_config(
    pinned: Fingerprint,
    idle_timeout: Duration,
    keep_alive: Duration,
) -> Result<(quinn::ClientConfig, Arc<PinnedServer>), TlsConfigError> {
    let provider = provider();
    let verifier = Arc::new(PinnedServer {
        pinned,
        algorithms: provider.signature_verification_algorithms,
        seen: Mutex::new(None),
    });
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|source| TlsConfigError::Rustls { source })?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto =
        QuicClientConfig::try_from(tls).map_err(|source| TlsConfigError::Quic { source })?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport(idle_timeout, Some(keep_alive)));
    Ok((config, verifier))
}

/// A server-certificate verifier that accepts only one certificate, by
/// fingerprint, and still checks the TLS 1.3 handshake signature against it
/// (so the server must hold the matching private key).
#[derive(Debug)]
pub(crate) struct PinnedServer {
    pinned: Fingerprint,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Mutex<Option<Fingerprint>>,
}

impl PinnedServer {
    /// The fingerprint the server presented, if it did not match the pin.
    pub(crate) fn mismatch(&self) -> Option<Fingerprint> {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        if got == self.pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The configuration allows TLS 1.3 only; a TLS 1.2 signature is never acceptable.
        Err(rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
