//! Authenticated QUIC endpoints: a `Server` that admits only peers proving the cluster secret, and `connect`.
//!
//! After QUIC/TLS, the server opens the connection's first bidirectional
//! stream and runs the handshake on it: `Challenge` → `Hello` →
//! `HandshakeReply`. Each incoming connection is handled on its own task
//! under `NetConfig::handshake_timeout`, with at most
//! `NetConfig::max_pending_handshakes` in flight, so a slow, silent or
//! hostile peer never holds up others. Refusals are logged (`warn!`, with
//! the peer's address and the reason), sent to the peer, and reported by
//! `Server::accept`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use crate::ids::ExecutorId;
use crate::net::auth::{ClusterSecret, random_bytes};
use crate::net::framing::{self, FrameError, Limits};
use crate::net::protocol::{Challenge, HandshakeReply, Hello, PROTOCOL_VERSION, Role};
use crate::net::socket::WatchedSocket;
use crate::net::tls::{self, Fingerprint, Identity, TlsConfigError};

/// Largest handshake frame: an unauthenticated peer gets no bigger buffer than this.
pub(crate) const HANDSHAKE_MAX_FRAME: u32 = 64 << 10;

/// Application close code: the handshake refused the peer.
pub(crate) const CLOSE_REFUSED: u32 = 1;
/// Application close code: orderly shutdown.
pub(crate) const CLOSE_DONE: u32 = 0;

/// Settings of an endpoint (either side).
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Frame and message limits for streams after the handshake.
    pub limits: Limits,
    /// How long a handshake (QUIC, TLS and ours) may take before the peer is dropped.
    pub handshake_timeout: Duration,
    /// A connection without traffic for this long is closed.
    pub idle_timeout: Duration,
    /// How often clients send QUIC keep-alives.
    pub keep_alive: Duration,
    /// Server: handshakes in progress at once; further connections are refused.
    pub max_pending_handshakes: usize,
    /// What the server is called in messages ("master", "executor").
    pub server_name: &'static str,
    /// Client: the protocol version claimed in the handshake (`PROTOCOL_VERSION`;
    /// tests of the version check claim another). Servers always speak `PROTOCOL_VERSION`.
    pub protocol_version: u32,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            limits: Limits::default(),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(5),
            max_pending_handshakes: 64,
            server_name: "master",
            protocol_version: PROTOCOL_VERSION,
        }
    }
}

/// Binding a server failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BindError {
    /// The TLS configuration could not be built.
    #[error("cannot configure TLS")]
    Tls {
        /// The cause.
        #[source]
        source: TlsConfigError,
    },
    /// The UDP socket could not be bound.
    #[error("cannot listen on {addr}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A handshake failed (on either side).
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Client: the server presented another certificate than the pinned one.
    #[error("{server} certificate fingerprint mismatch: expected {expected}, got {got}")]
    FingerprintMismatch {
        /// Who the server is ("master").
        server: &'static str,
        /// The pinned fingerprint.
        expected: Fingerprint,
        /// The one presented.
        got: Fingerprint,
    },
    /// Client: the server refused us.
    #[error("refused by {server}: {reason}")]
    RefusedByServer {
        /// Who the server is ("master").
        server: &'static str,
        /// The server's reason.
        reason: String,
    },
    /// Client: the server speaks another protocol version and its challenge is unreadable.
    #[error("{server} speaks protocol version {theirs}, this build speaks {ours}")]
    VersionMismatch {
        /// Who the server is.
        server: &'static str,
        /// Our version.
        ours: u32,
        /// Theirs.
        theirs: u32,
    },
    /// Server: we refused a peer (also sent to it and logged).
    #[error("refused {peer}: {reason}")]
    Refused {
        /// The peer's address.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The handshake did not finish in time.
    #[error("handshake with {peer} timed out after {after:?}")]
    Timeout {
        /// The peer's address.
        peer: SocketAddr,
        /// The limit.
        after: Duration,
    },
    /// Client: the connection could not be started.
    #[error("cannot connect to {peer}")]
    Connect {
        /// The server's address.
        peer: SocketAddr,
        /// quinn's error.
        #[source]
        source: quinn::ConnectError,
    },
    /// QUIC or TLS failed, or the connection was closed during the handshake.
    #[error("connection with {peer} failed during the handshake")]
    Connection {
        /// The peer's address.
        peer: SocketAddr,
        /// quinn's error.
        #[source]
        source: quinn::ConnectionError,
    },
    /// A handshake frame could not be read or written.
    #[error("handshake with {peer} failed")]
    Frame {
        /// The peer's address.
        peer: SocketAddr,
        /// The framing error.
        #[source]
        source: FrameError,
    },
    /// Setting up the client failed (TLS config, socket, random nonce).
    #[error("cannot set up a connection to {peer}: {message}")]
    Setup {
        /// The server's address.
        peer: SocketAddr,
        /// What failed.
        message: String,
    },
    /// Server: the endpoint was closed; no more connections will come.
    #[error("server endpoint closed")]
    EndpointClosed,
}

