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
//! only as chunks arrive. Raw bytes (shuffle blocks) stream the same way
//! without building a message: `chunk_frame` builds a `Chunk` frame around
//! bytes read in place, `read_payload` reads chunks straight into the
//! payload's buffer. Neither copies the bytes through a `Chunk` value: the
//! frame header is written and parsed by hand (`chunk_header`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
    /// The size payloads are cut into.
    pub(crate) fn chunk_size(&self) -> usize {
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
        let (header, used) = chunk_header(piece.len());
        w.write_all(&header[..used]).await?;
        w.write_all(piece).await?;
    }
    Ok(())
}

/// One `Chunk` frame of `n` bytes (at most `limits.chunk`, at least 1) in a
/// single buffer, its bytes written in place by `fill` (from a file, say):
/// handed to the transport as it is (`Stream::write_frame_bytes`), no copy.
pub(crate) fn chunk_frame<E>(
    n: usize,
    limits: &Limits,
    fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Result<bytes::Bytes, E> {
    debug_assert!(n >= 1 && n <= limits.chunk_size(), "a chunk of {n} bytes");
    let (header, used) = chunk_header(n);
    let mut frame = bytes::BytesMut::zeroed(used + n);
    frame[..used].copy_from_slice(&header[..used]);
    fill(&mut frame[used..])?;
    Ok(frame.freeze())
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
            let bytes = read_payload(r, len, 0, limits).await?;
            decode(&bytes).map(Some)
        }
        Err(FrameError::Decode { source, .. }) => {
            Err(FrameError::Decode { what: short_name::<T>(), source })
        }
        Err(e) => Err(e),
    }
}

/// Streams `bytes` as `Chunk` frames (the receiver knows the total from a preceding message).
#[cfg(test)]
pub(crate) async fn write_payload<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(), FrameError> {
    write_chunks(w, bytes, limits).await
}

/// Largest `Chunk` frame header: the `u32le` frame length and the byte
/// string's length as a postcard varint (at most 5 bytes for a `u32`).
pub(crate) const MAX_CHUNK_HEADER: usize = 4 + 5;

/// The header of a `Chunk` frame holding `n` bytes (`n` at most `u32::MAX - 5`):
/// `u32le(frame body length) ++ varint(n)`. Followed by the `n` bytes it is
/// byte for byte `encode_frame(&Chunk { bytes })`, built without copying them.
pub(crate) fn chunk_header(n: usize) -> ([u8; MAX_CHUNK_HEADER], usize) {
    let mut out = [0u8; MAX_CHUNK_HEADER];
    let mut varint = n as u64;
    let mut used = 4;
    loop {
        let byte = (varint & 0x7f) as u8;
        varint >>= 7;
        if varint == 0 {
            out[used] = byte;
            used += 1;
            break;
        }
        out[used] = byte | 0x80;
        used += 1;
    }
    let body = (used - 4 + n) as u32;
    out[..4].copy_from_slice(&body.to_le_bytes());
    (out, used)
}

fn chunk_decode_error(source: postcard::Error) -> FrameError {
    FrameError::Decode { what: "Chunk", source }
}

/// Reads the next `Chunk` frame of a payload of which `remaining` bytes are
/// still due and appends its bytes to `out`: the frame header is parsed as
/// it arrives and the bytes are read straight into `out` (one copy, from
/// the transport's buffer). The frame must be exactly a `Chunk` (postcard
/// length and frame length agree) of 1 to `remaining` bytes.
pub(crate) async fn read_chunk_into<R: AsyncRead + Unpin>(
    r: &mut R,
    remaining: u64,
    limits: &Limits,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut header[got..]).await?;
        if n == 0 {
            let what = if got == 0 { "payload" } else { "frame header" };
            return Err(FrameError::Truncated { what });
        }
        got += n;
    }
    let len = u32::from_le_bytes(header);
    if len > limits.max_frame {
        return Err(FrameError::TooLarge { len: len as u64, max: limits.max_frame as u64 });
    }
    // The byte string's length: a postcard varint of at most 5 bytes, inside the frame.
    let (mut n, mut used) = (0u64, 0u32);
    loop {
        if used == len {
            return Err(chunk_decode_error(postcard::Error::DeserializeUnexpectedEnd));
        }
        if used == 5 {
            return Err(chunk_decode_error(postcard::Error::DeserializeBadVarint));
        }
        let byte = match r.read_u8().await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FrameError::Truncated { what: "frame" });
            }
            Err(e) => return Err(e.into()),
        };
        n |= ((byte & 0x7f) as u64) << (7 * used);
        used += 1;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let body = (len - used) as u64;
    if n > body {
        return Err(chunk_decode_error(postcard::Error::DeserializeUnexpectedEnd));
    }
    if n < body {
        return Err(chunk_decode_error(postcard::Error::DeserializeBadEncoding));
    }
    if n > remaining || n == 0 {
        return Err(FrameError::ChunkMismatch { expected: remaining, got: n });
    }
    let start = out.len();
    out.reserve(n as usize);
    let mut left = n as usize;
    while left > 0 {
        let read = r.read_buf(&mut bytes::BufMut::limit(&mut *out, left)).await;
        match read {
            Ok(0) => {
                out.truncate(start);
                return Err(FrameError::Truncated { what: "frame" });
            }
            Ok(k) => left -= k,
            Err(e) => {
                out.truncate(start);
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Reads a whole payload of `len` bytes (at most `limits.max_message`).
///
/// The buffer starts at `expected` bytes (what the receiver already knows
/// to expect and has budgeted, e.g. a shuffle block's size from its map
/// status), at most `len`, and at least one frame; beyond that it grows
/// only as chunks arrive, so a peer that announces more than it sends
/// cannot make the receiver allocate much more than it sent.
pub(crate) async fn read_payload<R: AsyncRead + Unpin>(
    r: &mut R,
    len: u64,
    expected: u64,
    limits: &Limits,
) -> Result<Vec<u8>, FrameError> {
    if len > limits.max_message {
        return Err(FrameError::TooLarge { len, max: limits.max_message });
    }
    let initial = len.min(expected.max(limits.max_frame as u64));
    let mut out = Vec::with_capacity(initial as usize);
    while (out.len() as u64) < len {
        read_chunk_into(r, len - out.len() as u64, limits, &mut out).await?;
    }
    Ok(out)
}
