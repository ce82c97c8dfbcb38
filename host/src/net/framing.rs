//! Length-delimited postcard frames on byte streams (quinn streams in practice), and messages that span frames.
//!
//! A **frame** is `u32le length ++ postcard body`. The reader checks the
//! claimed length against `Limits::max_frame` before allocating anything, so
//! a peer can make it allocate at most one frame.
//!
//! A **message** is one `Envelope` frame: `Inline(msg)` when the message fits
//! in a frame, otherwise `Chunked { len }` followed by `Chunk` frames that
//! together hold the message's postcard encoding. The receiver accepts a
//! chunked message up to `Limits::max_message` bytes and grows its buffer
//! only as chunks arrive. `write_payload`/`read_payload_chunk` stream raw
//! bytes (shuffle blocks) the same way without building a message.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::net::protocol::Chunk;

/// Default largest frame body: 16 MiB.
pub(crate) const DEFAULT_MAX_FRAME: u32 = 16 << 20;
/// Default largest message (a component, a collected partition): 1 GiB.
pub(crate) const DEFAULT_MAX_MESSAGE: u64 = 1 << 30;
/// Default chunk size when a message or payload is streamed: 1 MiB.
pub(crate) const DEFAULT_CHUNK: u32 = 1 << 20;

/// Size limits of one side of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame body accepted or sent.
    pub max_frame: u32,
    /// Largest message accepted (reassembled from chunks).
    pub max_message: u64,
    /// Size of the chunks large messages and payloads are cut into (at most `max_frame - 16`).
    pub chunk: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: DEFAULT_MAX_FRAME,
            max_message: DEFAULT_MAX_MESSAGE,
            chunk: DEFAULT_CHUNK,
        }
    }
}

impl Limits {
    fn chunk_size(&self) -> usize {
        (self.chunk as usize).clamp(1, (self.max_frame as usize).saturating_sub(16).max(1))
    }
}

/// Reading or writing a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A frame (or message) is larger than the limit; nothing was allocated for it.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The claimed (or encoded) length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The stream ended inside a frame, or before an expected frame or chunk.
    #[error("stream ended in the middle of a {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A frame's body is not a valid message of the expected type.
    #[error("malformed {what} frame")]
    Decode {
        /// The expected type.
        what: &'static str,
        /// Postcard's complaint.
        #[source]
        source: postcard::Error,
    },
    /// A chunked message's chunks do not add up to its declared length.
    #[error("chunked message declared {expected} bytes but its chunks hold {got}")]
    ChunkMismatch {
        /// The declared length.
        expected: u64,
        /// Bytes received so far.
        got: u64,
    },
    /// A message could not be encoded.
    #[error("cannot encode {what}")]
    Encode {
        /// The message type.
        what: &'static str,
        /// Postcard's complaint.
        #[source]
        source: postcard::Error,
    },
    /// The connection under the stream timed out: the peer sent nothing, not
    /// even a keep-alive, for the connection's idle timeout.
    #[error("connection timed out: nothing heard from the peer for the idle timeout")]
    TimedOut,
    /// The connection under the stream is gone (closed, reset, refused).
    #[error("connection lost")]
    ConnectionLost {
        /// quinn's error.
        #[source]
        source: quinn::ConnectionError,
    },
    /// The stream failed (reset or stopped by the peer, or another IO error).
    #[error("stream failed")]
    Io {
        /// The transport error (quinn errors convert into `io::Error`).
        #[source]
        source: std::io::Error,
    },
}

impl From<std::io::Error> for FrameError {
    /// Tells a lost (or timed-out) connection under a quinn stream from other stream errors.
    fn from(source: std::io::Error) -> Self {
        let lost = source.get_ref().and_then(|inner| {
            match (
                inner.downcast_ref::<quinn::ReadError>(),
                inner.downcast_ref::<quinn::WriteError>(),
            ) {
                (Some(quinn::ReadError::ConnectionLost(c)), _)
                | (_, Some(quinn::WriteError::ConnectionLost(c))) => Some(c.clone()),
                _ => None,
            }
        });
        match lost {
            Some(source) => FrameError::connection(source),
            None => FrameError::Io { source },
        }
    }
}

impl FrameError {
    /// The error for a connection that ended under a stream: a timeout is named as one.
    pub(crate) fn connection(source: quinn::ConnectionError) -> FrameError {
        match source {
            quinn::ConnectionError::TimedOut => FrameError::TimedOut,
            source => FrameError::ConnectionLost { source },
        }
    }
}

/// The outer form of every message on a stream.
#[derive(serde::Serialize, serde::Deserialize)]
enum Envelope<T> {
    /// The message itself.
    Inline(T),
    /// The message's encoding follows as `Chunk` frames totalling `len` bytes.
    Chunked { len: u64 },
}

/// Borrowed form of `Envelope::Inline` for encoding without a clone.
#[derive(serde::Serialize)]
enum EnvelopeRef<'a, T> {
    Inline(&'a T),
    #[allow(
        dead_code,
        reason = "never built: it only gives the variant its index, matching `Envelope`"
    )]
    Chunked {
        len: u64,
    },
}

/// Borrowed form of `Chunk` for encoding without a copy.
#[derive(serde::Serialize)]
struct ChunkRef<'a> {
    #[serde(with = "serde_bytes")]
    bytes: &'a [u8],
}

fn short_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}

