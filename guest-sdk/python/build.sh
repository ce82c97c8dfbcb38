#!/usr/bin/env bash
# Builds a Python Wisp job into a component with componentize-py.
#
# Usage: guest-sdk/python/build.sh [APP_DIR MODULE OUTPUT]
#   default: examples/python-wordcount wordcount target/python/wordcount.wasm
#
# Creates the virtualenv target/python-venv (only when missing) and installs the
# pinned componentize-py into it (only when missing or of another version), then
# runs `componentize-py -d wit -w job componentize MODULE`. Rebuilds only when
# the SDK, the app directory or wit/ changed since OUTPUT was written, so after
# the first run it needs no network. Paths are relative to the repository root.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
app_dir="${1:-examples/python-wordcount}"
module="${2:-wordcount}"
output="${3:-target/python/wordcount.wasm}"
venv="target/python-venv"
cpy="$venv/bin/componentize-py"

mkdir -p target "$(dirname "$output")"
# Concurrent builds (parallel tests) share the venv: one at a time.
exec 9>target/python-build.lock
flock 9

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$cpy" --version 2>/dev/null | grep -qx "componentize-py $COMPONENTIZE_PY_VERSION"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

if [ -f "$output" ] && [ -z "$(find guest-sdk/python "$app_dir" wit -newer "$output" -type f \
        -not -path '*/__pycache__/*' -print -quit)" ]; then
    exit 0
fi
tmp="$output.tmp.$$"
"$cpy" -d wit -w job componentize "$module" -p guest-sdk/python -p "$app_dir" -o "$tmp" >/dev/null
mv "$tmp" "$output"
