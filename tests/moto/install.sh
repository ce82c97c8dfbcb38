#!/usr/bin/env bash
# Installs the S3-compatible test server (moto in server mode, from PyPI) into target/moto-venv.
#
# Usage: tests/moto/install.sh      (prints the path of the `moto_server` executable)
#
# Creates the virtualenv only when missing and installs the pinned moto[server]
# only when missing or of another version, so after the first run it needs no
# network. The integration tests (tests/it/store.rs) and the benchmark's
# `store` section call it once per process. Paths are relative to the repository root.
set -euo pipefail

MOTO_VERSION=5.2.6

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
venv="target/moto-venv"

mkdir -p target
# Concurrent test processes share the venv: one installer at a time.
exec 9>target/moto-install.lock
flock 9

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null \
    || [ ! -x "$venv/bin/moto_server" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
echo "$root/$venv/bin/moto_server"
