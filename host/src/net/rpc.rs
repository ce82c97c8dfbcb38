//! Request streams on an authenticated connection: one bidirectional QUIC stream per request.
//!
//! The opener writes one request message and reads the reply (or a sequence
//! of replies and payload chunks); the acceptor reads the request and writes
//! the replies. Streams are independent, so a slow request never blocks
//! another, and a malformed one fails only its own stream. Measured on
//! loopback, a fresh stream per request is as fast as a persistent stream.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::net::framing::{self, FrameError, Limits};

/// A request stream failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The connection timed out: the peer sent nothing, not even a keep-alive,
    /// for the connection's idle timeout (it is gone, hung or unreachable).
    #[error("connection timed out: nothing heard from the peer for the idle timeout")]
    TimedOut,
    /// The connection is gone (closed, reset).
    #[error("connection lost")]
    Connection {
        /// quinn's error.
        #[source]
        source: quinn::ConnectionError,
    },
    /// A message could not be read or written.
    #[error("bad message on request stream")]
    Frame {
        /// The framing error.
        #[source]
        source: FrameError,
    },
    /// The peer finished the stream without the expected message.
    #[error("stream finished without a {what}")]
    Missing {
        /// The expected message type.
        what: &'static str,
    },
}

impl RpcError {
    /// The error for a connection that ended: a timeout is named as one.
    pub(crate) fn connection(source: quinn::ConnectionError) -> RpcError {
        match source {
            quinn::ConnectionError::TimedOut => RpcError::TimedOut,
            source => RpcError::Connection { source },
        }
    }
}

impl From<FrameError> for RpcError {
    /// A stream that failed because its connection ended is not a bad message.
    fn from(source: FrameError) -> Self {
        match source {
            FrameError::TimedOut => RpcError::TimedOut,
            FrameError::ConnectionLost { source } => RpcError::Connection { source },
            source => RpcError::Frame { source },
        }
    }
}

/// Both halves of one request stream, with the limits that apply to it.
#[derive(Debug)]
pub(crate) struct Stream {
    /// Sending half.
    pub send: quinn::SendStream,
    /// Receiving half.
    pub recv: quinn::RecvStream,
    /// Frame and message limits.
    pub limits: Limits,
}

impl Stream {
    /// Opens a new stream on `conn`.
    pub(crate) async fn open(conn: &quinn::Connection, limits: Limits) -> Result<Stream, RpcError> {
        let (send, recv) = conn.open_bi().await.map_err(RpcError::connection)?;
        Ok(Stream { send, recv, limits })
    }

    /// The next stream the peer opens; `Ok(None)` once the connection was closed in an orderly way.
    pub(crate) async fn accept(
        conn: &quinn::Connection,
        limits: Limits,
    ) -> Result<Option<Stream>, RpcError> {
        match conn.accept_bi().await {
            Ok((send, recv)) => Ok(Some(Stream { send, recv, limits })),
            Err(
                quinn::ConnectionError::ApplicationClosed(_)
                | quinn::ConnectionError::LocallyClosed,
            ) => Ok(None),
            Err(source) => Err(RpcError::connection(source)),
        }
    }

    /// Writes one message (chunked if larger than a frame).
    pub(crate) async fn write<T: Serialize>(&mut self, msg: &T) -> Result<(), RpcError> {
        Ok(framing::write_message(&mut self.send, msg, &self.limits).await?)
    }

    /// Reads the next message; `Ok(None)` if the peer finished the stream.
    pub(crate) async fn read<T: DeserializeOwned>(&mut self) -> Result<Option<T>, RpcError> {
        Ok(framing::read_message(&mut self.recv, &self.limits).await?)
    }

    /// Reads a message that must come.
    pub(crate) async fn expect<T: DeserializeOwned>(&mut self) -> Result<T, RpcError> {
        let what = std::any::type_name::<T>().rsplit("::").next().unwrap_or("message");
        self.read().await?.ok_or(RpcError::Missing { what })
    }

    /// Writes frames already encoded in one buffer (`framing::chunk_frame`),
    /// handing the buffer to quinn without copying it.
    pub(crate) async fn write_frame_bytes(&mut self, frames: bytes::Bytes) -> Result<(), RpcError> {
        self.send
            .write_chunk(frames)
            .await
            .map_err(|e| RpcError::from(FrameError::from(std::io::Error::from(e))))
    }

    /// Reads a whole payload of `len` bytes (at most `limits.max_message`),
    /// into a buffer of `expected` bytes to start with (see `framing::read_payload`).
    pub(crate) async fn read_payload(
        &mut self,
        len: u64,
        expected: u64,
    ) -> Result<Vec<u8>, RpcError> {
        Ok(framing::read_payload(&mut self.recv, len, expected, &self.limits).await?)
    }

    /// Finishes the sending half (the peer sees a clean end of stream).
    pub(crate) fn finish(&mut self) {
        let _ = self.send.finish();
    }
}

/// Opens a stream, sends `req`, finishes, and reads one reply.
pub(crate) async fn call<Req: Serialize, Resp: DeserializeOwned>(
    conn: &quinn::Connection,
    req: &Req,
    limits: Limits,
) -> Result<Resp, RpcError> {
    let mut s = Stream::open(conn, limits).await?;
    s.write(req).await?;
    s.finish();
    s.expect().await
}
