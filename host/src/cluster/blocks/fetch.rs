//! Shuffle fetches from other executors' block servers over QUIC, with a bound on bytes in flight.
//!
//! A reduce task's remote blocks are grouped by executor into requests of
//! about a fifth of `wisp.reducer.maxBytesInFlight` each (as Spark does),
//! issued concurrently while the bytes of requested-but-unconsumed blocks stay
//! under the limit. The requests go out when the reduce task starts, before it
//! reads its local blocks (`executor::plan_run::read_shuffle`), so the network
//! works while the task does. Fetched blocks come back to the task thread, which
//! decodes and pushes them; the budget a request holds is released when its
//! last block has been consumed.
//!
//! `wisp.reducer.maxBytesInFlight` is the one bound on a reduce task's fetch
//! memory: a request's bytes are counted from before it is sent until its
//! blocks were consumed, which covers everything held for them on the way —
//! what quinn buffers for the stream (never more than the request's own
//! bytes and their frame headers) and each block's buffer, allocated at the size the map status
//! gives and filled straight from the stream (`framing::read_payload`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::PeerTable;
use crate::error_chain::chain;
use crate::executor::{BlockFetcher, FetchedBlock, RemoteBlocks};
use crate::ids::{AppId, ExecutorId, ShuffleId};
use crate::net::protocol::{BlockReply, BlockRequest};
use crate::net::{ClientConn, ClusterSecret, Fingerprint, NetConfig, Role, Stream, connect_with};
use crate::task::{MapBlock, TaskFailure};

/// Budget unit: permits count KiB.
const UNIT: u64 = 1024;

/// Fetches one application's remote shuffle blocks.
pub(crate) struct QuicFetcher {
    app: AppId,
    inner: Arc<FetchPool>,
    rt: tokio::runtime::Handle,
    max_in_flight: u64,
}

/// Connections to other executors' block servers, shared by all task threads and applications of an executor.
pub(crate) struct FetchPool {
    me: ExecutorId,
    secret: ClusterSecret,
    peers: Arc<PeerTable>,
    net: NetConfig,
    conns: tokio::sync::Mutex<HashMap<ExecutorId, ClientConn>>,
}

impl FetchPool {
    pub(crate) fn new(
        me: ExecutorId,
        secret: ClusterSecret,
        peers: Arc<PeerTable>,
        net: NetConfig,
    ) -> Arc<FetchPool> {
        Arc::new(FetchPool {
            me,
            secret,
            peers,
            net,
            conns: tokio::sync::Mutex::new(HashMap::new()),
        })
    }
}

impl QuicFetcher {
    pub(crate) fn new(
        app: AppId,
        pool: Arc<FetchPool>,
        rt: tokio::runtime::Handle,
        max_in_flight: u64,
    ) -> QuicFetcher {
        QuicFetcher { app, inner: pool, rt, max_in_flight: max_in_flight.max(UNIT) }
    }
}

impl BlockFetcher for QuicFetcher {
    fn start(&self, shuffle: ShuffleId, reduce: u32, maps: &[MapBlock]) -> RemoteBlocks {
        let Some(first) = maps.first() else { return Box::new(std::iter::empty()) };
        let target = (self.max_in_flight / 5).max(1);
        let mut by_executor: BTreeMap<ExecutorId, Vec<MapBlock>> = BTreeMap::new();
        for m in maps {
            by_executor.entry(m.executor).or_default().push(m.clone());
        }
        let mut requests: Vec<Vec<MapBlock>> = Vec::new();
        for (_, blocks) in by_executor {
            let (mut current, mut bytes) = (Vec::new(), 0u64);
            for b in blocks {
                if !current.is_empty() && bytes + b.bytes > target {
                    requests.push(std::mem::take(&mut current));
                    bytes = 0;
                }
                bytes += b.bytes;
                current.push(b);
            }
            if !current.is_empty() {
                requests.push(current);
            }
        }
        tracing::debug!(%shuffle, reduce, blocks = maps.len(), requests = requests.len(), bytes = maps.iter().map(|m| m.bytes).sum::<u64>(), "fetching shuffle blocks");
        let budget_permits = (self.max_in_flight / UNIT).clamp(1, u32::MAX as u64 / 2) as u32;
        let budget = Arc::new(Semaphore::new(budget_permits as usize));
        // Unbounded, yet bounded by the budget: every block in it holds its share of
        // `max_in_flight` until the task thread consumed it.
        let (tx, rx) = mpsc::unbounded_channel::<Result<FetchedBlock, TaskFailure>>();
        let (inner, app) = (self.inner.clone(), self.app);
        let issuer = self.rt.spawn(async move {
            for request in requests {
                let bytes: u64 = request.iter().map(|b| b.bytes).sum();
                let want = bytes.div_ceil(UNIT).clamp(1, budget_permits as u64) as u32;
                let Ok(permit) = budget.clone().acquire_many_owned(want).await else { return };
                if tx.is_closed() {
                    return;
                }
                tokio::spawn(fetch_request(
                    inner.clone(),
                    app,
                    shuffle,
                    reduce,
                    request,
                    Arc::new(permit),
                    tx.clone(),
                ));
            }
        });
        Box::new(Arrivals {
            rx,
            remaining: maps.len(),
            issuer,
            ended: TaskFailure::FetchFailed {
                shuffle,
                map: first.map,
                executor: first.executor,
                message: "the fetch ended before every block arrived".into(),
            },
        })
    }
}

