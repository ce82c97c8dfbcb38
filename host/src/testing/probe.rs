//! Blocking probes of a running Wisp server: connect claiming any protocol version, send raw bytes on an authenticated stream, hold a connection half-open.
//!
//! Integration tests use these to check, against a real master process,
//! that peers which misbehave after TLS are refused or dropped with a log
//! line and never take the server down. Each call runs on a private
//! current-thread tokio runtime, so callers need no async code.

use std::net::SocketAddr;
use std::time::Duration;

use crate::net::endpoint::{self, ClientConn, HandshakeError, NetConfig};
use crate::net::framing::FrameError;
use crate::net::protocol::Role;
use crate::net::{ClusterSecret, Fingerprint, RpcError};

/// Largest reply `Probe::raw_request` keeps.
const MAX_REPLY: usize = 1 << 20;

/// A probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The probe's tokio runtime could not start.
    #[error("cannot start a tokio runtime: {source}")]
    Runtime {
        /// The cause.
        source: std::io::Error,
    },
    /// Connecting or the handshake failed (for a version probe: the refusal).
    #[error(transparent)]
    Handshake {
        /// The handshake error.
        #[from]
        source: HandshakeError,
    },
    /// The request stream could not be opened or written.
    #[error("request stream failed")]
    Stream {
        /// The cause.
        #[source]
        source: RpcError,
    },
}

/// An authenticated connection driven synchronously.
pub struct Probe {
    rt: tokio::runtime::Runtime,
    client: Option<ClientConn>,
}

fn runtime() -> Result<tokio::runtime::Runtime, ProbeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ProbeError::Runtime { source })
}

impl Probe {
    /// Connects and runs the handshake, claiming `config.protocol_version`.
    pub fn connect(
        addr: SocketAddr,
        fingerprint: Fingerprint,
        secret: &ClusterSecret,
        role: Role,
        config: &NetConfig,
    ) -> Result<Probe, ProbeError> {
        let rt = runtime()?;
        let client =
            rt.block_on(endpoint::connect_with(addr, fingerprint, secret, role, config))?;
        Ok(Probe { rt, client: Some(client) })
    }

    /// Opens a request stream and writes `bytes` as they are (no framing added);
    /// finishes the send side when `finish`. Returns whatever the server sends
    /// back (up to 1 MiB) until it ends the stream, resets it, or `wait` passes.
    pub fn raw_request(
        &self,
        bytes: &[u8],
        finish: bool,
        wait: Duration,
    ) -> Result<Vec<u8>, ProbeError> {
        let Some(client) = &self.client else { return Ok(Vec::new()) };
        let conn = client.conn.clone();
        self.rt.block_on(async move {
            let stream_err = |source| ProbeError::Stream { source };
            let (mut send, mut recv) =
                conn.open_bi().await.map_err(|source| stream_err(RpcError::connection(source)))?;
            send.write_all(bytes).await.map_err(|e| {
                stream_err(RpcError::from(FrameError::from(std::io::Error::from(e))))
            })?;
            if finish {
                let _ = send.finish();
            }
            let mut reply = Vec::new();
            let mut buf = [0u8; 8192];
            let read = async {
                while reply.len() < MAX_REPLY {
                    match recv.read(&mut buf).await {
                        Ok(None) | Err(_) => break,
                        Ok(Some(n)) => reply.extend_from_slice(&buf[..n]),
                    }
                }
            };
            let _ = tokio::time::timeout(wait, read).await;
            Ok(reply)
        })
    }

    /// Whether the server has closed the connection.
    pub fn closed(&self) -> bool {
        self.client.as_ref().is_none_or(|c| c.conn.close_reason().is_some())
    }

    /// Closes the connection (waiting briefly for the close to be sent).
    pub fn close(mut self) {
        if let Some(client) = self.client.take() {
            self.rt.block_on(client.close());
        }
    }
}

/// Completes QUIC and TLS with a pinned server, then sends nothing: the
/// connection stays half-open until the server drops it or `hold` passes.
/// Returns how it ended: the server's close reason, or `None` if it was still open after `hold`.
pub fn hold_half_open(
    addr: SocketAddr,
    fingerprint: Fingerprint,
    config: &NetConfig,
    hold: Duration,
) -> Result<Option<String>, ProbeError> {
    let rt = runtime()?;
    rt.block_on(async {
        let (endpoint, conn) = endpoint::raw_connect(addr, fingerprint, config).await?;
        let ended = tokio::time::timeout(hold, conn.closed()).await.ok().map(|e| e.to_string());
        conn.close(endpoint::CLOSE_DONE.into(), b"probe done");
        let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        Ok(ended)
    })
}
