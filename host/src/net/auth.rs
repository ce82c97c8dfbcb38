//! The cluster secret and the HMAC proof a connecting peer computes from it.

use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::net::protocol::{AUTH_LABEL, Role};

/// Shortest secret accepted, in bytes.
pub(crate) const MIN_SECRET_LEN: usize = 16;

/// Loading or creating the cluster secret failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret file could not be read.
    #[error("cannot read secret file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The secret is too short to resist guessing.
    #[error("cluster secret is {len} bytes; at least {min} are required")]
    TooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The OS random generator failed.
    #[error("cannot draw random bytes: {message}")]
    Random {
        /// getrandom's description.
        message: String,
    },
}

/// The shared secret executors and submit clients prove knowledge of; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret(Vec<u8>);

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterSecret({} bytes)", self.0.len())
    }
}

impl ClusterSecret {
    /// A secret from bytes (at least `MIN_SECRET_LEN`).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<ClusterSecret, SecretError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort { len: bytes.len(), min: MIN_SECRET_LEN });
        }
        Ok(ClusterSecret(bytes))
    }

    /// The secret in a file; surrounding whitespace (a trailing newline) is ignored.
    pub fn from_file(path: &Path) -> Result<ClusterSecret, SecretError> {
        let bytes = std::fs::read(path)
            .map_err(|source| SecretError::Read { path: path.to_path_buf(), source })?;
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
        let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
        ClusterSecret::new(bytes[start..end].to_vec())
    }

    /// A fresh random secret: 32 random bytes as 64 hex digits (printable, for a secret file).
    pub fn generate() -> Result<ClusterSecret, SecretError> {
        let text: String = random_bytes::<32>()?.iter().map(|b| format!("{b:02x}")).collect();
        Ok(ClusterSecret(text.into_bytes()))
    }

    /// The secret's bytes (to write a secret file).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self, nonce: &[u8; 32], version: u32, role: &Role) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(AUTH_LABEL);
        mac.update(nonce);
        mac.update(&version.to_le_bytes());
        // Encoding a `Role` into a Vec cannot fail.
        mac.update(&postcard::to_stdvec(role).unwrap_or_default());
        mac
    }

    /// `HMAC-SHA256(secret, AUTH_LABEL || nonce || version u32le || postcard(role))`.
    pub fn proof(&self, nonce: &[u8; 32], version: u32, role: &Role) -> [u8; 32] {
        self.mac(nonce, version, role).finalize().into_bytes().into()
    }

    /// Whether `proof` is right, compared in constant time.
    pub fn verify(&self, nonce: &[u8; 32], version: u32, role: &Role, proof: &[u8; 32]) -> bool {
        self.mac(nonce, version, role).verify_slice(proof).is_ok()
    }
}

/// `N` bytes from the OS random generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| SecretError::Random { message: e.to_string() })?;
    Ok(out)
}
