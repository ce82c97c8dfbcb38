//! S3 clients (one per bucket, built from this process's settings over the AWS environment), the store's IO runtime, and listing.
//!
//! TLS: `reqwest` is built with `rustls-no-provider` and `object_store`
//! signs with `ring`, and the process installs rustls's ring provider as its
//! default before the first client: the build keeps one crypto provider,
//! rustls with ring, as the QUIC transport (`cargo tree -i aws-lc-rs` finds nothing).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};

use super::{ObjectUrl, StoreError, StoreSettings};

/// Worker threads of the store's IO runtime (requests are IO-bound; tasks block on them from their own threads).
const IO_THREADS: usize = 2;

/// The process's runtime for store requests, started on first use.
fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name("wisp-store-io")
            .enable_all()
            .build()
            .expect("cannot start the store's IO runtime")
    })
}

/// Spawns a request on the IO runtime; the receiver gets its result.
pub(super) fn spawn<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> crossbeam_channel::Receiver<T> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    io_runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx
}

/// Runs a request on the IO runtime and waits for it on the calling thread (any thread, even a tokio one).
pub(super) fn block_on<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> T {
    spawn(fut).recv().expect("the store's IO runtime dropped a request")
}

/// An object's key (relative to the bucket) and size, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    /// Where it is.
    pub(crate) url: ObjectUrl,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// This process's S3 clients.
#[derive(Debug)]
pub(crate) struct Stores {
    settings: StoreSettings,
    clients: Mutex<HashMap<String, Arc<AmazonS3>>>,
}

impl Stores {
    /// Clients built with these settings.
    pub(crate) fn new(settings: StoreSettings) -> Arc<Stores> {
        Arc::new(Stores { settings, clients: Mutex::default() })
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// The client of `url`'s bucket.
    pub(crate) fn client(&self, url: &ObjectUrl) -> Result<Arc<AmazonS3>, StoreError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&url.bucket) {
            return Ok(c.clone());
        }
        // One provider for the whole process; a second install (already there) is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let s = &self.settings;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket);
        if let Some(endpoint) = &s.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &s.region {
            builder = builder.with_region(region);
        }
        if let Some(path_style) = s.path_style {
            builder = builder.with_virtual_hosted_style_request(!path_style);
        }
        let mut options = ClientOptions::new();
        if let Some(allow) = s.allow_http {
            options = options.with_allow_http(allow);
        } else if std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
            options = options.with_allow_http(true);
        }
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: s.max_retries,
            retry_timeout: s.retry_timeout,
        };
        let client = builder
            .with_client_options(options)
            .with_retry(retry)
            .build()
            .map_err(|e| StoreError::Client { url: url.to_string(), message: one_line(&e) })?;
        let client = Arc::new(client);
        clients.insert(url.bucket.clone(), client.clone());
        Ok(client)
    }

    /// The size of the object at `url`, `None` if there is none.
    pub(crate) fn head(&self, url: &ObjectUrl) -> Result<Option<u64>, StoreError> {
        if url.key.is_empty() {
            return Ok(None);
        }
        let client = self.client(url)?;
        let path = object_path(url);
        match block_on(async move { client.head(&path).await }) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(request_error("cannot read", url, e)),
        }
    }

    /// The objects directly below the prefix `url/` (not recursive), sorted by key; whether anything
    /// (an object or a deeper prefix) is there.
    pub(crate) fn list_dir(&self, url: &ObjectUrl) -> Result<(Vec<ObjectInfo>, bool), StoreError> {
        let client = self.client(url)?;
        let prefix = (!url.key.is_empty()).then(|| object_path(url));
        let listed = block_on(async move { client.list_with_delimiter(prefix.as_ref()).await })
            .map_err(|e| request_error("cannot list", url, e))?;
        let any = !listed.objects.is_empty() || !listed.common_prefixes.is_empty();
        let mut objects: Vec<ObjectInfo> = listed
            .objects
            .into_iter()
            .map(|m| ObjectInfo {
                url: ObjectUrl { bucket: url.bucket.clone(), key: m.location.to_string() },
                size: m.size,
            })
            .collect();
        objects.sort_by(|a, b| a.url.key.cmp(&b.url.key));
        Ok((objects, any))
    }

    /// Whether nothing exists at `url` nor below `url/` (an output location may be written).
    pub(crate) fn is_vacant(&self, url: &ObjectUrl) -> Result<bool, StoreError> {
        if self.head(url)?.is_some() {
            return Ok(false);
        }
        let client = self.client(url)?;
        let prefix = (!url.key.is_empty()).then(|| object_path(url));
        let first = block_on(async move { client.list(prefix.as_ref()).next().await });
        match first {
            None => Ok(true),
            Some(Ok(_)) => Ok(false),
            Some(Err(e)) => Err(request_error("cannot list", url, e)),
        }
    }

    /// The input objects of `url`: the object itself, or the objects directly below it (names
    /// starting with `_` or `.` skipped, as Hadoop does), sorted by key, with their sizes.
    pub(crate) fn list_input(&self, url: &ObjectUrl) -> Result<Vec<ObjectInfo>, StoreError> {
        if let Some(size) = self.head(url)? {
            return Ok(vec![ObjectInfo { url: url.clone(), size }]);
        }
        let (objects, any) = self.list_dir(url)?;
        if !any {
            return Err(StoreError::NotFound { url: url.to_string() });
        }
        Ok(objects.into_iter().filter(|o| !o.url.name().starts_with(['_', '.'])).collect())
    }

    /// Writes a whole (small) object.
    pub(crate) fn put(&self, url: &ObjectUrl, bytes: Vec<u8>) -> Result<(), StoreError> {
        let client = self.client(url)?;
        let path = object_path(url);
        block_on(async move { client.put(&path, bytes.into()).await })
            .map(drop)
            .map_err(|e| request_error("cannot write", url, e))
    }

    /// Deletes an object (missing is fine).
    pub(crate) fn delete(&self, url: &ObjectUrl) -> Result<(), StoreError> {
        let client = self.client(url)?;
        let path = object_path(url);
        match block_on(async move { client.delete(&path).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(request_error("cannot delete", url, e)),
        }
    }
}

/// The object path of a URL's key.
pub(super) fn object_path(url: &ObjectUrl) -> ObjectPath {
    ObjectPath::from(url.key.as_str())
}

/// A failed request as a `StoreError` naming `url` (a missing bucket or object recognized).
pub(super) fn request_error(
    what: &'static str,
    url: &ObjectUrl,
    e: object_store::Error,
) -> StoreError {
    let message = one_line(&e);
    if message.contains("NoSuchBucket") || message.contains("specified bucket does not exist") {
        return StoreError::NoBucket { url: url.to_string() };
    }
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound { url: url.to_string() },
        _ => StoreError::Request { what, url: url.to_string(), message },
    }
}

/// An error and its sources on one line.
pub(super) fn one_line(e: &dyn std::error::Error) -> String {
    crate::error_chain::chain(e)
}
