#!/usr/bin/env bash
# Builds the browser bundle into target/site: the hydrate crate compiled to
# wasm32 and bound with wasm-bindgen, the stylesheet and public/. The server
# embeds target/site in a release build and reads it from disk in a debug one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_wasm_target
ensure_wasm_bindgen

target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
site=$repo_root/target/site

say "building the browser bundle (wasm32)"
cargo build --quiet -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release

rm -rf "$site"
mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$site/pkg" --out-name mortar \
  "$target_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm"
# One stylesheet: main.css first, then each part's own file.
cat style/main.css $(ls style/*.css | grep -v '/main.css$' | sort) >"$site/pkg/mortar.css"
cp -R public/. "$site/"
say "site ready: $(du -sh "$site/pkg/mortar_bg.wasm" | cut -f1) of wasm in target/site"
