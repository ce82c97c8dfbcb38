//! Every endpoint's UDP socket, wrapped to log datagrams that cannot be QUIC (garbage on the port) before quinn drops them silently, and to split packet batches larger than one kernel send takes.
//!
//! quinn discards undecodable datagrams without telling the application; a
//! scan or a misconfigured client would leave no trace. This wrapper looks at
//! each received datagram's first byte and length only (it never changes or
//! drops what it receives) and logs, at most once per `LOG_EVERY`, how many datagrams
//! were not QUIC (since the last line, and in all) and from where the one that
//! triggered the line came.
//!
//! quinn batches up to 10 packets of the path's size into one segmented
//! (GSO) send; with packets larger than 6,550 bytes (`endpoint::MAX_UDP_PAYLOAD`
//! allows 32,000) a batch can exceed what Linux accepts in one send, and the
//! wrapper sends it in several, each of whole packets.
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

/// Most bytes one segmented (GSO) send may carry: a UDP datagram's largest
/// payload over IPv4 (65,535 − 20 − 8); Linux refuses larger batches with
/// `EMSGSIZE`, and quinn-udp then turns segmentation off for good.
const MAX_GSO_BYTES: usize = 65_507;

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
        let size = match transmit.segment_size {
            Some(size) if size > 0 && transmit.contents.len() > MAX_GSO_BYTES => size,
            _ => return self.inner.try_send(transmit),
        };
        // quinn batches up to 10 packets per send whatever their size; larger than the kernel
        // takes at once, the batch goes out in as many sends as it needs, whole packets each.
        let per_send = (MAX_GSO_BYTES / size).max(1) * size;
        for (i, piece) in transmit.contents.chunks(per_send).enumerate() {
            let part = Transmit {
                contents: piece,
                segment_size: (piece.len() > size).then_some(size),
                ..transmit.clone()
            };
            match self.inner.try_send(&part) {
                Ok(()) => {}
                // Nothing went out yet: quinn waits until the socket is writable and retries.
                Err(e) if i == 0 => return Err(e),
                // The rest is lost as on a congested link; QUIC's loss recovery resends it.
                Err(e) => {
                    tracing::trace!(error = %e, dropped = transmit.contents.len() - i * per_send, "UDP send buffer full mid-batch");
                    return Ok(());
                }
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of five 16,000-byte packets (80,000 bytes, more than one kernel send takes)
    /// arrives as five datagrams, in order and intact; nothing is lost to `EMSGSIZE`.
    #[tokio::test]
    async fn a_batch_larger_than_one_send_arrives_as_every_one_of_its_packets() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let runtime = quinn::default_runtime().unwrap();
        let sender = Arc::new(WatchedSocket::new(
            runtime.wrap_udp_socket(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap(),
        ));
        let (size, count, last) = (16_000usize, 5usize, 5_000usize);
        let mut contents = Vec::new();
        for i in 0..count {
            let len = if i + 1 == count { last } else { size };
            contents.extend(std::iter::repeat_n(i as u8 + 1, len));
        }
        assert!(contents.len() > MAX_GSO_BYTES);
        let transmit = Transmit {
            destination: receiver.local_addr().unwrap(),
            ecn: None,
            contents: &contents,
            segment_size: Some(size),
            src_ip: None,
        };
        let mut poller = sender.clone().create_io_poller();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            std::future::poll_fn(|cx| poller.as_mut().poll_writable(cx)).await.unwrap();
            match sender.try_send(&transmit) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {}
                Err(e) => panic!("send failed: {e}"),
            }
        }
        let mut buf = vec![0u8; 65_536];
        for i in 0..count {
            let n = receiver.recv(&mut buf).unwrap();
            let expected = if i + 1 == count { last } else { size };
            assert_eq!(n, expected, "datagram {i}");
            assert!(
                buf[..n].iter().all(|&b| b == i as u8 + 1),
                "datagram {i} holds another's bytes"
            );
        }
    }
}