/// A peer that passed the handshake (server side).
#[derive(Debug)]
pub(crate) struct AuthenticatedConn {
    /// What the peer said it is (proven with the secret).
    pub role: Role,
    /// The id assigned to a registering executor.
    pub executor: Option<ExecutorId>,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The connection; open streams on it for RPCs.
    pub conn: quinn::Connection,
}

struct Shared {
    secret: ClusterSecret,
    config: NetConfig,
    next_executor: AtomicU32,
}

/// A listening endpoint that hands out authenticated connections.
pub(crate) struct Server {
    endpoint: quinn::Endpoint,
    /// Kept for tests to read its count of non-QUIC datagrams.
    #[cfg(test)]
    socket: Arc<WatchedSocket>,
    fingerprint: Fingerprint,
    results: mpsc::Receiver<Result<AuthenticatedConn, HandshakeError>>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Listens on `addr` (UDP) with `config`. Must be called inside a tokio runtime.
    pub(crate) fn bind_with(
        addr: SocketAddr,
        identity: &Identity,
        secret: ClusterSecret,
        config: NetConfig,
    ) -> Result<Server, BindError> {
        let server_config = tls::server_config(identity, config.idle_timeout)
            .map_err(|source| BindError::Tls { source })?;
        let (endpoint, socket) = watched_endpoint(server_config, addr)
            .map_err(|source| BindError::Io { addr, source })?;
        #[cfg(not(test))]
        drop(socket); // the endpoint holds it; only tests look at it
        let (tx, results) = mpsc::channel(config.max_pending_handshakes.max(1));
        let shared = Arc::new(Shared { secret, config, next_executor: AtomicU32::new(1) });
        let accept_loop = tokio::spawn(accept_loop(endpoint.clone(), shared, tx));
        Ok(Server {
            endpoint,
            #[cfg(test)]
            socket,
            fingerprint: identity.fingerprint(),
            results,
            accept_loop,
        })
    }

