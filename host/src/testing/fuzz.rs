//! Decoding of untrusted bytes as every message a peer can send: the body of the protocol fuzz target and of its corpus replay test.
//!
//! The first input byte picks the message type; the rest is the stream a
//! peer would have written. Every frame is read with the limits a server
//! uses, a decoded message is re-encoded and must decode to itself, and a
//! task description is converted as an executor would (plan shape checks).
//! Panics are the bugs the fuzzer looks for; decode errors are fine.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::net::endpoint::HANDSHAKE_MAX_FRAME;
use crate::net::framing::{self, Limits};
use crate::net::protocol::task::{WireTask, WireTaskReport};
use crate::net::protocol::{
    BlockReply, BlockRequest, Challenge, ExecutorReply, ExecutorRequest, HandshakeReply, Hello,
    JobEvent, MasterReply, MasterRequest, SubmitRequest,
};
use crate::task::{ComponentBytes, TaskReport};

/// Messages read from one input at most (a stream of many tiny frames stays fast).
const MAX_MESSAGES: usize = 64;

/// What decoding one input did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Messages that decoded (and round-tripped).
    pub messages: usize,
    /// Whether reading stopped on a decode or framing error.
    pub rejected: bool,
}

/// Decodes `data` (selector byte, then a stream) as the selected message type.
pub fn decode_untrusted(data: &[u8]) -> Decoded {
    let Some((&selector, stream)) = data.split_first() else { return Decoded::default() };
    // Smaller than the servers' defaults so that the fuzzer's inputs can reach the limits.
    let limits = Limits { max_frame: 1 << 20, max_message: 4 << 20, chunk: 64 << 10 };
    let handshake = Limits {
        max_frame: HANDSHAKE_MAX_FRAME,
        max_message: HANDSHAKE_MAX_FRAME as u64,
        chunk: HANDSHAKE_MAX_FRAME,
    };
    match selector % 12 {
        0 => messages::<Hello>(stream, &handshake, |_| {}),
        1 => messages::<Challenge>(stream, &handshake, |_| {}),
        2 => messages::<HandshakeReply>(stream, &handshake, |_| {}),
        3 => messages::<MasterRequest>(stream, &limits, |m| {
            if let MasterRequest::LaunchTask { task, .. } = m {
                convert_task(task.clone());
            }
        }),
        4 => messages::<ExecutorRequest>(stream, &limits, |_| {}),
        5 => messages::<MasterReply>(stream, &limits, |_| {}),
        6 => messages::<ExecutorReply>(stream, &limits, |_| {}),
        7 => messages::<SubmitRequest>(stream, &limits, |_| {}),
        8 => messages::<JobEvent>(stream, &limits, |_| {}),
        9 => messages::<BlockRequest>(stream, &limits, |_| {}),
        10 => messages::<BlockReply>(stream, &limits, |_| {}),
        _ => messages::<WireTaskReport>(stream, &limits, |r| {
            let _ = TaskReport::try_from(r.clone());
        }),
    }
}

/// The bytes `decode_untrusted` reads as this stream of messages (selector first), for seeding corpora.
pub fn encode_seed<T: Serialize>(selector: u8, messages: &[T], limits: &Limits) -> Vec<u8> {
    let mut out = vec![selector];
    for m in messages {
        ready(framing::write_message(&mut out, m, limits)).expect("a seed message encodes");
    }
    out
}

fn messages<T: Serialize + DeserializeOwned>(
    mut stream: &[u8],
    limits: &Limits,
    mut also: impl FnMut(&T),
) -> Decoded {
    let mut decoded = Decoded::default();
    for _ in 0..MAX_MESSAGES {
        match ready(framing::read_message::<T, _>(&mut stream, limits)) {
            Ok(Some(msg)) => {
                // Compared as bytes: a float field may be NaN, which no value equals.
                let mut once = Vec::new();
                ready(framing::write_message(&mut once, &msg, limits))
                    .expect("a decoded message re-encodes within the same limits");
                let back: T = ready(framing::read_message(&mut once.as_slice(), limits))
                    .expect("a re-encoded message decodes")
                    .expect("a re-encoded message is there");
                let mut twice = Vec::new();
                ready(framing::write_message(&mut twice, &back, limits))
                    .expect("a round-tripped message re-encodes");
                assert!(once == twice, "a message changed in a decode/encode round trip");
                also(&msg);
                decoded.messages += 1;
            }
            Ok(None) => break,
            Err(_) => {
                decoded.rejected = true;
                break;
            }
        }
    }
    decoded
}

/// Converts a task as an executor would, with one known component.
fn convert_task(task: WireTask) {
    let known = Arc::new(ComponentBytes { hash: "ab".repeat(32), bytes: Vec::new() });
    let components: HashMap<String, Arc<ComponentBytes>> =
        HashMap::from([(known.hash.clone(), known)]);
    let _ = task.into_task(&components);
}

/// Runs a future over in-memory buffers, which never waits.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("reads and writes of in-memory buffers never wait"),
    }
}
