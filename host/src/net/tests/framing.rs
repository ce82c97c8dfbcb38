//! Frames and messages through an in-memory pipe: every message type round-trips; bad input errors without panics or large allocations.

use tokio::io::AsyncWriteExt;

use super::bounded;
use crate::net::framing::{self, FrameError, Limits};
use crate::net::protocol::task::*;
use crate::net::protocol::*;

pub(super) fn sample_task() -> WireTask {
    WireTask {
        id: WireTaskAttempt {
            task: 7,
            job: 1,
            stage: 2,
            stage_attempt: 0,
            partition: 3,
            attempt: 1,
        },
        plan: WirePlan {
            nodes: vec![
                WirePlanNode::Read(WireSource::Slice(WireBatch {
                    data: b"abc".to_vec(),
                    ends: vec![1, 3],
                })),
                WirePlanNode::Guest {
                    input: 0,
                    component: "ab".repeat(32),
                    ops: vec![WireOp {
                        kind: WireOpKind::Map,
                        name: "upper".into(),
                        args: vec![1, 2],
                    }],
                },
            ],
        },
        sink: WireSink::ShuffleWrite {
            shuffle: 4,
            partitioner: WirePartitioner::Hash { partitions: 8 },
            map_side_combine: true,
        },
        limits: Default::default(),
        shared: WireSharedVars { broadcasts: vec![(0, "h".into())], accumulators: vec![0, 6] },
    }
}

pub(super) fn sample_report() -> WireTaskReport {
    WireTaskReport {
        task: 7,
        executor: 2,
        result: Ok(WireTaskOutput::Result(WireResultValue::Records(WireBatch {
            data: b"xy".to_vec(),
            ends: vec![2],
        }))),
        cached: vec![WireBlockId { rdd: 1, partition: 3 }],
        metrics: WireTaskMetrics { records_read: 5, bytes_read: 50, ..Default::default() },
        log: String::new(),
        accumulators: vec![WireAccumUpdate::Long { id: 0, value: -3 }],
    }
}

/// Writes `msg` with `write_message` and reads it back, both as a message and via the raw frame API.
async fn roundtrip<T>(msg: T, limits: &Limits) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let (mut a, mut b) = tokio::io::duplex(64 << 10);
    let limits2 = *limits;
    let writer = async move {
        framing::write_message(&mut a, &msg, &limits2).await.unwrap();
        a.shutdown().await.unwrap();
        msg
    };
    let reader = async {
        let got: T = framing::read_message(&mut b, limits).await.unwrap().unwrap();
        assert!(
            framing::read_message::<T, _>(&mut b, limits).await.unwrap().is_none(),
            "clean end of stream"
        );
        got
    };
    let (sent, got) = tokio::join!(writer, reader);
    assert_eq!(sent, got);
    got
}

#[tokio::test]
async fn every_message_type_roundtrips() {
    bounded(async {
        let l = Limits::default();
        roundtrip(Challenge { version: PROTOCOL_VERSION, nonce: [9; 32] }, &l).await;
        for role in [
            Role::Executor {
                host: "h1".into(),
                rack: Some("r1".into()),
                cores: 4,
                shuffle_port: 7078,
                shuffle_fingerprint: "00".repeat(32),
                data_roots: vec!["/data".into()],
            },
            Role::Submitter,
            Role::Peer { executor: 3 },
        ] {
            roundtrip(Hello { version: 1, role, proof: [7; 32] }, &l).await;
        }
        roundtrip(HandshakeReply::Welcome { executor_id: Some(4) }, &l).await;
        roundtrip(HandshakeReply::Welcome { executor_id: None }, &l).await;
        roundtrip(HandshakeReply::Refused { reason: "authentication failed".into() }, &l).await;
        roundtrip(Chunk { bytes: vec![1; 1000] }, &l).await;
        for req in [
            MasterRequest::LaunchTask {
                app: 1,
                task: sample_task(),
                components: vec![ComponentUpload {
                    hash: "ab".repeat(32),
                    bytes: vec![0, 97, 115, 109],
                }],
            },
            MasterRequest::LaunchTask { app: 1, task: sample_task(), components: vec![] },
            MasterRequest::KillTask { app: 1, task: 7 },
            MasterRequest::DropBlocks {
                app: 1,
                blocks: vec![WireBlockId { rdd: 1, partition: 0 }],
            },
            MasterRequest::EndApplication { app: 1 },
            MasterRequest::DropShipped { app: 1, hash: "ab".repeat(32) },
            MasterRequest::Peers {
                added: vec![PeerInfo {
                    executor: 2,
                    host: "h2".into(),
                    shuffle_port: 1,
                    fingerprint: "f".into(),
                }],
                removed: vec![1],
            },
        ] {
            roundtrip(req, &l).await;
        }
        for reply in [
            ExecutorReply::Ack,
            ExecutorReply::UnknownComponent { hash: "h".into() },
            ExecutorReply::Failed { message: "no".into() },
        ] {
            roundtrip(reply, &l).await;
        }
        roundtrip(
            ExecutorRequest::Heartbeat {
                running: vec![RunningTask {
                    app: 1,
                    task: 7,
                    elapsed_ms: 5,
                    metrics: WireTaskMetrics { records_read: 9, ..WireTaskMetrics::default() },
                }],
                memory: WireMemory { pool: 1 << 30, operators: 5, guests: 7, storage: 11 },
            },
            &l,
        )
        .await;
        roundtrip(ExecutorRequest::TaskStatus { app: 1, report: Box::new(sample_report()) }, &l)
            .await;
        let mut failed = sample_report();
        failed.result = Err(WireTaskFailure::FetchFailed {
            shuffle: 1,
            map: 2,
            executor: 3,
            message: "gone".into(),
        });
        roundtrip(ExecutorRequest::TaskStatus { app: 1, report: Box::new(failed) }, &l).await;
        roundtrip(MasterReply::Ack, &l).await;
        roundtrip(MasterReply::Reregister, &l).await;
        roundtrip(
            SubmitRequest::SubmitJob {
                name: "job.wasm".into(),
                component: vec![0, 97, 115, 109, 13, 0, 1, 0],
                args: vec!["in.txt".into()],
                conf: vec![("wisp.task.maxFailures".into(), "4".into())],
            },
            &l,
        )
        .await;
        roundtrip(SubmitRequest::CancelJob, &l).await;
        roundtrip(JobEvent::JobState { message: "waiting for executors".into() }, &l).await;
        roundtrip(JobEvent::JobOutput { chunk: b"hello\n".to_vec() }, &l).await;
        roundtrip(JobEvent::JobDone { result: Ok(()) }, &l).await;
        roundtrip(JobEvent::JobDone { result: Err("guest trapped".into()) }, &l).await;
        roundtrip(
            BlockRequest::FetchBlocks { app: 1, shuffle: 1, reduce: 2, maps: vec![0, 1, 2] },
            &l,
        )
        .await;
        roundtrip(BlockReply::Block { map: 0, len: 123 }, &l).await;
        roundtrip(BlockReply::Missing { map: 1, message: "deleted".into() }, &l).await;
    })
    .await;
}

