#!/usr/bin/env bash
# Checks the C SDK's codec (guest-sdk/c/wisp_codec.c) against every vector of
# wit/encoding-vectors.jsonl: generates a C program from the vectors
# (gen_vectors.py), compiles it natively with the system C compiler and runs
# it. Prints one line per failure, then "N passed, M failed".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
out="target/c/codec-test"
mkdir -p "$out"
python3 guest-sdk/c/test/gen_vectors.py wit/encoding-vectors.jsonl "$out/vectors.c"
"${CC:-cc}" -std=c11 -O1 -Wall -Wextra -Werror -Wno-unused-variable -I guest-sdk/c \
    "$out/vectors.c" guest-sdk/c/wisp_codec.c -o "$out/vectors"
"$out/vectors"
