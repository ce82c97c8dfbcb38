//! The executor's block server: serves its shuffle blocks to other executors (`FetchBlocks` over QUIC).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::shuffle_dir;
use crate::error_chain::chain;
use crate::ids::{AppId, ShuffleId};
use crate::net::framing;
use crate::net::protocol::{BlockReply, BlockRequest};
use crate::net::{HandshakeError, Limits, Role, RpcError, Server, Stream};
use crate::shuffle::block_range;

/// Chunks read from a block file per blocking section: 4 MiB with the default
/// 1 MiB chunks, well under quinn's send window, which holds them until acknowledged.
const READ_AHEAD: usize = 4;

/// Accepts `Role::Peer` connections until the endpoint closes or `stop` says
/// why it closes (every connection is then closed with that reason);
/// application shuffle files are where `shuffle_dir(base, app)` says.
pub(crate) async fn serve(
    mut server: Server,
    base: PathBuf,
    limits: Limits,
    mut stop: tokio::sync::oneshot::Receiver<&'static str>,
) {
    let dir = Arc::new(base);
    loop {
        let next = tokio::select! {
            next = server.accept() => next,
            reason = &mut stop => {
                server.close(reason.unwrap_or("the executor is shutting down")).await;
                break;
            }
        };
        match next {
            Ok(c) => {
                if !matches!(c.role, Role::Peer { .. }) {
                    tracing::warn!(peer = %c.peer, role = c.role.name(), "block server refuses a non-peer connection");
                    c.conn.close(2u32.into(), b"only executors fetch blocks here");
                    continue;
                }
                let dir = dir.clone();
                tokio::spawn(async move {
                    while let Ok(Some(s)) = Stream::accept(&c.conn, limits).await {
                        let dir = dir.clone();
                        tokio::spawn(async move {
                            if let Err(e) = serve_stream(s, &dir).await {
                                tracing::debug!(error = %chain(&e), "block request failed");
                            }
                        });
                    }
                });
            }
            Err(HandshakeError::EndpointClosed) => break,
            Err(_) => {} // logged by the endpoint
        }
    }
}

async fn serve_stream(mut s: Stream, base: &Path) -> Result<(), RpcError> {
    let Some(BlockRequest::FetchBlocks { app, shuffle, reduce, maps }) =
        s.read::<BlockRequest>().await?
    else {
        return Ok(());
    };
    let dir = shuffle_dir(base, AppId(app));
    let dir = dir.as_path();
    let limits = s.limits;
    let chunk = limits.chunk_size();
    for map in maps {
        let range =
            tokio::task::block_in_place(|| block_range(dir, ShuffleId(shuffle), map, reduce));
        let (path, start, end) = match range {
            Ok(r) => r,
            Err(e) => {
                s.write(&BlockReply::Missing { map, message: e.to_string() }).await?;
                continue;
            }
        };
        let opened = tokio::task::block_in_place(|| -> std::io::Result<std::fs::File> {
            let mut f = std::fs::File::open(&path)?;
            f.seek(SeekFrom::Start(start))?;
            Ok(f)
        });
        let mut file = match opened {
            Ok(f) => f,
            Err(e) => {
                s.write(&BlockReply::Missing { map, message: format!("{}: {e}", path.display()) })
                    .await?;
                continue;
            }
        };
        s.write(&BlockReply::Block { map, len: end - start }).await?;
        let mut left = end - start;
        while left > 0 {
            // Up to `READ_AHEAD` chunks' frames, read from the file in place in one blocking
            // section (each section hands the worker's other tasks to another thread), then
            // handed to quinn as they are.
            let frames = tokio::task::block_in_place(|| {
                let mut frames = Vec::with_capacity(READ_AHEAD);
                while frames.len() < READ_AHEAD && left > 0 {
                    let n = (left as usize).min(chunk);
                    frames.push(framing::chunk_frame(n, &limits, |b| file.read_exact(b))?);
                    left -= n as u64;
                }
                Ok::<_, std::io::Error>(frames)
            });
            match frames {
                Ok(frames) => {
                    for frame in frames {
                        s.write_frame_bytes(frame).await?;
                    }
                }
                Err(e) => {
                    // The block was announced: abort the stream so that the fetcher fails this fetch.
                    tracing::warn!(file = %path.display(), error = %e, "cannot read shuffle block");
                    let _ = s.send.reset(1u32.into());
                    return Ok(());
                }
            }
        }
    }
    s.finish();
    Ok(())
}
