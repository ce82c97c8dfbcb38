//! Where input and output live: plain paths and `file://` URLs on the local filesystem, `s3://bucket/key` URLs in an S3-compatible object store.
//!
//! A `Location` is parsed once from what the job gave; local paths keep
//! today's code paths (`block::input`, the executor's text sink, the
//! context's rename commit), object locations go through `Stores`: one
//! client per bucket built from the process's own settings (`wisp.s3.*`)
//! over the standard AWS environment variables, and one small tokio runtime
//! for the store's IO, driven from the calling (task or job-main) thread.
//! Credentials are read by `object_store` from the environment of the
//! process that touches the store; they never appear in a URL, a message,
//! the event log or a guest.
//!
//! `read.rs`: ranged GETs with a bounded read-ahead; `codec.rs`: compression
//! by extension; `upload.rs`: a task's part file as a multipart upload left
//! open; `commit.rs`: the driver's side of the commit protocol
//! (`docs/object-storage.md`); `s3.rs`: clients, listing and request errors.

mod codec;
mod commit;
mod read;
mod s3;
mod settings;
mod upload;

use std::path::PathBuf;

pub(crate) use codec::{Codec, Encoder, codec_of_name, decoder, encoder, output_codec};
pub(crate) use commit::{ObjectOutput, OutputError};
pub(crate) use read::RangedReader;
pub(crate) use s3::Stores;
pub(crate) use settings::StoreSettings;
pub(crate) use upload::{PartUpload, StagedPart};

/// A store request or a location failed; the message names the URL, never a credential.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// A URL whose scheme no store serves.
    #[error("unsupported URL scheme `{scheme}` in {url} (expected a path, file:// or s3://)")]
    UnknownScheme { url: String, scheme: String },
    /// A URL that names no bucket or has a malformed part.
    #[error("malformed URL {url}: {reason}")]
    BadUrl { url: String, reason: &'static str },
    /// The bucket does not exist.
    #[error("bucket of {url} does not exist")]
    NoBucket { url: String },
    /// The object or prefix does not exist.
    #[error("{url} does not exist")]
    NotFound { url: String },
    /// A request failed (after the configured retries).
    #[error("{what} {url}: {message}")]
    Request { what: &'static str, url: String, message: String },
    /// Building the client failed (bad endpoint...).
    #[error("cannot reach the store of {url}: {message}")]
    Client { url: String, message: String },
}

impl StoreError {
    /// The error as an `io::Error` (the readers and writers speak `std::io`).
    pub(crate) fn into_io(self) -> std::io::Error {
        let kind = match self {
            StoreError::NotFound { .. } | StoreError::NoBucket { .. } => {
                std::io::ErrorKind::NotFound
            }
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self)
    }
}

/// Where a path or URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A local path (a plain path, or a `file://` URL's path).
    Local(PathBuf),
    /// An object, or a prefix, of an S3 bucket (`key` without a leading or trailing `/`).
    Object(ObjectUrl),
}

/// `s3://bucket/key`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ObjectUrl {
    /// The bucket.
    pub(crate) bucket: String,
    /// The key (or prefix), possibly empty (the whole bucket).
    pub(crate) key: String,
}

impl ObjectUrl {
    /// The key `name` below this prefix.
    pub(crate) fn child(&self, name: &str) -> ObjectUrl {
        let key =
            if self.key.is_empty() { name.to_string() } else { format!("{}/{name}", self.key) };
        ObjectUrl { bucket: self.bucket.clone(), key }
    }

    /// The last segment of the key.
    pub(crate) fn name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or("")
    }
}

impl std::fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl Location {
    /// Parses a plain path, `file://PATH` or `s3://BUCKET/KEY` (`s3a://` too, as Hadoop writes it).
    ///
    /// Text is a URL when it starts with a scheme (`letter (letter | digit | + | - | .)*`) and `://`;
    /// anything else is a local path, as today.
    pub(crate) fn parse(text: &str) -> Result<Location, StoreError> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let is_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !is_scheme {
            return Ok(Location::Local(PathBuf::from(text)));
        }
        let url = || text.to_string();
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                // file:///abs/path or file://localhost/abs/path.
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return Err(StoreError::BadUrl {
                        url: url(),
                        reason: "a file:// URL names an absolute path (file:///dir/file)",
                    });
                }
                Ok(Location::Local(PathBuf::from(path)))
            }
            "s3" | "s3a" => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(StoreError::BadUrl { url: url(), reason: "no bucket name" });
                }
                if key.split('/').any(|s| s == "." || s == "..") {
                    return Err(StoreError::BadUrl {
                        url: url(),
                        reason: "`.` or `..` in the key",
                    });
                }
                let key = key.trim_matches('/').to_string();
                Ok(Location::Object(ObjectUrl { bucket: bucket.to_string(), key }))
            }
            other => Err(StoreError::UnknownScheme { url: url(), scheme: other.to_string() }),
        }
    }

    /// Parses a location carried as a path (input splits and output directories travel as paths).
    pub(crate) fn of_path(path: &std::path::Path) -> Result<Location, StoreError> {
        match path.to_str() {
            Some(text) => Location::parse(text),
            None => Ok(Location::Local(path.to_path_buf())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls_parse() {
        let local = |p: &str| Location::Local(PathBuf::from(p));
        assert_eq!(Location::parse("data/in.txt").unwrap(), local("data/in.txt"));
        assert_eq!(Location::parse("/abs/x").unwrap(), local("/abs/x"));
        assert_eq!(Location::parse("file:///abs/x").unwrap(), local("/abs/x"));
        assert_eq!(Location::parse("file://localhost/abs/x").unwrap(), local("/abs/x"));
        assert!(Location::parse("file://rel/x").is_err());
        let obj = |b: &str, k: &str| {
            Location::Object(ObjectUrl { bucket: b.to_string(), key: k.to_string() })
        };
        assert_eq!(Location::parse("s3://b/a/c/").unwrap(), obj("b", "a/c"));
        assert_eq!(Location::parse("s3a://b").unwrap(), obj("b", ""));
        assert_eq!(Location::parse("S3://b/k").unwrap(), obj("b", "k"));
        assert!(matches!(Location::parse("s3:///k"), Err(StoreError::BadUrl { .. })));
        assert!(matches!(Location::parse("s3://b/../k"), Err(StoreError::BadUrl { .. })));
        let e = Location::parse("gs://b/k").unwrap_err().to_string();
        assert_eq!(
            e,
            "unsupported URL scheme `gs` in gs://b/k (expected a path, file:// or s3://)"
        );
        // Not a scheme: a local path that happens to contain `://`.
        assert_eq!(Location::parse("./a://b").unwrap(), local("./a://b"));
        let u = ObjectUrl { bucket: "b".into(), key: "out".into() };
        assert_eq!(u.child("part-00000").to_string(), "s3://b/out/part-00000");
        assert_eq!(u.child("part-00000").name(), "part-00000");
    }
}
