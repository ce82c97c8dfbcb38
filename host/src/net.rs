//! QUIC transport for cluster mode: wire protocol, framing, TLS pinning, authenticated endpoints and request streams.
//!
//! Layers, bottom up:
//!
//! - `protocol`: every message as serde types (the only serde types of the
//!   crate), the protocol version and the wire mirrors of task descriptions
//!   and reports with their conversions.
//! - `framing`: `u32le length ++ postcard` frames with size limits, and
//!   messages or payloads that span several frames.
//! - `tls`: the server identity kept on disk, fingerprint pinning, quinn
//!   configurations (TLS 1.3, ALPN `wisp/1`, ring).
//! - `auth`: the cluster secret and the HMAC proof.
//! - `endpoint`: `Server::bind`/`accept` and `connect`, which run the
//!   versioned challenge–response handshake; only authenticated connections
//!   come out.
//! - `rpc`: one bidirectional stream per request on those connections.
//! - `socket`: the servers' UDP socket, which logs datagrams that are not QUIC.
//!
//! This module does IO (tokio, quinn); the scheduler core never uses it
//! directly. `docs/protocol.md` describes the protocol in prose.

pub(crate) mod auth;
pub(crate) mod endpoint;
pub(crate) mod framing;
pub(crate) mod loopback;
pub(crate) mod protocol;
pub(crate) mod rpc;
mod socket;
pub(crate) mod tls;

#[cfg(test)]
mod tests;

pub(crate) use auth::ClusterSecret;
pub(crate) use endpoint::{
    AuthenticatedConn, ClientConn, HandshakeError, NetConfig, Server, connect_with,
};
pub(crate) use framing::Limits;
pub(crate) use protocol::Role;
pub(crate) use rpc::{RpcError, Stream, call};
pub(crate) use tls::{Fingerprint, Identity, IdentityError};
