//! Truthful transport diagnostics: Wisp's own QUIC traffic is never counted as garbage, and a silent peer is reported as a timeout.

use std::time::{Duration, Instant};

use super::bounded;
use super::handshake::{executor_role, good_client, server};
use crate::net::endpoint::{NetConfig, endpoint_config};
use crate::net::framing::Limits;
use crate::net::protocol::{ExecutorRequest, MasterReply};
use crate::net::rpc::{self, RpcError, Stream};

#[test]
fn wisp_endpoints_never_grease_the_fixed_bit() {
    // quinn keeps the setting private; its Debug output is the only way to read it back.
    let shown = format!("{:?}", endpoint_config());
    assert!(shown.contains("grease_quic_bit: false"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wisp_traffic_is_never_counted_as_not_quic_but_garbage_is() {
    bounded(async {
        let mut server = server(NetConfig::default());
        let (s, c) = good_client(&mut server, executor_role()).await;
        // Many short-header packets both ways: with greasing on, about half of the
        // client's packets would arrive with the fixed bit clear.
        let serve = async {
            while let Ok(Some(mut stream)) = Stream::accept(&s.conn, Limits::default()).await {
                let _: ExecutorRequest = stream.expect().await.unwrap();
                stream.write(&MasterReply::Ack).await.unwrap();
                stream.finish();
            }
        };
        let calls = async {
            for _ in 0..300 {
                let req =
                    ExecutorRequest::Heartbeat { running: Vec::new(), memory: Default::default() };
                let reply = rpc::call::<_, MasterReply>(&c.conn, &req, Limits::default()).await;
                assert_eq!(reply.unwrap(), MasterReply::Ack);
            }
            c.close().await;
        };
        tokio::join!(serve, calls);
        assert_eq!(server.not_quic_datagrams(), 0, "Wisp's own packets were taken for garbage");

        // The same counter does see a datagram that cannot be QUIC.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut junk = vec![0x5au8; 1200];
        junk[0] = 0x00;
        udp.send_to(&junk, server.local_addr()).unwrap();
        let start = Instant::now();
        while server.not_quic_datagrams() == 0 {
            assert!(start.elapsed() < Duration::from_secs(10), "the garbage datagram was not seen");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.not_quic_datagrams(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_falls_silent_is_reported_as_a_timeout() {
    bounded(async {
        let idle = Duration::from_secs(1);
        let config = NetConfig {
            idle_timeout: idle,
            keep_alive: Duration::from_millis(200),
            ..NetConfig::default()
        };
        // The server lives on its own runtime, so that it can be silenced without a close.
        let server_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut server = {
            let _entered = server_rt.enter();
            server(config.clone())
        };
        let (addr, fp) = (server.local_addr(), server.fingerprint());
        let accepted = server_rt.spawn(async move {
            let conn = server.accept().await;
            (server, conn)
        });
        let secret = super::secret();
        let client = crate::net::endpoint::connect_with(
            addr,
            fp,
            &secret,
            crate::net::protocol::Role::Submitter,
            &config,
        )
        .await
        .unwrap();
        let (server, conn) = accepted.await.unwrap();
        let conn = conn.unwrap();
        // Every task of the server's runtime (its endpoint and connection drivers) stops: no
        // packet, not even a close, leaves the server from now on.
        server_rt.shutdown_background();

        let started = Instant::now();
        let req = ExecutorRequest::Heartbeat { running: Vec::new(), memory: Default::default() };
        let err = rpc::call::<_, MasterReply>(&client.conn, &req, Limits::default())
            .await
            .expect_err("a silent server cannot reply");
        assert!(matches!(err, RpcError::TimedOut), "{err:?}");
        let message = crate::error_chain::chain(&err);
        assert!(message.contains("timed out"), "{message}");
        assert!(!message.contains("bad message"), "{message}");
        assert!(started.elapsed() >= idle - Duration::from_millis(100), "{:?}", started.elapsed());
        drop((server, conn));
    })
    .await;
}