/// The blocks of one `start`, received on the task thread (blocking) as the network tasks fetch them.
struct Arrivals {
    rx: mpsc::UnboundedReceiver<Result<FetchedBlock, TaskFailure>>,
    /// Blocks not handed out yet; 0 after a failure.
    remaining: usize,
    /// Issues the requests as the budget allows; stopped when the task no longer reads.
    issuer: tokio::task::JoinHandle<()>,
    /// The failure if the channel closes before every block came.
    ended: TaskFailure,
}

impl Iterator for Arrivals {
    type Item = Result<FetchedBlock, TaskFailure>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let next = self.rx.blocking_recv();
        self.remaining = match next {
            Some(Ok(_)) => self.remaining - 1,
            _ => 0,
        };
        Some(next.unwrap_or_else(|| Err(self.ended.clone())))
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.issuer.abort();
    }
}

async fn fetch_request(
    inner: Arc<FetchPool>,
    app: AppId,
    shuffle: ShuffleId,
    reduce: u32,
    blocks: Vec<MapBlock>,
    budget: Arc<OwnedSemaphorePermit>,
    tx: mpsc::UnboundedSender<Result<FetchedBlock, TaskFailure>>,
) {
    let executor = blocks[0].executor;
    if let Err((map, message)) =
        fetch_blocks(&inner, app, shuffle, reduce, &blocks, &budget, &tx).await
    {
        tracing::warn!(%shuffle, map, %executor, %message, "shuffle fetch failed");
        inner.conns.lock().await.remove(&executor);
        let _ = tx.send(Err(TaskFailure::FetchFailed { shuffle, map, executor, message }));
    }
}

async fn fetch_blocks(
    inner: &FetchPool,
    app: AppId,
    shuffle: ShuffleId,
    reduce: u32,
    blocks: &[MapBlock],
    budget: &Arc<OwnedSemaphorePermit>,
    tx: &mpsc::UnboundedSender<Result<FetchedBlock, TaskFailure>>,
) -> Result<(), (u32, String)> {
    let first = blocks[0].map;
    let started = std::time::Instant::now();
    let mut fetched = 0u64;
    let conn = inner.connection(blocks[0].executor).await.map_err(|m| (first, m))?;
    let limits = inner.net.limits;
    let mut s = Stream::open(&conn, limits).await.map_err(|e| (first, chain(&e)))?;
    let request = BlockRequest::FetchBlocks {
        app: app.0,
        shuffle: shuffle.0,
        reduce,
        maps: blocks.iter().map(|b| b.map).collect(),
    };
    s.write(&request).await.map_err(|e| (first, chain(&e)))?;
    s.finish();
    for b in blocks {
        match s.expect::<BlockReply>().await.map_err(|e| (b.map, chain(&e)))? {
            BlockReply::Block { map, len } if map == b.map => {
                if len > limits.max_message {
                    return Err((
                        b.map,
                        format!(
                            "block of {len} bytes exceeds the limit of {} bytes",
                            limits.max_message
                        ),
                    ));
                }
                let bytes = s.read_payload(len, b.bytes).await.map_err(|e| (b.map, chain(&e)))?;
                fetched += len;
                let held: Box<dyn Send> = Box::new(budget.clone());
                if tx.send(Ok(FetchedBlock { block: b.clone(), bytes, _held: Some(held) })).is_err()
                {
                    return Ok(()); // the task stopped reading
                }
            }
            BlockReply::Block { map, .. } => {
                return Err((b.map, format!("block server sent map {map}, expected {}", b.map)));
            }
            BlockReply::Missing { map, message } => return Err((map, message)),
        }
    }
    let elapsed_us = started.elapsed().as_micros() as u64;
    tracing::debug!(executor = %blocks[0].executor, %shuffle, reduce, blocks = blocks.len(), bytes = fetched, elapsed_us, "fetched shuffle blocks");
    Ok(())
}

