//! Fuzz target: arbitrary bytes decoded as every message a peer can send (see `wisp::testing::decode_untrusted`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wisp::testing::decode_untrusted(data);
});
