//! A task's captured stdout or stderr: a bounded in-memory pipe that remembers whether the guest filled it.
//!
//! Like wasmtime-wasi's `MemoryOutputPipe`, writes past the capacity fail
//! inside the guest (the stream reports itself closed); unlike it, whether the
//! limit was reached is one atomic load, so every guest call can check it
//! cheaply and fail the attempt even when the guest ignored the write error.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// A bounded output capture; clones share the buffer.
#[derive(Clone)]
pub(crate) struct CapturePipe {
    inner: Arc<Inner>,
}

struct Inner {
    capacity: usize,
    buf: Mutex<Vec<u8>>,
    /// The buffer holds `capacity` bytes: every further write fails.
    full: AtomicBool,
}

impl CapturePipe {
    /// An empty capture of at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> CapturePipe {
        CapturePipe {
            inner: Arc::new(Inner {
                capacity,
                buf: Mutex::new(Vec::new()),
                full: AtomicBool::new(false),
            }),
        }
    }

    /// What was written so far.
    pub(crate) fn contents(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// Whether the guest filled the capture (its further writes failed).
    pub(crate) fn reached_limit(&self) -> bool {
        self.inner.full.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.inner.buf.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends as much of `bytes` as fits; returns how much did.
    fn append(&self, bytes: &[u8]) -> usize {
        let mut buf = self.lock();
        let n = bytes.len().min(self.inner.capacity - buf.len());
        buf.extend_from_slice(&bytes[..n]);
        if buf.len() >= self.inner.capacity {
            self.inner.full.store(true, Ordering::Relaxed);
        }
        n
    }
}

impl OutputStream for CapturePipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        let room = self.inner.capacity - self.lock().len();
        if bytes.len() > room {
            // More than `check_write` allowed: a guest breaking the stream protocol.
            self.inner.full.store(true, Ordering::Relaxed);
            return Err(StreamError::Trap(wasmtime::format_err!(
                "write beyond the capacity of the output capture"
            )));
        }
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        match self.inner.capacity - self.lock().len() {
            0 => Err(StreamError::Closed),
            room => Ok(room),
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturePipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CapturePipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(self.append(buf)))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CapturePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturePipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_what_fits_and_says_when_it_is_full() {
        let pipe = CapturePipe::new(10);
        let mut stream = pipe.p2_stream();
        assert_eq!(stream.check_write().unwrap(), 10);
        stream.write(bytes::Bytes::from_static(b"0123456")).unwrap();
        assert!(!pipe.reached_limit());
        assert_eq!(stream.check_write().unwrap(), 3);
        assert!(stream.write(bytes::Bytes::from_static(b"7890")).is_err());
        assert!(pipe.reached_limit(), "a refused write means the limit was reached");
        assert_eq!(pipe.contents(), b"0123456");

        let exact = CapturePipe::new(4);
        exact.append(b"abcd");
        assert!(exact.reached_limit());
        assert!(matches!(exact.p2_stream().check_write(), Err(StreamError::Closed)));
        assert_eq!(exact.append(b"e"), 0);
        assert_eq!(exact.contents(), b"abcd");
    }
}
