#!/usr/bin/env bash
# Builds Mortar and starts it on its defaults: http://127.0.0.1:8080, data
# in ./mortar-data. Arguments go to `mortar serve`, e.g.
# `scripts/serve.sh --listen 0.0.0.0:8080`.
#
# By default it builds the dev profile that the tests share (dependencies
# optimised, Mortar's own crates not): the quickest first start, and
# scripts/test.sh then compiles only the test binaries. With --release first
# (`scripts/serve.sh --release [ARGS]`) it builds the optimised binary that
# embeds the web app and runs from any directory, as BENCHMARKS.md measures.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" = --release ]; then
  shift
  build_site
  step "building the mortar binary (release, embeds target/site)" "about 12 min"
  cargo build --release -p server --bin mortar
  step_done
  bin=$target_dir/release/mortar
else
  build_dev
  bin=$target_dir/debug/mortar
fi
step "starting mortar serve $*"
exec "$bin" serve "$@"
