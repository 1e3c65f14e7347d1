#!/usr/bin/env bash
# Builds the browser bundle into target/site: the hydrate crate compiled to
# wasm32 and bound to JavaScript, the stylesheet and public/. The server
# embeds target/site in a release build and reads it from disk in a debug one.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

build_site
