//! The driver's side of the object commit protocol: refuse an existing output before the job, complete exactly one staged upload per partition after it, `_SUCCESS` last.
//!
//! Protocol (`docs/object-storage.md`): every task attempt writes its part
//! file as a multipart upload to the final key and leaves it open
//! (`upload.rs`), reporting the upload to the driver with its result. The
//! scheduler accepts one result per partition, so the driver completes one
//! upload per partition, and only when the whole job succeeded; uploads of
//! failed, killed or losing speculative attempts are never completed (their
//! tasks abort them; an executor that died leaves an open upload, invisible,
//! which a bucket's `AbortIncompleteMultipartUpload` lifecycle rule reclaims).
//! Then `_SUCCESS` is written. If completing fails half way, the completed
//! part files are deleted and the rest aborted, so no `_SUCCESS` and no part
//! file is left.

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::multipart::{MultipartStore, PartId};

use super::s3::{block_on, object_path, request_error};
use super::{ObjectUrl, StagedPart, StoreError, Stores};

/// Uploads completed (or aborted) at once.
const CONCURRENT_COMPLETIONS: usize = 8;

/// The output location of one `save-as-text-file` to a store.
pub(crate) struct ObjectOutput {
    stores: Arc<Stores>,
    url: ObjectUrl,
}

/// Why an output cannot be written or committed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutputError {
    /// Something is already there.
    #[error("output location {url} already exists")]
    Exists { url: String },
    /// A store request failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ObjectOutput {
    /// The output at `url`, refused if anything exists at it or below it (checked before any task runs).
    pub(crate) fn prepare(
        stores: Arc<Stores>,
        url: ObjectUrl,
    ) -> Result<ObjectOutput, OutputError> {
        if url.key.is_empty() {
            return Err(StoreError::BadUrl {
                url: url.to_string(),
                reason: "output needs a key prefix below the bucket",
            }
            .into());
        }
        let output = ObjectOutput { stores, url };
        output.check_vacant()?;
        Ok(output)
    }

    fn check_vacant(&self) -> Result<(), OutputError> {
        if self.stores.is_vacant(&self.url)? {
            Ok(())
        } else {
            Err(OutputError::Exists { url: self.url.to_string() })
        }
    }

    /// The output prefix.
    pub(crate) fn url(&self) -> &ObjectUrl {
        &self.url
    }

    /// Where partition `partition`'s part file goes (`part-00000`, `.gz`/`.zst` when compressed).
    pub(crate) fn part_url(&self, partition: u32, extension: &str) -> ObjectUrl {
        self.url.child(&format!("part-{partition:05}{extension}"))
    }

    /// Makes the job's output visible: completes each partition's upload, then writes `_SUCCESS`.
    /// On failure deletes what it completed and aborts the rest.
    pub(crate) fn commit(&self, staged: Vec<StagedPart>) -> Result<(), OutputError> {
        if let Err(e) = self.check_vacant() {
            self.abort(staged);
            return Err(e);
        }
        let started = std::time::Instant::now();
        let client = self.stores.client(&self.url)?;
        let results = {
            let client = client.clone();
            let staged = staged.clone();
            block_on(async move {
                futures_util::stream::iter(staged.into_iter().map(|part| {
                    let client = client.clone();
                    async move {
                        let path = object_path_of(&part);
                        let parts = part
                            .parts
                            .iter()
                            .map(|p| PartId { content_id: p.clone() })
                            .collect::<Vec<_>>();
                        client.complete_multipart(&path, &part.upload_id, parts).await
                    }
                }))
                .buffered(CONCURRENT_COMPLETIONS)
                .collect::<Vec<_>>()
                .await
            })
        };
        let failed = results.iter().position(Result::is_err);
        if let Some(i) = failed {
            let url = self.url.child_key(&staged[i].key);
            let e = match results.into_iter().nth(i) {
                Some(Err(e)) => request_error("cannot complete the upload of", &url, e),
                _ => StoreError::NotFound { url: url.to_string() },
            };
            // Completed ones are deleted, the others aborted: nothing stays visible.
            for part in staged {
                let url = self.url.child_key(&part.key);
                let _ = self.stores.delete(&url);
                abort_one(&self.stores, &url, &part);
            }
            return Err(e.into());
        }
        self.stores.put(&self.url.child("_SUCCESS"), Vec::new())?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(output = %self.url, parts = staged.len(), commit_ms = ms, "committed output");
        Ok(())
    }

    /// Aborts staged uploads (a failed job's); best effort.
    pub(crate) fn abort(&self, staged: Vec<StagedPart>) {
        for part in staged {
            abort_one(&self.stores, &self.url.child_key(&part.key), &part);
        }
    }
}

impl ObjectUrl {
    /// The object `key` in this URL's bucket.
    fn child_key(&self, key: &str) -> ObjectUrl {
        ObjectUrl { bucket: self.bucket.clone(), key: key.to_string() }
    }
}

fn object_path_of(part: &StagedPart) -> object_store::path::Path {
    object_store::path::Path::from(part.key.as_str())
}

/// Aborts one upload, ignoring failures (an upload already completed or gone).
fn abort_one(stores: &Stores, url: &ObjectUrl, part: &StagedPart) {
    let Ok(client) = stores.client(url) else { return };
    let (path, id) = (object_path(url), part.upload_id.clone());
    if let Err(e) = block_on(async move { client.abort_multipart(&path, &id).await }) {
        tracing::debug!(url = %url, error = %e, "cannot abort an upload");
    }
}
