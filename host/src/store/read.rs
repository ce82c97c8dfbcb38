//! Reading an object as a byte stream from an offset with ranged GETs, one GET in flight ahead of the reader.
//!
//! Up to `soft_end` (a split's end) each GET asks for `wisp.s3.readChunk`
//! bytes, cut at `soft_end`; past it (the rest of a split's last line) GETs
//! ask for `TAIL` bytes, so a split reads little beyond its range. The
//! read-ahead is bounded: the chunk being read plus one GET in flight.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::{GetOptions, GetRange, ObjectStore};

use super::s3::{object_path, one_line, request_error, spawn};
use super::{ObjectUrl, StoreError, Stores};

/// Bytes of each GET past the split's end.
const TAIL: u64 = 64 << 10;

/// A chunk's bytes and the object's size, or the request's error.
type Fetched = Result<(Bytes, u64), StoreError>;

/// An object read from an offset.
pub(crate) struct RangedReader {
    client: Arc<AmazonS3>,
    url: ObjectUrl,
    chunk_bytes: u64,
    soft_end: u64,
    /// The object's size, once a GET said it.
    size: Option<u64>,
    /// Unread bytes of the current chunk.
    chunk: Bytes,
    /// Where the next GET starts.
    next: u64,
    /// The GET in flight (`next` was advanced past it).
    pending: Option<crossbeam_channel::Receiver<Fetched>>,
    /// Bytes fetched so far.
    fetched: u64,
    /// GETs made so far.
    requests: u64,
}

impl RangedReader {
    /// Reads `url` from byte `start`; GETs stay within `soft_end` until the reader goes past it.
    pub(crate) fn open(
        stores: &Stores,
        url: &ObjectUrl,
        start: u64,
        soft_end: u64,
    ) -> Result<RangedReader, StoreError> {
        let client = stores.client(url)?;
        let mut reader = RangedReader {
            client,
            url: url.clone(),
            chunk_bytes: stores.settings().read_chunk as u64,
            soft_end,
            size: None,
            chunk: Bytes::new(),
            next: start,
            pending: None,
            fetched: 0,
            requests: 0,
        };
        reader.request();
        Ok(reader)
    }

    /// Starts the GET at `next` unless the object is known to end there.
    fn request(&mut self) {
        if self.size.is_some_and(|size| self.next >= size) {
            return;
        }
        let start = self.next;
        let len =
            if start < self.soft_end { self.chunk_bytes.min(self.soft_end - start) } else { TAIL };
        let end = match self.size {
            Some(size) => (start + len).min(size),
            None => start + len,
        };
        self.next = end;
        self.requests += 1;
        let (client, url) = (self.client.clone(), self.url.clone());
        self.pending = Some(spawn(async move {
            let path = object_path(&url);
            let options =
                GetOptions { range: Some(GetRange::Bounded(start..end)), ..Default::default() };
            let got = client.get_opts(&path, options).await;
            let got = match got {
                Ok(g) => g,
                // The object ends at or before `start` (an empty object answers any range so).
                Err(e) if is_unsatisfiable_range(&e) => return Ok((Bytes::new(), start)),
                Err(e) => return Err(request_error("cannot read", &url, e)),
            };
            let size = got.meta.size;
            got.bytes().await.map(|b| (b, size)).map_err(|e| request_error("cannot read", &url, e))
        }));
    }
}

/// Whether a GET was refused with `416 Range Not Satisfiable` (S3's `InvalidRange`).
fn is_unsatisfiable_range(e: &object_store::Error) -> bool {
    let message = one_line(e);
    message.contains("416 Range Not Satisfiable") || message.contains("<Code>InvalidRange</Code>")
}

impl Read for RangedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            let Some(pending) = self.pending.take() else { return Ok(0) };
            let (bytes, size) = pending
                .recv()
                .map_err(|_| io::Error::other("the store's IO runtime dropped a request"))?
                .map_err(StoreError::into_io)?;
            self.size = Some(size);
            // A short answer ends the object (or a range cut at its end).
            if bytes.is_empty() {
                self.next = size;
            }
            self.fetched += bytes.len() as u64;
            self.chunk = bytes;
            self.request();
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

impl Drop for RangedReader {
    fn drop(&mut self) {
        tracing::debug!(url = %self.url, bytes = self.fetched, gets = self.requests, "read object");
    }
}
