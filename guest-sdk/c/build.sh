#!/usr/bin/env bash
# Builds a C Wisp job (the `job` world of wit/) into a component.
#
# Usage: guest-sdk/c/build.sh [APP_DIR OUTPUT]
#   default: examples/c-wordcount target/c/wordcount.wasm
#
# Compiles every *.c file of APP_DIR with the SDK (guest-sdk/c/wisp.c,
# wisp_codec.c, wisp_alloc.c, wisp_shared.c, wisp_more.c, wisp_builtins.c) and the C bindings
# wit-bindgen generates from wit/, using
# `zig cc -target wasm32-wasi` (clang with a bundled wasi-libc) from the
# pinned `ziglang` package of PyPI, installed into the virtualenv
# target/c-venv (only when missing or of another version). The bindings and
# the component are made by guest-sdk/c/tool (`wisp-c-tool`: wit-bindgen's C
# generator, wit-component and the WASI preview1 reactor adapter), built with
# cargo. Rebuilds only when the SDK, APP_DIR or wit/ changed since OUTPUT
# was written, so after the first run it needs no network. Paths are
# relative to the repository root.
set -euo pipefail

ZIGLANG_VERSION=0.17.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
app_dir="${1:-examples/c-wordcount}"
output="${2:-target/c/wordcount.wasm}"
venv="target/c-venv"
work="target/c"
cargo_target="${CARGO_TARGET_DIR:-target}"
tool="$cargo_target/release/wisp-c-tool"

mkdir -p "$work" "$(dirname "$output")"
# Concurrent builds (parallel tests) share the venv and the generated bindings: one at a time.
exec 9>target/c-build.lock
flock 9

if [ -f "$output" ] && [ -x "$tool" ] && [ -z "$(find guest-sdk/c "$app_dir" wit -newer "$output" -type f \
        -not -path '*/test/*' -print -quit)" ]; then
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ "$("$venv/bin/python" -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi

cargo build --release --locked --quiet -p wisp-c-tool

gen="$work/gen"
if [ ! -f "$gen/job.h" ] || [ -n "$(find wit "$tool" -newer "$gen/job.h" -print -quit)" ]; then
    rm -rf "$gen.tmp"
    "$tool" bindgen wit job "$gen.tmp"
    rm -rf "$gen"
    mv "$gen.tmp" "$gen"
fi

# zig keeps its caches (the compiled wasi-libc) under target/.
export ZIG_GLOBAL_CACHE_DIR="$root/$work/zig-cache" ZIG_LOCAL_CACHE_DIR="$root/$work/zig-cache"
core="$output.core.$$"
tmp="$output.tmp.$$"
objs="$work/more.$$"
trap 'rm -rf "$core" "$tmp" "$objs"' EXIT
cflags=(-target wasm32-wasi -mexec-model=reactor -O2 -flto -g0 -std=c11 -Wall -Wextra -Wno-unused-parameter
    -I guest-sdk/c -I "$gen")
# wisp_shared.c, wisp_more.c (the 0.2.0 surface) and wisp_builtins.c go into an archive: the linker pulls a member
# only when the job calls into it, so a job that does not keeps its size (wisp.c refers to
# wisp_more.c's function table weakly).
mkdir -p "$objs"
for f in wisp_shared wisp_more wisp_builtins; do
    "$venv/bin/python" -m ziglang cc "${cflags[@]}" -c "guest-sdk/c/$f.c" -o "$objs/$f.o"
done
"$venv/bin/python" -m ziglang ar rcs "$objs/libwisp_more.a" "$objs/wisp_shared.o" "$objs/wisp_more.o" \
    "$objs/wisp_builtins.o"
# A 1 MiB stack (as Rust's wasm targets; zig defaults to 16 MiB) and 4 MiB of initial memory, as the
# Rust guests get: no memory.grow in the common case.
"$venv/bin/python" -m ziglang cc "${cflags[@]}" -s \
    -Wl,-z,stack-size=1048576 -Wl,--initial-memory=4194304 \
    guest-sdk/c/wisp.c guest-sdk/c/wisp_codec.c guest-sdk/c/wisp_alloc.c "$gen/job.c" "$app_dir"/*.c \
    "$objs/libwisp_more.a" -o "$core"
"$tool" component wit job "$core" "$tmp"
mv "$tmp" "$output"
