//! A task's part file written as a multipart upload that stays open: its parts are uploaded as the task writes, and only the driver completes it, at job commit.
//!
//! Memory is bounded by two parts: one filling while the previous one uploads.
//! An upload dropped before `finish` (the task failed or was killed) is aborted.

use std::io::{self, Write};
use std::sync::Arc;

use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;

pub(crate) use crate::task::StagedPart;

use super::s3::{block_on, object_path, request_error, spawn};
use super::{ObjectUrl, StoreError, Stores};

/// A part upload in flight: its index and its receiver.
type InFlight = crossbeam_channel::Receiver<Result<PartId, StoreError>>;

/// An open multipart upload of one object.
pub(crate) struct PartUpload {
    client: Arc<AmazonS3>,
    url: ObjectUrl,
    path: ObjectPath,
    upload_id: String,
    part_size: usize,
    buf: Vec<u8>,
    parts: Vec<String>,
    in_flight: Option<InFlight>,
    /// Completed or aborted: nothing to clean up on drop.
    closed: bool,
}

impl PartUpload {
    /// Starts an upload of `url`; nothing is visible until the driver completes it.
    pub(crate) fn create(stores: &Stores, url: &ObjectUrl) -> Result<PartUpload, StoreError> {
        let client = stores.client(url)?;
        let path = object_path(url);
        let (c, p) = (client.clone(), path.clone());
        let upload_id = block_on(async move { c.create_multipart(&p).await })
            .map_err(|e| request_error("cannot start an upload of", url, e))?;
        let part_size = stores.settings().part_size;
        Ok(PartUpload {
            client,
            url: url.clone(),
            path,
            upload_id,
            part_size,
            buf: Vec::with_capacity(part_size.min(1 << 20)),
            parts: Vec::new(),
            in_flight: None,
            closed: false,
        })
    }

    /// Waits for the part in flight, if any.
    fn wait(&mut self) -> Result<(), StoreError> {
        if let Some(rx) = self.in_flight.take() {
            let part = rx.recv().map_err(|_| StoreError::Request {
                what: "cannot upload",
                url: self.url.to_string(),
                message: "the store's IO runtime dropped a request".into(),
            })??;
            self.parts.push(part.content_id);
        }
        Ok(())
    }

    /// Uploads the buffer as the next part (after the previous one finished).
    fn send(&mut self) -> Result<(), StoreError> {
        self.wait()?;
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.part_size));
        let index = self.parts.len();
        let (client, path, id, url) =
            (self.client.clone(), self.path.clone(), self.upload_id.clone(), self.url.clone());
        self.in_flight = Some(spawn(async move {
            client
                .put_part(&path, &id, index, data.into())
                .await
                .map_err(|e| request_error("cannot upload a part of", &url, e))
        }));
        Ok(())
    }

    /// Uploads what is left (one part at least, maybe empty) and hands the open upload over for the driver.
    pub(crate) fn finish(mut self) -> Result<StagedPart, StoreError> {
        if !self.buf.is_empty() || (self.parts.is_empty() && self.in_flight.is_none()) {
            self.send()?;
        }
        self.wait()?;
        self.closed = true;
        Ok(StagedPart {
            key: self.url.key.clone(),
            upload_id: self.upload_id.clone(),
            parts: std::mem::take(&mut self.parts),
        })
    }
}

impl Write for PartUpload {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.part_size - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= self.part_size {
            self.send().map_err(StoreError::into_io)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for PartUpload {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        // Best effort, in the background: an upload never completed is invisible anyway.
        let (client, path, id) = (self.client.clone(), self.path.clone(), self.upload_id.clone());
        drop(spawn(async move {
            if let Err(e) = client.abort_multipart(&path, &id).await {
                tracing::debug!(error = %e, "cannot abort an upload");
            }
        }));
    }
}
