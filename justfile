# Convenience recipes; the README's commands do not need `just`.

# Build the host and every guest component.
build:
    cargo build --release -p wisp-cli
    cargo build --release --target wasm32-wasip2 -p wordcount -p join -p pagerank -p tokenizer

# The whole test suite (what CI runs).
test:
    cargo test --release

# Word count on the bundled sample, top 10 words.
demo:
    cargo run --release -p wisp-tests --bin quickstart

# Benchmarks: word count vs native Rust on a 1 GiB corpus, per-task overhead.
bench size_mib="1024":
    cargo build --release -p wisp-cli
    cargo run --release -p wisp-tests --bin wisp-bench -- --size-mib {{size_mib}}

# Build the Python word count into target/python/wordcount.wasm (installs componentize-py into target/python-venv).
python-wordcount:
    guest-sdk/python/build.sh

# Build the Rust tokenizer (a functions component) and the mixed Python/Rust word count.
python-mixed:
    cargo build --release --target wasm32-wasip2 -p tokenizer
    guest-sdk/python/build.sh examples/python-mixed mixed_wordcount target/python/mixed_wordcount.wasm

# Build the JavaScript word count into target/js/wordcount.wasm (npm ci of the pinned componentize-js on first use).
js-wordcount:
    guest-sdk/js/build.sh

# Build the C word count into target/c/wordcount.wasm (installs zig from PyPI into target/c-venv, builds wisp-c-tool).
c-wordcount:
    guest-sdk/c/build.sh

# The cross-language encoding vectors (wit/encoding-vectors.jsonl) in every SDK.
vectors:
    cargo test --release -p wisp-guest --test encoding_vectors
    python3 guest-sdk/python/test_codec.py -v
    node --test guest-sdk/js/test/codec.test.mjs
    guest-sdk/c/test/codec_test.sh

# The tests of one guest language (python, js, c_guest).
test-lang lang:
    cargo test --release -p wisp-tests --test it {{lang}}::

# Fuzz the protocol decoder for SECONDS on stable Rust (installs cargo-fuzz into target/tools;
# new finds go to target/fuzz-corpus; copy the ones worth keeping into host/fuzz/corpus/protocol).
fuzz seconds="60":
    test -x target/tools/bin/cargo-fuzz || cargo install cargo-fuzz --locked --root target/tools
    mkdir -p target/fuzz-corpus
    cd host && RUSTC_BOOTSTRAP=1 ../target/tools/bin/cargo-fuzz run protocol --sanitizer none ../target/fuzz-corpus fuzz/corpus/protocol -- -max_total_time={{seconds}} -rss_limit_mb=2048

# Rewrite the protocol fuzz target's seed inputs (host/fuzz/corpus/protocol/seed-*).
fuzz-seeds:
    WISP_WRITE_FUZZ_SEEDS=1 cargo test --release -p wisp --lib fuzz_corpus
