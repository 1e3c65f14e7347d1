#!/usr/bin/env bash
# Drives `mortar serve` through Kestra's published Python client, kestrapy
# from PyPI, unchanged (pytest on server/tests/python). Installs it into the
# test venv on first use. The server is $MORTAR_BIN (scripts/test.sh sets
# it), else the dev build.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

# kestrapy imports `regex` without declaring it (kestrapy 2.0.3).
ensure_python_venv kestrapy=kestrapy regex=regex pytest=pytest
export MORTAR_BIN=${MORTAR_BIN:-$target_dir/debug/mortar}
cd "$repo_root"
step "pytest on server/tests/python against $MORTAR_BIN serve"
"$venv/bin/python" -m pytest -q server/tests/python </dev/null
