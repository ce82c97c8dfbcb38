//! The protocol fuzz target's checked-in corpus (`host/fuzz/corpus/protocol`), replayed: no input panics, valid seeds decode, broken ones are rejected.

use std::path::{Path, PathBuf};

use super::framing::{sample_report, sample_task};
use crate::net::framing::Limits;
use crate::net::protocol::task::WireBlockId;
use crate::net::protocol::*;
use crate::testing::{Decoded, decode_untrusted, encode_seed};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join("protocol")
}

/// One valid stream per message type, in `decode_untrusted`'s selector order.
fn seeds() -> Vec<(String, Vec<u8>, usize)> {
    let small = Limits { max_frame: 1 << 20, max_message: 4 << 20, chunk: 64 << 10 };
    let hs = Limits { max_frame: 64 << 10, max_message: 64 << 10, chunk: 64 << 10 };
    let role = Role::Executor {
        host: "h1".into(),
        rack: Some("r1".into()),
        cores: 4,
        shuffle_port: 7000,
        shuffle_fingerprint: "ab".repeat(32),
        data_roots: vec!["/data".into()],
    };
    let upload = ComponentUpload { hash: "ab".repeat(32), bytes: vec![0, 97, 115, 109] };
    // A payload big enough to travel in chunks.
    let big = JobEvent::JobOutput { chunk: vec![7; 70 << 10] };
    vec![
        (
            "hello".into(),
            encode_seed(0, &[Hello { version: PROTOCOL_VERSION, role, proof: [3; 32] }], &hs),
            1,
        ),
        (
            "challenge".into(),
            encode_seed(1, &[Challenge { version: PROTOCOL_VERSION, nonce: [9; 32] }], &hs),
            1,
        ),
        (
            "handshake-reply".into(),
            encode_seed(
                2,
                &[
                    HandshakeReply::Welcome { executor_id: Some(4) },
                    HandshakeReply::Refused { reason: "no".into() },
                ],
                &hs,
            ),
            2,
        ),
        (
            "master-request".into(),
            encode_seed(
                3,
                &[
                    MasterRequest::LaunchTask {
                        app: 1,
                        task: sample_task(),
                        components: vec![upload],
                    },
                    MasterRequest::KillTask { app: 1, task: 2 },
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
                            fingerprint: "cd".repeat(32),
                        }],
                        removed: vec![5],
                    },
                ],
                &small,
            ),
            6,
        ),
        (
            "executor-request".into(),
            encode_seed(
                4,
                &[
                    ExecutorRequest::Heartbeat {
                        running: vec![RunningTask {
                            app: 1,
                            task: 2,
                            elapsed_ms: 30,
                            metrics: Default::default(),
                        }],
                        memory: WireMemory { pool: 1 << 30, operators: 5, guests: 7, storage: 11 },
                    },
                    ExecutorRequest::TaskStatus { app: 1, report: Box::new(sample_report()) },
                ],
                &small,
            ),
            2,
        ),
        (
            "master-reply".into(),
            encode_seed(5, &[MasterReply::Ack, MasterReply::Reregister], &small),
            2,
        ),
        (
            "executor-reply".into(),
            encode_seed(
                6,
                &[
                    ExecutorReply::Ack,
                    ExecutorReply::UnknownComponent { hash: "ef".repeat(32) },
                    ExecutorReply::Failed { message: "x".into() },
                ],
                &small,
            ),
            3,
        ),
        (
            "submit-request".into(),
            encode_seed(
                7,
                &[
                    SubmitRequest::SubmitJob {
                        name: "job.wasm".into(),
                        component: vec![0, 97, 115, 109, 13, 0, 1, 0],
                        args: vec!["in".into(), "out".into()],
                        conf: vec![("wisp.task.timeout".into(), "2s".into())],
                    },
                    SubmitRequest::CancelJob,
                ],
                &small,
            ),
            2,
        ),
        (
            "job-event".into(),
            encode_seed(
                8,
                &[
                    JobEvent::JobState { message: "waiting".into() },
                    big,
                    JobEvent::JobDone { result: Err("boom".into()) },
                ],
                &small,
            ),
            3,
        ),
        (
            "block-request".into(),
            encode_seed(
                9,
                &[BlockRequest::FetchBlocks { app: 1, shuffle: 2, reduce: 3, maps: vec![0, 1] }],
                &small,
            ),
            1,
        ),
        (
            "block-reply".into(),
            encode_seed(
                10,
                &[
                    BlockReply::Block { map: 0, len: 12 },
                    BlockReply::Missing { map: 1, message: "gone".into() },
                ],
                &small,
            ),
            2,
        ),
        ("task-report".into(), encode_seed(11, &[sample_report()], &small), 1),
    ]
}

/// Streams a server must refuse: a 4 GiB frame claim, a truncated frame, an undecodable body.
fn bad_seeds() -> Vec<(String, Vec<u8>)> {
    let mut huge = vec![3u8];
    huge.extend(u32::MAX.to_le_bytes());
    let mut truncated = vec![4u8];
    truncated.extend([100, 0, 0, 0, 1, 2, 3]);
    let mut garbage = vec![7u8];
    garbage.extend([3, 0, 0, 0, 0xff, 0xff, 0xff]);
    vec![
        ("bad-huge-frame".into(), huge),
        ("bad-truncated".into(), truncated),
        ("bad-garbage".into(), garbage),
    ]
}

#[test]
fn bad_seeds_are_rejected() {
    for (name, bytes) in bad_seeds() {
        assert_eq!(decode_untrusted(&bytes), Decoded { messages: 0, rejected: true }, "{name}");
    }
}

#[test]
fn every_seed_decodes_and_every_truncation_is_rejected_without_panic() {
    for (name, seed, count) in seeds() {
        assert_eq!(decode_untrusted(&seed), Decoded { messages: count, rejected: false }, "{name}");
        // Cut anywhere inside the last message: fewer messages, and the cut one is rejected.
        for cut in [seed.len() - 1, seed.len() - 2, 2] {
            let d = decode_untrusted(&seed[..cut]);
            assert!(d.messages < count && d.rejected, "{name} cut at {cut}: {d:?}");
        }
        // Every other selector reads the same bytes as another type: anything but a panic is fine.
        for selector in 0..12u8 {
            let mut other = seed.clone();
            other[0] = selector;
            decode_untrusted(&other);
        }
    }
}

#[test]
fn the_checked_in_corpus_replays_without_panic_and_covers_every_message_type() {
    let dir = corpus_dir();
    if std::env::var_os("WISP_WRITE_FUZZ_SEEDS").is_some() {
        // `just fuzz-seeds`: (re)writes the seeds; the fuzzer adds its own finds beside them.
        std::fs::create_dir_all(&dir).unwrap();
        for (name, seed, _) in seeds() {
            std::fs::write(dir.join(format!("seed-{name}")), seed).unwrap();
        }
        for (name, bytes) in bad_seeds() {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("the corpus directory").map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut selectors = [false; 12];
    let (mut messages, mut rejected) = (0, 0);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        if let Some(&s) = bytes.first() {
            selectors[(s % 12) as usize] = true;
        }
        let d = decode_untrusted(&bytes);
        messages += d.messages;
        rejected += d.rejected as usize;
    }
    assert!(files.len() >= 12, "only {} corpus files in {}", files.len(), dir.display());
    assert!(selectors.iter().all(|s| *s), "every message type has a corpus input: {selectors:?}");
    assert!(messages >= 25, "the corpus decodes to only {messages} messages");
    assert!(rejected >= 1, "the corpus holds no rejected input");
}
