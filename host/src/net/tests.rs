//! Tests of the transport: framing, wire mirrors, TLS identity and the authenticated handshake on loopback.

mod datagrams_and_timeouts;
mod framing;
mod fuzz_corpus;
mod handshake;
mod wire;

use std::future::Future;
use std::time::Duration;

use crate::net::auth::ClusterSecret;

/// Every test's upper bound.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `fut`, failing the test if it takes longer than `TEST_TIMEOUT`.
async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, fut).await.expect("test timed out")
}

fn secret() -> ClusterSecret {
    ClusterSecret::new(b"correct horse battery staple".to_vec()).unwrap()
}