#[tokio::test]
async fn frame_encoding_is_length_prefixed_postcard() {
    // Independent of the implementation: postcard writes a u32 as a varint and a [u8; 32] as 32 raw bytes.
    let frame = framing::encode_frame(&Challenge { version: 1, nonce: [0xAA; 32] }, 1024).unwrap();
    let mut expected = vec![33, 0, 0, 0, 1];
    expected.extend([0xAA; 32]);
    assert_eq!(frame, expected);
}

#[tokio::test]
async fn large_messages_travel_in_chunks_within_limits() {
    bounded(async {
        let small = Limits { max_frame: 4096, max_message: 1 << 20, chunk: 1000 };
        let component: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        let msg = SubmitRequest::SubmitJob {
            name: "job.wasm".into(),
            component,
            args: vec!["a".into()],
            conf: vec![],
        };
        roundtrip(msg, &small).await;

        // The same message exceeds a receiver's max_message: refused by its declared length.
        let tiny = Limits { max_frame: 4096, max_message: 10_000, chunk: 1000 };
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        let big = SubmitRequest::SubmitJob {
            name: "job.wasm".into(),
            component: vec![1; 50_000],
            args: vec![],
            conf: vec![],
        };
        framing::write_message(&mut a, &big, &small).await.unwrap();
        let err = framing::read_message::<SubmitRequest, _>(&mut b, &tiny).await.unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { len, max: 10_000 } if len > 50_000),
            "{err:?}"
        );

        // Payload streaming: exact length, chunk by chunk.
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        framing::write_payload(&mut a, &payload, &small).await.unwrap();
        assert_eq!(
            framing::read_payload(&mut b, payload.len() as u64, 0, &small).await.unwrap(),
            payload
        );
    })
    .await;
}