    /// The bound address (with the port chosen for `:0`).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr().expect("a bound endpoint has an address")
    }

    /// The fingerprint clients must pin.
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// How many received datagrams could not be QUIC (each was logged or counted in a log line).
    #[cfg(test)]
    pub(crate) fn not_quic_datagrams(&self) -> u64 {
        self.socket.not_quic_datagrams()
    }

    /// Closes the endpoint and every connection on it with `reason` (peers
    /// learn it at once instead of at their idle timeout), then waits up to a
    /// second for the close frames to go out.
    pub(crate) async fn close(&self, reason: &str) {
        self.endpoint.close(CLOSE_DONE.into(), reason.as_bytes());
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }

    /// The next handshake outcome: an authenticated connection, or why a peer
    /// was dropped (already logged). Keep calling after errors;
    /// `EndpointClosed` means no more will come.
    pub(crate) async fn accept(&mut self) -> Result<AuthenticatedConn, HandshakeError> {
        self.results.recv().await.unwrap_or(Err(HandshakeError::EndpointClosed))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// The largest UDP payload a Wisp endpoint accepts and that MTU discovery
/// searches up to (`tls::transport`), instead of quinn's 1,452/1,472 bytes.
///
/// Where the path allows it (loopback, jumbo frames) packets grow up to this
/// size: quinn's work per packet (frames, acknowledgements, AEAD set-up,
/// pacing) is then spread over more bytes. On loopback, raw quinn on one
/// stream (`wisp::quic_loopback_throughput`): 1,452 bytes ~760 MB/s at
/// 2.4–2.5 CPU ns/byte; 6,500 bytes 1,240–1,830 MB/s at 1.1–1.5; 32,000
/// bytes 1,380–2,090 MB/s at 0.8–1.2 (eight runs of each, alternating; the
/// shuffle fetch of `wisp-bench --only cluster` went from 470–690 MB/s to
/// 500–650, where the CPU the join's tasks take bounds it). On an Ethernet path of
/// 1,500 bytes the larger probes are lost (probes do not count as congestion)
/// and packets stay at what the path carries; jumbo frames reach ~9,000.
///
/// quinn hands the kernel up to 10 packets in one GSO send whatever their
/// size, and Linux refuses a GSO send above 65,507 bytes (quinn-udp would then
/// turn GSO off for good and the losses make quinn fall back to 1,200-byte
/// packets); every endpoint's socket therefore splits larger batches into
/// sends of whole packets (`net::socket::WatchedSocket`). 32,000 bytes is two
/// packets per send, below the largest IPv4 UDP payload of 65,507.
pub(crate) const MAX_UDP_PAYLOAD: u16 = 32_000;

/// The endpoint settings of every Wisp endpoint: quinn's defaults, except
/// `MAX_UDP_PAYLOAD` and that the QUIC fixed bit is never greased. With
/// greasing on (quinn's default) an endpoint advertises `grease_quic_bit` and
/// its peer then clears the bit in about half of its packets, which
/// `net::socket` could not tell from garbage.
pub(crate) fn endpoint_config() -> quinn::EndpointConfig {
    let mut config = quinn::EndpointConfig::default();
    config.grease_quic_bit(false);
    config
        .max_udp_payload_size(MAX_UDP_PAYLOAD)
        .expect("MAX_UDP_PAYLOAD is within quinn's 1,200..=65,527");
    config
}

/// `quinn::Endpoint::server` on a socket that logs datagrams that are not QUIC (`net::socket`).
pub(crate) fn watched_endpoint(
    config: quinn::ServerConfig,
    addr: SocketAddr,
) -> std::io::Result<(quinn::Endpoint, Arc<WatchedSocket>)> {
    endpoint_on(addr, Some(config))
}

/// An endpoint (a server if `server` is given) on a socket bound to `addr`, with
/// Wisp's socket buffers and endpoint settings, through `net::socket`'s wrapper.
fn endpoint_on(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
) -> std::io::Result<(quinn::Endpoint, Arc<WatchedSocket>)> {
    let socket = std::net::UdpSocket::bind(addr)?;
    size_socket_buffers(&socket);
    let runtime =
        quinn::default_runtime().ok_or_else(|| std::io::Error::other("no async runtime found"))?;
    let watched = Arc::new(WatchedSocket::new(runtime.wrap_udp_socket(socket)?));
    let endpoint = quinn::Endpoint::new_with_abstract_socket(
        endpoint_config(),
        server,
        watched.clone(),
        runtime,
    )?;
    Ok((endpoint, watched))
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Result<AuthenticatedConn, HandshakeError>>,
) {
    let pending = Arc::new(Semaphore::new(shared.config.max_pending_handshakes.max(1)));
    while let Some(incoming) = endpoint.accept().await {
        let peer = incoming.remote_address();
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "refused connection: too many handshakes in progress");
            incoming.refuse();
            continue;
        };
        let shared = shared.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let after = shared.config.handshake_timeout;
            let result =
                match tokio::time::timeout(after, server_handshake(incoming, &shared)).await {
                    Ok(r) => r,
                    Err(_) => Err(HandshakeError::Timeout { peer, after }),
                };
            match &result {
                Ok(c) => {
                    tracing::debug!(%peer, role = c.role.name(), executor = ?c.executor, "peer authenticated")
                }
                Err(HandshakeError::Refused { .. }) => {} // logged where refused
                Err(e) => {
                    tracing::warn!(%peer, error = %crate::error_chain::chain(e), "handshake failed")
                }
            }
            drop(permit);
            let _ = tx.send(result).await;
        });
    }
}

