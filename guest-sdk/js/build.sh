#!/usr/bin/env bash
# Builds a JavaScript Wisp job into a component with componentize-js.
#
# Usage: guest-sdk/js/build.sh [MODULE OUTPUT]
#   default: examples/js-wordcount/wordcount.js target/js/wordcount.wasm
#
# Installs the pinned npm packages of guest-sdk/js/package-lock.json into
# guest-sdk/js/node_modules with `npm ci` (only when missing or when the lock
# changed), then runs componentize-js on MODULE against wit/ (world `job`,
# without the http features the host does not provide). Rebuilds only when
# the SDK, MODULE's directory or wit/ changed since OUTPUT was written, so
# after the first run it needs no network. Paths are relative to the
# repository root, which is also the root the module's imports resolve in.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
module="${1:-examples/js-wordcount/wordcount.js}"
output="${2:-target/js/wordcount.wasm}"
sdk="guest-sdk/js"
cli="$sdk/node_modules/@bytecodealliance/componentize-js/src/cli.js"
stamp="$sdk/node_modules/.wisp-lock"

[ -f "$module" ] || { echo "build.sh: no such module: $module" >&2; exit 1; }
mkdir -p target "$(dirname "$output")"
# Concurrent builds (parallel tests) share node_modules: one at a time.
exec 9>target/js-build.lock
flock 9

if [ ! -f "$cli" ] || ! cmp -s "$sdk/package-lock.json" "$stamp"; then
    (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$sdk/package-lock.json" "$stamp"
fi

if [ -f "$output" ] && [ -z "$(find "$sdk/src" "$sdk/package-lock.json" "$(dirname "$module")" wit -newer "$output" -type f -print -quit)" ]; then
    exit 0
fi
tmp="$output.tmp.$$"
trap 'rm -f "$tmp"' EXIT
node "$cli" "$module" --wit wit --world-name job --disable http fetch-event --out "$tmp" >/dev/null
mv "$tmp" "$output"