/// Reads one frame body into `buf`; `Ok(false)` on a clean end of stream before the frame.
pub(crate) async fn read_frame_bytes<R: AsyncRead + Unpin>(
    r: &mut R,
    max_frame: u32,
    buf: &mut Vec<u8>,
) -> Result<bool, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut header[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(false)
            } else {
                Err(FrameError::Truncated { what: "frame header" })
            };
        }
        got += n;
    }
    let len = u32::from_le_bytes(header);
    if len > max_frame {
        return Err(FrameError::TooLarge { len: len as u64, max: max_frame as u64 });
    }
    buf.clear();
    buf.resize(len as usize, 0);
    match r.read_exact(buf).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(FrameError::Truncated { what: "frame" })
        }
        Err(e) => Err(e.into()),
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    let what = short_name::<T>();
    match postcard::take_from_bytes::<T>(body) {
        Ok((v, [])) => Ok(v),
        Ok(_) => Err(FrameError::Decode { what, source: postcard::Error::DeserializeBadEncoding }),
        Err(source) => Err(FrameError::Decode { what, source }),
    }
}

/// Reads one frame and decodes it as `T`; `Ok(None)` on a clean end of stream.
pub(crate) async fn read_frame<T: DeserializeOwned, R: AsyncRead + Unpin>(
    r: &mut R,
    max_frame: u32,
) -> Result<Option<T>, FrameError> {
    let mut buf = Vec::new();
    if !read_frame_bytes(r, max_frame, &mut buf).await? {
        return Ok(None);
    }
    decode(&buf).map(Some)
}

/// Encodes `msg` as one frame and writes it (one `write_all`).
pub(crate) async fn write_frame<T: Serialize, W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &T,
    max_frame: u32,
) -> Result<(), FrameError> {
    let buf = encode_frame(msg, max_frame)?;
    w.write_all(&buf).await?;
    Ok(())
}

/// `u32le length ++ postcard(msg)`, refusing bodies above `max_frame`.
pub(crate) fn encode_frame<T: Serialize>(msg: &T, max_frame: u32) -> Result<Vec<u8>, FrameError> {
    let mut buf = postcard::to_extend(msg, vec![0u8; 4])
        .map_err(|source| FrameError::Encode { what: short_name::<T>(), source })?;
    let len = buf.len() - 4;
    if len > max_frame as usize {
        return Err(FrameError::TooLarge { len: len as u64, max: max_frame as u64 });
    }
    buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(buf)
}

/// Writes a message: inline when it fits in a frame, else chunked.
pub(crate) async fn write_message<T: Serialize, W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &T,
    limits: &Limits,
) -> Result<(), FrameError> {
    let what = short_name::<T>();
    let body = postcard::to_extend(&EnvelopeRef::Inline(msg), vec![0u8; 4])
        .map_err(|source| FrameError::Encode { what, source })?;
    let len = body.len() - 4;
    if len <= limits.max_frame as usize {
        let mut body = body;
        body[..4].copy_from_slice(&(len as u32).to_le_bytes());
        w.write_all(&body).await?;
        return Ok(());
    }
    // The inline encoding is the variant tag (one byte, 0) then the message.
    let encoded = &body[5..];
    if encoded.len() as u64 > limits.max_message {
        return Err(FrameError::TooLarge { len: encoded.len() as u64, max: limits.max_message });
    }
    write_frame(w, &Envelope::<()>::Chunked { len: encoded.len() as u64 }, limits.max_frame)
        .await?;
    write_chunks(w, encoded, limits).await
}

async fn write_chunks<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(), FrameError> {
    for piece in bytes.chunks(limits.chunk_size()) {
        write_frame(w, &ChunkRef { bytes: piece }, limits.max_frame).await?;
    }
    Ok(())
}

/// Reads a message written by `write_message`; `Ok(None)` on a clean end of stream before it.
pub(crate) async fn read_message<T: DeserializeOwned, R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &Limits,
) -> Result<Option<T>, FrameError> {
    let mut buf = Vec::new();
    if !read_frame_bytes(r, limits.max_frame, &mut buf).await? {
        return Ok(None);
    }
    match decode::<Envelope<T>>(&buf) {
        Ok(Envelope::Inline(msg)) => Ok(Some(msg)),
        Ok(Envelope::Chunked { len }) => {
            let bytes = read_payload(r, len, limits).await?;
            decode(&bytes).map(Some)
        }
        Err(FrameError::Decode { source, .. }) => {
            Err(FrameError::Decode { what: short_name::<T>(), source })
        }
        Err(e) => Err(e),
    }
}

/// Streams `bytes` as `Chunk` frames (the receiver knows the total from a preceding message).
pub(crate) async fn write_payload<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(), FrameError> {
    write_chunks(w, bytes, limits).await
}

/// Reads the next `Chunk` of a payload of which `remaining` bytes are still due.
pub(crate) async fn read_payload_chunk<R: AsyncRead + Unpin>(
    r: &mut R,
    remaining: u64,
    limits: &Limits,
) -> Result<Vec<u8>, FrameError> {
    let chunk: Chunk =
        read_frame(r, limits.max_frame).await?.ok_or(FrameError::Truncated { what: "payload" })?;
    if chunk.bytes.len() as u64 > remaining || chunk.bytes.is_empty() {
        return Err(FrameError::ChunkMismatch {
            expected: remaining,
            got: chunk.bytes.len() as u64,
        });
    }
    Ok(chunk.bytes)
}

/// Reads a whole payload of `len` bytes (at most `limits.max_message`), growing the buffer as chunks arrive.
pub(crate) async fn read_payload<R: AsyncRead + Unpin>(
    r: &mut R,
    len: u64,
    limits: &Limits,
) -> Result<Vec<u8>, FrameError> {
    if len > limits.max_message {
        return Err(FrameError::TooLarge { len, max: limits.max_message });
    }
    let mut out = Vec::with_capacity(len.min(limits.max_frame as u64) as usize);
    while (out.len() as u64) < len {
        let chunk = read_payload_chunk(r, len - out.len() as u64, limits).await?;
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