/// Server side of the handshake on one incoming connection.
async fn server_handshake(
    incoming: quinn::Incoming,
    shared: &Shared,
) -> Result<AuthenticatedConn, HandshakeError> {
    let peer = incoming.remote_address();
    let conn = incoming.await.map_err(|source| HandshakeError::Connection { peer, source })?;
    let frame_err = |source| HandshakeError::Frame { peer, source };
    let (mut send, mut recv) =
        conn.open_bi().await.map_err(|source| HandshakeError::Connection { peer, source })?;
    let nonce =
        random_bytes::<32>().map_err(|e| HandshakeError::Setup { peer, message: e.to_string() })?;
    framing::write_frame(
        &mut send,
        &Challenge { version: PROTOCOL_VERSION, nonce },
        HANDSHAKE_MAX_FRAME,
    )
    .await
    .map_err(frame_err)?;

    let mut buf = Vec::new();
    match framing::read_frame_bytes(&mut recv, HANDSHAKE_MAX_FRAME, &mut buf).await {
        Ok(true) => {}
        Ok(false) => return Err(frame_err(FrameError::Truncated { what: "Hello" })),
        Err(
            e @ (FrameError::Io { .. } | FrameError::TimedOut | FrameError::ConnectionLost { .. }),
        ) => {
            return Err(frame_err(e));
        }
        Err(e) => return Err(refuse(&conn, &mut send, peer, format!("malformed hello: {e}")).await),
    }
    // The version is the first field of every Hello, whatever the version.
    let version = match postcard::take_from_bytes::<u32>(&buf) {
        Ok((v, _)) => v,
        Err(_) => return Err(refuse(&conn, &mut send, peer, "malformed hello".to_string()).await),
    };
    if version != PROTOCOL_VERSION {
        let reason = format!(
            "protocol version {version} is not supported ({} speaks {PROTOCOL_VERSION})",
            shared.config.server_name
        );
        return Err(refuse(&conn, &mut send, peer, reason).await);
    }
    let hello: Hello = match postcard::from_bytes(&buf) {
        Ok(h) => h,
        Err(_) => return Err(refuse(&conn, &mut send, peer, "malformed hello".to_string()).await),
    };
    if !shared.secret.verify(&nonce, hello.version, &hello.role, &hello.proof) {
        return Err(refuse(&conn, &mut send, peer, "authentication failed".to_string()).await);
    }
    let executor = match hello.role {
        Role::Executor { .. } => {
            Some(ExecutorId(shared.next_executor.fetch_add(1, Ordering::Relaxed)))
        }
        _ => None,
    };
    let welcome = HandshakeReply::Welcome { executor_id: executor.map(|e| e.0) };
    framing::write_frame(&mut send, &welcome, HANDSHAKE_MAX_FRAME).await.map_err(frame_err)?;
    let _ = send.finish();
    Ok(AuthenticatedConn { role: hello.role, executor, peer, conn })
}