impl FetchPool {
    /// A connection to `peer`'s block server (reused while open).
    async fn connection(&self, peer: ExecutorId) -> Result<quinn::Connection, String> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(&peer)
            && c.conn.close_reason().is_none()
        {
            return Ok(c.conn.clone());
        }
        // The master announces peers before it launches tasks that read from them;
        // allow a moment in case the announcement is still on its way.
        let mut info = self.peers.get(peer);
        for _ in 0..50 {
            if info.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            info = self.peers.get(peer);
        }
        let info = info.ok_or_else(|| format!("{peer} is not a known executor (lost?)"))?;
        let fingerprint: Fingerprint =
            info.fingerprint.parse().map_err(|e| format!("bad fingerprint of {peer}: {e}"))?;
        let addr = crate::cluster::resolve(&format!("{}:{}", info.host, info.shuffle_port))
            .await
            .map_err(|e| e.to_string())?;
        let c = connect_with(
            addr,
            fingerprint,
            &self.secret,
            Role::Peer { executor: self.me.0 },
            &self.net,
        )
        .await
        .map_err(|e| {
            format!("cannot connect to the block server of {peer} at {addr}: {}", chain(&e))
        })?;
        let conn = c.conn.clone();
        conns.insert(peer, c);
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(map: u32) -> MapBlock {
        MapBlock { map, executor: ExecutorId(2), bytes: 3 }
    }

    fn started(rt: &tokio::runtime::Runtime, blocks: usize) -> (Arrivals, TxBlocks) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ended = TaskFailure::FetchFailed {
            shuffle: ShuffleId(0),
            map: 0,
            executor: ExecutorId(2),
            message: "ended".into(),
        };
        (Arrivals { rx, remaining: blocks, issuer: rt.spawn(async {}), ended }, tx)
    }

    type TxBlocks = mpsc::UnboundedSender<Result<FetchedBlock, TaskFailure>>;

    fn send(tx: &TxBlocks, map: u32) {
        let fetched = FetchedBlock { block: block(map), bytes: vec![map as u8; 3], _held: None };
        tx.send(Ok(fetched)).unwrap();
    }

    fn maps(items: Vec<Result<FetchedBlock, TaskFailure>>) -> Vec<Result<u32, TaskFailure>> {
        items.into_iter().map(|r| r.map(|f| f.block.map)).collect()
    }

    #[test]
    fn arrivals_hand_out_every_block_then_end_without_waiting_for_the_channel() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (arrivals, tx) = started(&rt, 2);
        send(&tx, 7);
        send(&tx, 5);
        // `tx` stays open: after the second block the iterator must end on its count alone.
        assert_eq!(maps(arrivals.collect()), vec![Ok(7), Ok(5)]);
        drop(tx);
    }

    #[test]
    fn arrivals_end_after_a_failure_or_when_the_fetch_ends_early() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (arrivals, tx) = started(&rt, 3);
        send(&tx, 1);
        let failure = TaskFailure::FetchFailed {
            shuffle: ShuffleId(0),
            map: 4,
            executor: ExecutorId(2),
            message: "connection lost".into(),
        };
        tx.send(Err(failure.clone())).unwrap();
        send(&tx, 2); // never handed out: the failure ends the fetch
        assert_eq!(maps(arrivals.collect()), vec![Ok(1), Err(failure)]);

        let (mut arrivals, tx) = started(&rt, 2);
        send(&tx, 3);
        drop(tx);
        assert_eq!(arrivals.next().map(|r| r.map(|f| f.block.map).ok()), Some(Some(3)));
        let ended = arrivals.next().expect("the early end is reported").err().expect("a failure");
        assert!(
            matches!(&ended, TaskFailure::FetchFailed { message, .. } if message == "ended"),
            "{ended:?}"
        );
        assert!(arrivals.next().is_none());
    }
}
