//! Fuzz target: arbitrary bytes decoded as every message a peer can send (see `wisp::net::fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wisp::net::fuzz::decode_untrusted(data);
});
