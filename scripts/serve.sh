#!/usr/bin/env bash
# Builds Mortar (browser bundle, then the release binary that embeds it) and
# starts it on its defaults: http://127.0.0.1:8080, data in ./mortar-data.
# Arguments go to `mortar serve`, e.g. `scripts/serve.sh --listen 0.0.0.0:8080`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

scripts/build-site.sh
say "building the mortar binary (release)"
cargo build --quiet --release -p server --bin mortar
exec "${CARGO_TARGET_DIR:-$repo_root/target}/release/mortar" serve "$@"
