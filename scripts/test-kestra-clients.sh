#!/usr/bin/env bash
# Drives `mortar serve` through Kestra's published Python clients, kestrapy
# and the `kestra` package's Flow, from PyPI, unchanged (pytest on
# server/tests/python). Installs them into the test venv on first use. The server is $MORTAR_BIN (scripts/test.sh sets
# it), else the dev build.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

# kestrapy imports `regex` without declaring it (kestrapy 2.0.3).
ensure_python_venv kestrapy=kestrapy regex=regex kestra=kestra pytest=pytest
export MORTAR_BIN=${MORTAR_BIN:-$target_dir/debug/mortar}
cd "$repo_root"
step "pytest on server/tests/python against $MORTAR_BIN serve"
"$venv/bin/python" -m pytest -q server/tests/python </dev/null
