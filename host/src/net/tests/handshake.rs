//! Authenticated endpoints on 127.0.0.1: who is admitted, who is refused and how, hostile input, timeouts, and loopback figures.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{bounded, secret};
use crate::ids::ExecutorId;
use crate::net::auth::ClusterSecret;
use crate::net::endpoint::{self, HandshakeError, NetConfig, Server};
use crate::net::framing::{self, Limits};
use crate::net::protocol::{
    Challenge, ExecutorRequest, MasterReply, PROTOCOL_VERSION, Role, RunningTask, WireMemory,
    WireTaskMetrics,
};
use crate::net::rpc::{self, Stream};
use crate::net::tls::{Fingerprint, Identity, IdentityError};

pub(super) fn executor_role() -> Role {
    Role::Executor {
        host: "node-1".into(),
        rack: Some("rack-a".into()),
        cores: 2,
        shuffle_port: 7337,
        shuffle_fingerprint: "00".repeat(32),
        data_roots: vec!["/data".into()],
    }
}

pub(super) fn server(config: NetConfig) -> Server {
    let identity = Identity::generate().unwrap();
    Server::bind_with("127.0.0.1:0".parse().unwrap(), &identity, secret(), config).unwrap()
}

/// A correct client connects while the server accepts; returns both ends' outcomes.
pub(super) async fn good_client(
    server: &mut Server,
    role: Role,
) -> (endpoint::AuthenticatedConn, endpoint::ClientConn) {
    let (addr, fp) = (server.local_addr(), server.fingerprint());
    let secret = secret();
    let (s, c) = tokio::join!(server.accept(), endpoint::connect(addr, fp, &secret, role));
    (s.unwrap(), c.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_secret_is_welcomed_and_can_call() {
    bounded(async {
        let mut server = server(NetConfig::default());
        let (s, c) = good_client(&mut server, executor_role()).await;
        assert_eq!(s.role, executor_role());
        assert_eq!(s.executor, Some(ExecutorId(1)));
        assert_eq!(c.executor, Some(ExecutorId(1)));

        // One request stream each way.
        let serve = async {
            let mut stream = Stream::accept(&s.conn, Limits::default()).await.unwrap().unwrap();
            let req: ExecutorRequest = stream.expect().await.unwrap();
            assert!(
                matches!(req, ExecutorRequest::Heartbeat { ref running, .. } if running.len() == 1)
            );
            stream.write(&MasterReply::Ack).await.unwrap();
            stream.finish();
            let _ = stream.send.stopped().await;
        };
        let req = ExecutorRequest::Heartbeat {
            running: vec![RunningTask {
                app: 1,
                task: 3,
                elapsed_ms: 5,
                metrics: WireTaskMetrics { records_read: 9, ..WireTaskMetrics::default() },
            }],
            memory: WireMemory { pool: 1 << 30, operators: 5, guests: 7, storage: 11 },
        };
        let (_, reply) =
            tokio::join!(serve, rpc::call::<_, MasterReply>(&c.conn, &req, Limits::default()));
        assert_eq!(reply.unwrap(), MasterReply::Ack);

        // A second executor gets the next id; a submitter gets none.
        let (s2, c2) = good_client(&mut server, executor_role()).await;
        assert_eq!((s2.executor, c2.executor), (Some(ExecutorId(2)), Some(ExecutorId(2))));
        let (s3, c3) = good_client(&mut server, Role::Submitter).await;
        assert_eq!((s3.role, s3.executor, c3.executor), (Role::Submitter, None, None));
        c.close().await;
        // The server sees the orderly close as the end of streams.
        assert!(Stream::accept(&s.conn, Limits::default()).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_refused_on_both_sides() {
    bounded(async {
        let mut server = server(NetConfig::default());
        let wrong = ClusterSecret::new(b"not the cluster secret at all".to_vec()).unwrap();
        let (addr, fp) = (server.local_addr(), server.fingerprint());
        let (s, c) =
            tokio::join!(server.accept(), endpoint::connect(addr, fp, &wrong, Role::Submitter));
        assert_eq!(c.unwrap_err().to_string(), "refused by master: authentication failed");
        match s.unwrap_err() {
            HandshakeError::Refused { reason, .. } => assert_eq!(reason, "authentication failed"),
            e => panic!("unexpected {e}"),
        }
        // The server keeps serving.
        good_client(&mut server, Role::Submitter).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_protocol_version_is_refused() {
    bounded(async {
        let mut server = server(NetConfig::default());
        let (addr, fp) = (server.local_addr(), server.fingerprint());
        let config = NetConfig::default();
        let secret = secret();
        let connect = endpoint::connect_version(addr, fp, &secret, Role::Submitter, &config, PROTOCOL_VERSION + 7);
        let (s, c) = tokio::join!(server.accept(), connect);
        let theirs = PROTOCOL_VERSION + 7;
        assert_eq!(
            c.unwrap_err().to_string(),
            format!("refused by master: protocol version {theirs} is not supported (master speaks {PROTOCOL_VERSION})")
        );
        assert!(matches!(s.unwrap_err(), HandshakeError::Refused { .. }));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pinned_fingerprint_fails_on_the_client() {
    bounded(async {
        let mut server = server(NetConfig::default());
        let other = Identity::generate().unwrap().fingerprint();
        let addr = server.local_addr();
        let secret = secret();
        let (_, c) =
            tokio::join!(server.accept(), endpoint::connect(addr, other, &secret, Role::Submitter));
        assert_eq!(
            c.unwrap_err().to_string(),
            format!(
                "master certificate fingerprint mismatch: expected {other}, got {}",
                server.fingerprint()
            )
        );
        good_client(&mut server, Role::Submitter).await;
    })
    .await;
}

/// Connects at the QUIC level, takes the challenge, and writes `bytes` instead of a Hello.
async fn misbehave(
    addr: SocketAddr,
    fp: Fingerprint,
    bytes: &[u8],
    finish: bool,
) -> quinn::Connection {
    let (_endpoint, conn) = endpoint::raw_connect(addr, fp, &NetConfig::default()).await.unwrap();
    let (mut send, mut recv) = conn.accept_bi().await.unwrap();
    let challenge: Challenge = framing::read_frame(&mut recv, 1024).await.unwrap().unwrap();
    assert_eq!(challenge.version, PROTOCOL_VERSION);
    send.write_all(bytes).await.unwrap();
    if finish {
        send.finish().unwrap();
    }
    // Wait for the server's verdict: it closes the connection.
    let _ = recv.read_to_end(1 << 16).await;
    conn.closed().await;
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_refused_and_the_server_keeps_accepting() {
    bounded(async {
        let mut server = server(NetConfig::default());
        let (addr, fp) = (server.local_addr(), server.fingerprint());
        let mut truncated = 100u32.to_le_bytes().to_vec();
        truncated.extend([1; 10]);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "garbage",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                "malformed hello: frame of 542393671 bytes exceeds the limit of 65536 bytes",
            ),
            (
                "4 GiB claim",
                u32::MAX.to_le_bytes().to_vec(),
                "malformed hello: frame of 4294967295 bytes exceeds the limit of 65536 bytes",
            ),
            ("truncated", truncated, "malformed hello: stream ended in the middle of a frame"),
            (
                "garbage body",
                vec![3, 0, 0, 0, PROTOCOL_VERSION as u8, 0xFF, 0xFF],
                "malformed hello",
            ),
        ];
        for (name, bytes, expected) in cases {
            let (s, conn) = tokio::join!(server.accept(), misbehave(addr, fp, &bytes, true));
            match s {
                Err(HandshakeError::Refused { reason, .. }) => {
                    assert_eq!(reason, expected, "{name}")
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
            match conn.close_reason() {
                Some(quinn::ConnectionError::ApplicationClosed(close)) => {
                    assert_eq!(close.error_code, endpoint::CLOSE_REFUSED.into(), "{name}");
                    assert_eq!(close.reason, expected.as_bytes(), "{name}");
                }
                other => panic!("{name}: unexpected close {other:?}"),
            }
            good_client(&mut server, Role::Submitter).await;
        }

        // Raw UDP garbage at the port is ignored by QUIC.
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..50u8 {
            udp.send_to(&vec![i; 1200], addr).await.unwrap();
        }
        good_client(&mut server, Role::Submitter).await;

        // After the handshake: a 4 GiB frame on a request stream fails that stream only.
        let (s, c) = good_client(&mut server, executor_role()).await;
        let (mut send, _recv) = c.conn.open_bi().await.unwrap();
        send.write_all(&u32::MAX.to_le_bytes()).await.unwrap();
        let mut stream = Stream::accept(&s.conn, Limits::default()).await.unwrap().unwrap();
        let err = stream.read::<ExecutorRequest>().await.unwrap_err();
        assert_eq!(err.to_string(), "bad message on request stream");
        let serve = async {
            let mut stream = Stream::accept(&s.conn, Limits::default()).await.unwrap().unwrap();
            let _: ExecutorRequest = stream.expect().await.unwrap();
            stream.write(&MasterReply::Reregister).await.unwrap();
            stream.finish();
            let _ = stream.send.stopped().await;
        };
        let req = ExecutorRequest::Heartbeat { running: vec![], memory: Default::default() };
        let (_, reply) =
            tokio::join!(serve, rpc::call::<_, MasterReply>(&c.conn, &req, Limits::default()));
        assert_eq!(reply.unwrap(), MasterReply::Reregister);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connection_times_out_without_blocking_others() {
    bounded(async {
        let timeout = Duration::from_millis(500);
        let mut server = server(NetConfig { handshake_timeout: timeout, ..NetConfig::default() });
        let (addr, fp) = (server.local_addr(), server.fingerprint());
        // Completes QUIC, then opens a stream of its own and never writes, nor answers the challenge.
        let (_endpoint, silent) =
            endpoint::raw_connect(addr, fp, &NetConfig::default()).await.unwrap();
        let _unused = silent.open_bi().await.unwrap();
        let started = Instant::now();
        // Meanwhile a good client is admitted at once.
        let (_s, _c) = good_client(&mut server, Role::Submitter).await;
        assert!(started.elapsed() < timeout, "the silent peer did not delay others");
        match server.accept().await {
            Err(HandshakeError::Timeout { after, .. }) => assert_eq!(after, timeout),
            other => panic!("unexpected {other:?}"),
        }
        assert!(started.elapsed() >= timeout - Duration::from_millis(50));
    })
    .await;
}

#[test]
fn identity_is_generated_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity");
    let first = Identity::load_or_generate(&path).unwrap();
    let second = Identity::load_or_generate(&path).unwrap();
    assert_eq!(first.fingerprint(), second.fingerprint());
    assert_eq!(
        first.fingerprint(),
        Fingerprint::of(&std::fs::read(path.join("cert.der")).unwrap())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.join("key.der")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::remove_file(path.join("cert.der")).unwrap();
    let err = Identity::load_or_generate(&path).unwrap_err();
    assert!(matches!(err, IdentityError::Incomplete { .. }), "{err}");

    // Fingerprints print as 64 lowercase hex digits and parse back, colons and case tolerated.
    let fp = first.fingerprint();
    let text = fp.to_string();
    assert_eq!(text.len(), 64);
    assert_eq!(text.parse::<Fingerprint>().unwrap(), fp);
    let colons: Vec<String> = fp.0.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(colons.join(":").parse::<Fingerprint>().unwrap(), fp);
    assert!("abc".parse::<Fingerprint>().is_err());
    assert!(ClusterSecret::new(b"short".to_vec()).is_err());
}

/// Loopback figures for the report: handshake (QUIC + TLS + challenge) and small-request round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_handshake_and_round_trip() {
    bounded(async {
        let mut server = server(NetConfig::default());
        let (addr, fp) = (server.local_addr(), server.fingerprint());
        let (s, client) = good_client(&mut server, executor_role()).await;
        let conn = s.conn.clone();
        tokio::spawn(async move {
            while let Ok(Some(mut stream)) = Stream::accept(&conn, Limits::default()).await {
                tokio::spawn(async move {
                    if stream.expect::<ExecutorRequest>().await.is_ok() {
                        let _ = stream.write(&MasterReply::Ack).await;
                        stream.finish();
                    }
                });
            }
        });
        let mut handshakes = Vec::new();
        // Accepted connections are kept: dropping a quinn connection closes it.
        let acceptor = tokio::spawn(async move {
            let mut kept = Vec::new();
            while let Ok(c) = server.accept().await {
                kept.push(c);
            }
        });
        for _ in 0..30 {
            let t = Instant::now();
            let c = endpoint::connect(addr, fp, &secret(), Role::Submitter).await.unwrap();
            handshakes.push(t.elapsed());
            c.conn.close(0u32.into(), b"");
        }
        let req = ExecutorRequest::Heartbeat {
            running: vec![RunningTask {
                app: 1,
                task: 1,
                elapsed_ms: 5,
                metrics: WireTaskMetrics { records_read: 9, ..WireTaskMetrics::default() },
            }],
            memory: WireMemory { pool: 1 << 30, operators: 5, guests: 7, storage: 11 },
        };
        for _ in 0..200 {
            rpc::call::<_, MasterReply>(&client.conn, &req, Limits::default()).await.unwrap();
        }
        let mut rtts = Vec::new();
        for _ in 0..2000 {
            let t = Instant::now();
            rpc::call::<_, MasterReply>(&client.conn, &req, Limits::default()).await.unwrap();
            rtts.push(t.elapsed());
        }
        acceptor.abort();
        let stats = |mut v: Vec<Duration>| {
            v.sort();
            let mean = v.iter().sum::<Duration>() / v.len() as u32;
            (mean, v[v.len() / 2], v[v.len() * 99 / 100])
        };
        let (hm, hp50, hp99) = stats(handshakes);
        let (rm, rp50, rp99) = stats(rtts);
        eprintln!("net loopback: handshake (QUIC+TLS+challenge) mean {hm:?} p50 {hp50:?} p99 {hp99:?} (30 connections)");
        eprintln!("net loopback: request round trip, new stream per call, mean {rm:?} p50 {rp50:?} p99 {rp99:?} (2000 calls)");
    })
    .await;
}

/// A message larger than a frame (a 40 MiB component) crosses a real QUIC stream in chunks; prints the throughput.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_component_upload_over_quic() {
    use crate::net::protocol::task::{
        WirePlan, WirePlanNode, WireResultKind, WireSink, WireSource, WireTask, WireTaskAttempt,
    };
    use crate::net::protocol::{ComponentUpload, ExecutorReply, MasterRequest};
    bounded(async {
        let mut server = server(NetConfig::default());
        let (s, c) = good_client(&mut server, executor_role()).await;
        let bytes: Vec<u8> = (0..40u32 << 20).map(|i| (i % 251) as u8).collect();
        let upload = ComponentUpload { hash: "x".into(), bytes };
        let task = WireTask {
            id: WireTaskAttempt {
                task: 1,
                job: 1,
                stage: 1,
                stage_attempt: 0,
                partition: 0,
                attempt: 0,
            },
            plan: WirePlan {
                nodes: vec![WirePlanNode::Read(WireSource::Slice(Default::default()))],
            },
            sink: WireSink::Result(WireResultKind::Count),
            limits: Default::default(),
            shared: Default::default(),
        };
        let req = MasterRequest::LaunchTask { app: 1, task, components: vec![upload.clone()] };
        let serve = async {
            // The executor side (here the client) receives.
            let mut stream = Stream::accept(&c.conn, Limits::default()).await.unwrap().unwrap();
            let got: MasterRequest = stream.expect().await.unwrap();
            stream.write(&ExecutorReply::Ack).await.unwrap();
            stream.finish();
            let _ = stream.send.stopped().await;
            got
        };
        let t = Instant::now();
        let (got, reply) =
            tokio::join!(serve, rpc::call::<_, ExecutorReply>(&s.conn, &req, Limits::default()));
        let elapsed = t.elapsed();
        assert_eq!(reply.unwrap(), ExecutorReply::Ack);
        assert!(got == req, "the 40 MiB LaunchTask arrived intact");
        eprintln!(
            "net loopback: 40 MiB LaunchTask as 1 MiB chunks in {elapsed:?} ({:.0} MiB/s)",
            40.0 / elapsed.as_secs_f64()
        );
    })
    .await;
}
