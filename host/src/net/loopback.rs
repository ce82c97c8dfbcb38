//! Raw quinn throughput on 127.0.0.1 with Wisp's endpoint, TLS and transport configuration: the baseline the shuffle-fetch benchmark reports against.
//!
//! Two endpoints built exactly as the block server and a fetcher build
//! theirs (`endpoint::watched_endpoint`, `endpoint::client_endpoint`,
//! `tls::server_config`, `tls::client_config`), one bidirectional stream per
//! transfer, `bytes` written in 1 MiB `write_all`s and read with `read_chunk`
//! (no framing, no copies of ours, no handshake of ours). Several transfers
//! can run at once, each on its own runtime and connection, as two executors
//! fetching from each other do; the time runs from the first write to the
//! last byte read of the slowest transfer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::net::endpoint::{self, NetConfig};
use crate::net::tls::{self, Identity};

/// The raw loopback measurement could not be made.
#[derive(Debug, thiserror::Error)]
#[error("raw QUIC loopback throughput: {message}")]
pub struct LoopbackError {
    /// What failed.
    pub message: String,
}

fn fail(what: &str) -> impl FnOnce(String) -> LoopbackError + '_ {
    move |e| LoopbackError { message: format!("{what}: {e}") }
}

/// Longest a measurement may take (at 1 MB/s, 120 MB).
const DEADLINE: Duration = Duration::from_secs(120);

/// What one loopback measurement measured.
#[derive(Clone, Copy, Debug)]
pub struct LoopbackRun {
    /// From the first write of any stream to the last byte read of all.
    pub took: Duration,
    /// The smallest of the senders' largest UDP payloads at the end (what MTU discovery reached).
    pub udp_payload: u16,
}

/// Streams `bytes` over one QUIC stream between two endpoints on 127.0.0.1,
/// `transfers` times at once, and returns how long it took (each receiver
/// checks it got every byte). Each transfer runs on its own tokio runtime
/// with as many worker threads as an executor's network runtime
/// (`net_threads`), as two executors fetching from each other do with two;
/// their writes start together. Gives up after two minutes.
pub fn quic_loopback_throughput(
    bytes: u64,
    net_threads: usize,
    transfers: usize,
) -> Result<LoopbackRun, LoopbackError> {
    let transfers = transfers.max(1);
    let ready = tokio::sync::Barrier::new(transfers);
    let runs = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..transfers)
            .map(|_| scope.spawn(|| on_own_runtime(bytes, net_threads, &ready)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err(fail("transfer")("panicked".into()))))
            .collect::<Result<Vec<Timed>, LoopbackError>>()
    })?;
    let started = runs.iter().map(|r| r.started).min();
    let done = runs.iter().map(|r| r.done).max();
    let (Some(started), Some(done)) = (started, done) else {
        return Err(fail("transfer")("no transfer ran".into()));
    };
    Ok(LoopbackRun {
        took: done.duration_since(started),
        udp_payload: runs.iter().map(|r| r.udp_payload).min().unwrap_or(0),
    })
}

/// One transfer's times and the payload its sender reached.
struct Timed {
    started: Instant,
    done: Instant,
    udp_payload: u16,
}

fn on_own_runtime(
    bytes: u64,
    net_threads: usize,
    ready: &tokio::sync::Barrier,
) -> Result<Timed, LoopbackError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(net_threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| fail("tokio runtime")(e.to_string()))?;
    rt.block_on(async {
        tokio::time::timeout(DEADLINE, transfer(bytes, ready))
            .await
            .unwrap_or_else(|_| Err(fail("transfer")(format!("not done after {DEADLINE:?}"))))
    })
}

async fn transfer(bytes: u64, ready: &tokio::sync::Barrier) -> Result<Timed, LoopbackError> {
    let config = NetConfig::default();
    let identity = Identity::generate().map_err(|e| fail("identity")(e.to_string()))?;
    let server_config = tls::server_config(&identity, config.idle_timeout)
        .map_err(|e| fail("server TLS")(e.to_string()))?;
    let addr: SocketAddr = (std::net::Ipv4Addr::LOCALHOST, 0).into();
    let (server, _socket) = endpoint::watched_endpoint(server_config, addr)
        .map_err(|e| fail("server endpoint")(e.to_string()))?;
    let addr = server.local_addr().map_err(|e| fail("server address")(e.to_string()))?;
    let (client_config, _) =
        tls::client_config(identity.fingerprint(), config.idle_timeout, config.keep_alive)
            .map_err(|e| fail("client TLS")(e.to_string()))?;
    let client =
        endpoint::client_endpoint(addr).map_err(|e| fail("client endpoint")(e.to_string()))?;

    let receiver = tokio::spawn(async move {
        let incoming = server.accept().await.ok_or("the server endpoint closed")?;
        let conn = incoming.await.map_err(|e| e.to_string())?;
        let (_send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
        let mut got = 0u64;
        while let Some(chunk) =
            recv.read_chunk(usize::MAX, true).await.map_err(|e| e.to_string())?
        {
            got += chunk.bytes.len() as u64;
        }
        let done = Instant::now();
        conn.close(endpoint::CLOSE_DONE.into(), b"done");
        Ok::<_, String>((got, done))
    });
    let conn = client
        .connect_with(client_config, addr, tls::SERVER_NAME)
        .map_err(|e| fail("connect")(e.to_string()))?
        .await
        .map_err(|e| fail("connect")(e.to_string()))?;
    let (mut send, _recv) = conn.open_bi().await.map_err(|e| fail("open stream")(e.to_string()))?;
    let block = vec![0x5au8; 1 << 20];
    ready.wait().await;
    let started = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        send.write_all(&block[..n]).await.map_err(|e| fail("write")(e.to_string()))?;
        left -= n as u64;
    }
    send.finish().map_err(|e| fail("finish")(e.to_string()))?;
    let (got, done) =
        receiver.await.map_err(|e| fail("receiver")(e.to_string()))?.map_err(fail("receive"))?;
    if got != bytes {
        return Err(fail("receive")(format!("got {got} bytes of {bytes}")));
    }
    let udp_payload = conn.stats().path.current_mtu;
    client.close(endpoint::CLOSE_DONE.into(), b"done");
    Ok(Timed { started, done, udp_payload })
}

#[cfg(test)]
mod tests {
    use crate::net::endpoint::MAX_UDP_PAYLOAD;

    /// Loopback carries 65,536-byte packets: MTU discovery finds larger packets than quinn's
    /// default 1,452 bytes, up to `MAX_UDP_PAYLOAD` and no further.
    #[test]
    fn streams_every_byte_between_two_endpoints_in_packets_larger_than_ethernet_s() {
        let run = super::quic_loopback_throughput(32 << 20, 2, 1).unwrap();
        assert!(run.took > std::time::Duration::ZERO);
        assert!(
            run.udp_payload > 1_500 && run.udp_payload <= MAX_UDP_PAYLOAD,
            "MTU discovery reached {} bytes",
            run.udp_payload
        );
    }

    #[test]
    fn runs_transfers_at_once_each_checked() {
        let run = super::quic_loopback_throughput(8 << 20, 1, 2).unwrap();
        assert!(run.took > std::time::Duration::ZERO);
        assert!(run.udp_payload >= 1_200, "{}", run.udp_payload);
    }
}
