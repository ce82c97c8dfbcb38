//! The server's UDP socket, wrapped to log datagrams that cannot be QUIC (garbage on the port) before quinn drops them silently.
//!
//! quinn discards undecodable datagrams without telling the application; a
//! scan or a misconfigured client would leave no trace. This wrapper looks at
//! each received datagram's first byte and length only (it never changes or
//! drops anything) and logs, at most once per `LOG_EVERY`, how many datagrams
//! were not QUIC (since the last line, and in all) and from where the one that
//! triggered the line came.
//!
//! Wisp's endpoints never grease the QUIC fixed bit (`endpoint::endpoint_config`
//! turns quinn's `grease_quic_bit` off, so no peer is invited to clear it): a
//! datagram with that bit clear is never Wisp traffic, and quinn drops it too.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

/// Least interval between two log lines about non-QUIC datagrams.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Smallest QUIC packet: a header protection sample needs 4 + 16 bytes after
/// the packet number offset, which is at least 1 (RFC 9001 §5.4.2).
const MIN_QUIC_PACKET: usize = 21;

/// Whether a datagram cannot be a QUIC packet: too short, or the fixed bit
/// (0x40 of the first byte, RFC 9000 §17) clear — Wisp never advertises the
/// `grease_quic_bit` transport parameter (RFC 9287), so its peers never clear it.
pub(crate) fn not_quic(datagram: &[u8]) -> bool {
    datagram.len() < MIN_QUIC_PACKET || datagram[0] & 0x40 == 0
}

/// A UDP socket that reports non-QUIC datagrams.
pub(crate) struct WatchedSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    /// (datagrams not logged yet, when the last line was logged).
    pending: Mutex<(u64, Option<Instant>)>,
    /// Datagrams that were not QUIC since the socket was made.
    seen: AtomicU64,
}

impl WatchedSocket {
    /// Wraps a socket made by quinn's runtime.
    pub(crate) fn new(inner: Arc<dyn AsyncUdpSocket>) -> WatchedSocket {
        WatchedSocket { inner, pending: Mutex::new((0, None)), seen: AtomicU64::new(0) }
    }

    /// How many datagrams were not QUIC since the socket was made.
    #[cfg(test)]
    pub(crate) fn not_quic_datagrams(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    fn saw_garbage(&self, from: SocketAddr, len: usize) {
        let total = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.0 += 1;
        if pending.1.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            tracing::warn!(peer = %from, len, dropped = pending.0, total, "dropped datagrams that are not QUIC");
            *pending = (0, Some(Instant::now()));
        }
    }
}

impl fmt::Debug for WatchedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedSocket").field("inner", &self.inner).finish()
    }
}

impl AsyncUdpSocket for WatchedSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let polled = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(n)) = &polled {
            for (buf, m) in bufs.iter().zip(meta.iter()).take(*n) {
                let data = &buf[..m.len.min(buf.len())];
                // With GRO one buffer holds several datagrams of `stride` bytes (the last may be shorter).
                for datagram in data.chunks(m.stride.max(1)) {
                    if not_quic(datagram) {
                        self.saw_garbage(m.addr, datagram.len());
                    }
                }
            }
        }
        polled
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