#[tokio::test]
async fn bad_frames_are_errors_without_large_allocations() {
    bounded(async {
        let l = Limits::default();
        // A frame claiming 4 GiB: refused from the header alone.
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&u32::MAX.to_le_bytes()).await.unwrap();
        let err = framing::read_message::<MasterRequest, _>(&mut b, &l).await.unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { len: 0xFFFF_FFFF, max } if max == 16 << 20),
            "{err:?}"
        );

        // A truncated frame: claims 100 bytes, delivers 10, ends.
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&100u32.to_le_bytes()).await.unwrap();
        a.write_all(&[0; 10]).await.unwrap();
        a.shutdown().await.unwrap();
        let err = framing::read_message::<MasterRequest, _>(&mut b, &l).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { .. }), "{err:?}");

        // A truncated header.
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(&[5, 0]).await.unwrap();
        a.shutdown().await.unwrap();
        let err = framing::read_message::<MasterRequest, _>(&mut b, &l).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { what: "frame header" }), "{err:?}");

        // Garbage bodies: unknown variant tags, trailing bytes, random noise.
        for body in [
            vec![0x00, 0x7F],
            vec![0x01, 0x00, 0x05, 1, 2, 3],
            b"\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        ] {
            let (mut a, mut b) = tokio::io::duplex(1024);
            a.write_all(&(body.len() as u32).to_le_bytes()).await.unwrap();
            a.write_all(&body).await.unwrap();
            let err = framing::read_message::<MasterRequest, _>(&mut b, &l).await.unwrap_err();
            assert!(matches!(err, FrameError::Decode { .. }), "{body:?}: {err:?}");
        }

        // A chunked message whose chunks overrun the declared length.
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let mut header = vec![0u8; 0];
        header.extend(framing::encode_frame(&(1u8, 3u64), 1024).unwrap()); // Envelope::Chunked { len: 3 }
        a.write_all(&header).await.unwrap();
        a.write_all(&framing::encode_frame(&Chunk { bytes: vec![1; 10] }, 1024).unwrap())
            .await
            .unwrap();
        let err = framing::read_message::<MasterRequest, _>(&mut b, &l).await.unwrap_err();
        assert!(matches!(err, FrameError::ChunkMismatch { expected: 3, got: 10 }), "{err:?}");

        // A sender refuses to write a frame above its limit.
        let err = framing::encode_frame(&Chunk { bytes: vec![0; 5000] }, 4096).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { max: 4096, .. }), "{err:?}");
    })
    .await;
}

#[test]
fn chunk_headers_match_postcard_encoding_of_chunk() {
    for n in [1usize, 5, 127, 128, 300, 16_383, 16_384, 65_536, 1 << 20, (1 << 21) + 3] {
        let bytes: Vec<u8> = (0..n).map(|i| (i * 31) as u8).collect();
        let expected = framing::encode_frame(&Chunk { bytes: bytes.clone() }, u32::MAX).unwrap();
        let (header, used) = framing::chunk_header(n);
        let mut got = header[..used].to_vec();
        got.extend_from_slice(&bytes);
        assert_eq!(got, expected, "chunk of {n} bytes");
        let limits = Limits { max_frame: 4 << 20, max_message: 8 << 20, chunk: 4 << 20 };
        let frame = framing::chunk_frame(n, &limits, |b| {
            b.copy_from_slice(&bytes);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(&frame[..], &expected[..], "chunk_frame of {n} bytes");
    }
}

#[tokio::test]
async fn payload_chunks_are_read_from_postcard_frames_and_checked() {
    bounded(async {
        let l = Limits { max_frame: 4096, max_message: 1 << 20, chunk: 1000 };
        // Chunks written by postcard (not by the code under test) are read back.
        let payload: Vec<u8> = (0..2500u32).map(|i| (i * 13) as u8).collect();
        let mut wire = Vec::new();
        for piece in payload.chunks(1000) {
            wire.extend(framing::encode_frame(&Chunk { bytes: piece.to_vec() }, 4096).unwrap());
        }
        let got = framing::read_payload(&mut wire.as_slice(), 2500, 2500, &l).await.unwrap();
        assert_eq!(got, payload);
        // Announced more than sent: the buffer grew only with what arrived.
        let err = framing::read_payload(&mut wire.as_slice(), 1 << 20, 0, &l).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { what: "payload" }), "{err:?}");

        // Hostile chunk frames: (frame bytes, what the reader must say).
        let cases: Vec<(Vec<u8>, &str)> = vec![
            // Frame length says 3, varint says 10 bytes follow.
            (vec![3, 0, 0, 0, 10, 1, 2], "decode"),
            // Frame length 6, varint 2: trailing bytes inside the frame.
            (vec![6, 0, 0, 0, 2, 1, 2, 3, 4, 5], "decode"),
            // A varint that never ends (6 continuation bytes).
            (vec![8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0], "decode"),
            // An empty frame body: no varint at all.
            (vec![0, 0, 0, 0], "decode"),
            // An empty chunk.
            (vec![1, 0, 0, 0, 0], "mismatch"),
            // More bytes than the payload still needs (needs 3).
            (framing::encode_frame(&Chunk { bytes: vec![1; 10] }, 4096).unwrap(), "mismatch"),
            // A frame above the limit.
            (vec![0, 0, 1, 0, 0x80, 0x80, 4], "too large"),
            // Header and varint fine, bytes cut short.
            (vec![4, 0, 0, 0, 3, 1], "truncated"),
            // A header cut short.
            (vec![11, 0], "truncated"),
        ];
        for (frame, want) in cases {
            let err = framing::read_payload(&mut frame.as_slice(), 3, 3, &l).await.unwrap_err();
            let ok = match want {
                "decode" => matches!(err, FrameError::Decode { what: "Chunk", .. }),
                "mismatch" => matches!(err, FrameError::ChunkMismatch { expected: 3, .. }),
                "too large" => matches!(err, FrameError::TooLarge { .. }),
                _ => matches!(err, FrameError::Truncated { .. }),
            };
            assert!(ok, "{frame:?}: expected {want}, got {err:?}");
        }
    })
    .await;
}
