# Convenience recipes; the README's commands do not need `just`.

# Build the host and every guest component.
build:
    cargo build --release -p wisp
    cargo build --release --target wasm32-wasip2 -p wordcount -p join -p pagerank

# The whole test suite (what CI runs).
test:
    cargo test --release

# Word count on the bundled sample, top 10 words.
demo:
    cargo run --release -p wisp-tests --bin quickstart

# Benchmarks: word count vs native Rust on a 1 GiB corpus, per-task overhead.
bench size_mib="1024":
    cargo build --release -p wisp
    cargo run --release -p wisp-tests --bin wisp-bench -- --size-mib {{size_mib}}

# Build the Python word count into target/python/wordcount.wasm (installs componentize-py into target/python-venv).
python-wordcount:
    guest-sdk/python/build.sh