/// Sends `Refused`, waits briefly for it to be delivered, closes the connection.
async fn refuse(
    conn: &quinn::Connection,
    send: &mut quinn::SendStream,
    peer: SocketAddr,
    reason: String,
) -> HandshakeError {
    tracing::warn!(%peer, %reason, "refused connection");
    let reply = HandshakeReply::Refused { reason: reason.clone() };
    if framing::write_frame(send, &reply, HANDSHAKE_MAX_FRAME).await.is_ok()
        && send.finish().is_ok()
    {
        let _ = tokio::time::timeout(Duration::from_secs(1), send.stopped()).await;
    }
    conn.close(CLOSE_REFUSED.into(), reason.as_bytes());
    HandshakeError::Refused { peer, reason }
}

/// An authenticated connection to a server (client side).
#[derive(Debug)]
pub(crate) struct ClientConn {
    /// The id the master assigned (executors only).
    pub executor: Option<ExecutorId>,
    /// The connection; open streams on it for RPCs.
    pub conn: quinn::Connection,
    endpoint: quinn::Endpoint,
}

impl ClientConn {
    /// Closes the connection and waits (briefly) for the close to reach the server.
    pub(crate) async fn close(self) {
        self.conn.close(CLOSE_DONE.into(), b"done");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

/// Connects to a server pinned by `fingerprint` and proves `secret`, with default settings.
#[cfg(test)]
pub(crate) async fn connect(
    addr: SocketAddr,
    fingerprint: Fingerprint,
    secret: &ClusterSecret,
    role: Role,
) -> Result<ClientConn, HandshakeError> {
    connect_with(addr, fingerprint, secret, role, &NetConfig::default()).await
}

/// Connects with `config` (its `server_name` names the server in errors).
pub(crate) async fn connect_with(
    addr: SocketAddr,
    fingerprint: Fingerprint,
    secret: &ClusterSecret,
    role: Role,
    config: &NetConfig,
) -> Result<ClientConn, HandshakeError> {
    connect_version(addr, fingerprint, secret, role, config, config.protocol_version).await
}

/// `connect_with`, claiming protocol `version` (tests of the version check).
pub(crate) async fn connect_version(
    addr: SocketAddr,
    fingerprint: Fingerprint,
    secret: &ClusterSecret,
    role: Role,
    config: &NetConfig,
    version: u32,
) -> Result<ClientConn, HandshakeError> {
    let after = config.handshake_timeout;
    match tokio::time::timeout(
        after,
        client_handshake(addr, fingerprint, secret, role, config, version),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Timeout { peer: addr, after }),
    }
}

/// A client endpoint on an ephemeral port of `addr`'s family.
pub(crate) fn client_endpoint(addr: SocketAddr) -> std::io::Result<quinn::Endpoint> {
    let local: SocketAddr = if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    endpoint_on(local, None).map(|(endpoint, _)| endpoint)
}

/// QUIC + TLS to a pinned server, without our handshake (tests use it to misbehave).
pub(crate) async fn raw_connect(
    addr: SocketAddr,
    fingerprint: Fingerprint,
    config: &NetConfig,
) -> Result<(quinn::Endpoint, quinn::Connection), HandshakeError> {
    let setup = |message: String| HandshakeError::Setup { peer: addr, message };
    let (client_config, verifier) =
        tls::client_config(fingerprint, config.idle_timeout, config.keep_alive)
            .map_err(|e| setup(e.to_string()))?;
    let endpoint = client_endpoint(addr).map_err(|e| setup(e.to_string()))?;
    let connecting = endpoint
        .connect_with(client_config, addr, tls::SERVER_NAME)
        .map_err(|source| HandshakeError::Connect { peer: addr, source })?;
    match connecting.await {
        Ok(conn) => Ok((endpoint, conn)),
        Err(source) => Err(match verifier.mismatch() {
            Some(got) => HandshakeError::FingerprintMismatch {
                server: config.server_name,
                expected: fingerprint,
                got,
            },
            None => HandshakeError::Connection { peer: addr, source },
        }),
    }
}

async fn client_handshake(
    addr: SocketAddr,
    fingerprint: Fingerprint,
    secret: &ClusterSecret,
    role: Role,
    config: &NetConfig,
    version: u32,
) -> Result<ClientConn, HandshakeError> {
    let server = config.server_name;
    let (endpoint, conn) = raw_connect(addr, fingerprint, config).await?;
    let connection_err = |source| HandshakeError::Connection { peer: addr, source };
    let frame_err = |source| HandshakeError::Frame { peer: addr, source };
    let (mut send, mut recv) = conn.accept_bi().await.map_err(connection_err)?;
    let mut buf = Vec::new();
    if !framing::read_frame_bytes(&mut recv, HANDSHAKE_MAX_FRAME, &mut buf)
        .await
        .map_err(frame_err)?
    {
        return Err(frame_err(FrameError::Truncated { what: "Challenge" }));
    }
    let challenge: Challenge = match postcard::from_bytes(&buf) {
        Ok(c) => c,
        Err(source) => {
            return Err(match postcard::take_from_bytes::<u32>(&buf) {
                Ok((theirs, _)) if theirs != version => {
                    HandshakeError::VersionMismatch { server, ours: version, theirs }
                }
                _ => frame_err(FrameError::Decode { what: "Challenge", source }),
            });
        }
    };
    let proof = secret.proof(&challenge.nonce, version, &role);
    framing::write_frame(&mut send, &Hello { version, role, proof }, HANDSHAKE_MAX_FRAME)
        .await
        .map_err(frame_err)?;
    let _ = send.finish();
    let reply = framing::read_frame::<HandshakeReply, _>(&mut recv, HANDSHAKE_MAX_FRAME).await;
    match reply {
        Ok(Some(HandshakeReply::Welcome { executor_id })) => {
            Ok(ClientConn { executor: executor_id.map(ExecutorId), conn, endpoint })
        }
        Ok(Some(HandshakeReply::Refused { reason })) => {
            conn.close(CLOSE_REFUSED.into(), b"refused");
            Err(HandshakeError::RefusedByServer { server, reason })
        }
        Ok(None) => Err(refused_by_close(&conn, server)
            .unwrap_or(frame_err(FrameError::Truncated { what: "HandshakeReply" }))),
        Err(e) => Err(refused_by_close(&conn, server).unwrap_or(frame_err(e))),
    }
}

/// The refusal carried by the connection's close frame, if the server closed it with `CLOSE_REFUSED`
/// before its `Refused` frame was read.
fn refused_by_close(conn: &quinn::Connection, server: &'static str) -> Option<HandshakeError> {
    match conn.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(close)
            if close.error_code == quinn::VarInt::from_u32(CLOSE_REFUSED) =>
        {
            Some(HandshakeError::RefusedByServer {
                server,
                reason: String::from_utf8_lossy(&close.reason).into_owned(),
            })
        }
        _ => None,
    }
}

/// The send and receive buffer asked of the kernel for every Wisp UDP
/// socket (Linux caps it at `net.core.rmem_max` / `wmem_max`). The default
/// (about 208 KiB) fills in a fraction of a millisecond at loopback rates
/// whenever the receiving process is briefly off its core; the datagrams
/// dropped then halve the sender's congestion window. Measured on a shuffle
/// fetch of 18 MB blocks between two executors: about 3 % of datagrams lost
/// and 30–45 congestion events per block with the default, none with this.
pub(crate) const SOCKET_BUFFER_BYTES: usize = 4 << 20;

/// Asks for `SOCKET_BUFFER_BYTES` of send and receive buffer; a refusal only costs throughput.
fn size_socket_buffers(socket: &std::net::UdpSocket) {
    let sized = quinn::udp::UdpSocketState::new(socket.into()).and_then(|state| {
        state.set_recv_buffer_size(socket.into(), SOCKET_BUFFER_BYTES)?;
        state.set_send_buffer_size(socket.into(), SOCKET_BUFFER_BYTES)
    });
    if let Err(e) = sized {
        tracing::debug!(error = %e, "cannot enlarge the UDP socket buffers");
    }
}
