#!/usr/bin/env bash
# Runs every test: unit and integration tests (cargo), the emulator against
# the official Databricks Python SDK (pytest), and the browser tests
# (Playwright driving Debian's chromium). Installs what is missing first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_chromium
ensure_end2end_packages
scripts/build-site.sh

# One dev-profile build serves the Rust tests, the Python tests and the
# browser tests, so the workspace compiles once.
say "building the mortar binary (dev profile)"
cargo build --quiet -p server --bin mortar
export MORTAR_BIN="${CARGO_TARGET_DIR:-$repo_root/target}/debug/mortar"

say "cargo test"
cargo test --quiet --no-fail-fast

if [ -x scripts/test-emulator-python.sh ]; then
  say "emulator against the official Databricks SDK"
  scripts/test-emulator-python.sh
fi

say "browser tests"
(cd end2end && npx playwright test)
