#!/usr/bin/env bash
# Plays a fresh machine for the scripts: runs `scripts/serve.sh` and the
# install steps of `scripts/test.sh` on a copy of the scripts, with a PATH
# and a CARGO_HOME that have no wasm-bindgen, no wasm32 target, no chromium,
# no node and no Python venv, and with stubs standing in for cargo, rustc,
# rustup, apt-get, npm and python3 that record what they were asked and
# "install" stand-ins. It checks that each tool is asked for once, that the
# scripts carry on to the end, and that a failing step ends the script with
# one line naming the step and the command to run by hand.
#
#   scripts/tests/fresh-machine.sh [OLD]
#
# OLD is a lib.sh, or a folder of scripts, to test in place of today's (an
# old one, say: `mkdir /tmp/old && git archive 8fa4cbd scripts | tar -x -C
# /tmp/old`, then OLD=/tmp/old/scripts), to see this test fail.
# Needs no network and changes nothing outside a temporary folder.
set -uo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok - %s\n' "$1"; }
not_ok() {
  failed=$((failed + 1))
  printf 'not ok - %s\n' "$1"
  [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/    /'
}
expect() { # expect NAME CONDITION-COMMAND... : one check
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name" "${detail:-}"; fi
  detail=
}
detail=

# --- The machine -----------------------------------------------------------

# A copy of what the scripts read, so the real checkout stays as it is.
repo=$tmp/repo
mkdir -p "$repo/scripts/tests" "$repo/end2end" "$repo/style" "$repo/public"
cp "$repo_root"/scripts/*.sh "$repo/scripts/"
if [ -d "${1:-}" ]; then cp "$1"/*.sh "$repo/scripts/"; elif [ -n "${1:-}" ]; then cp "$1" "$repo/scripts/lib.sh"; fi
cp "$repo_root/Cargo.lock" "$repo/"
cp "$repo_root"/end2end/package.json "$repo_root"/end2end/package-lock.json "$repo/end2end/"
cp "$repo_root"/style/*.css "$repo/style/"
cp -R "$repo_root/public/." "$repo/public/"
want_bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$repo_root/Cargo.lock")

# The system's basic tools and nothing else: no wasm-bindgen, chromium,
# node, npm or python3, even where this machine has them.
sysbin=$tmp/sysbin
mkdir -p "$sysbin"
for tool in bash sh env cat cp mv mkdir rm rmdir ls grep sed awk cut sort uniq du head tail tr \
  dirname basename id mktemp date sleep touch chmod ln find wc seq uname readlink realpath xargs tee printf; do
  path=$(command -v "$tool" 2>/dev/null) && [ -x "$path" ] && ln -s "$path" "$sysbin/$tool"
done

stubs=$tmp/stubs        # what the machine has from the start
installed=$tmp/installed # what apt-get "installs"
state=$tmp/state         # the stubs' memory: calls, installed packages
mkdir -p "$stubs" "$installed" "$state"
calls=$state/calls

stub() { # stub NAME BODY: a recorded stand-in for a command
  printf '#!/bin/bash\nset -u\necho "%s $*" >>"%s"\n%s\n' "$1" "$calls" "$2" >"$3/$1"
  chmod +x "$3/$1"
}

# rustc knows the wasm32 library folder once rustup added it.
wasm_lib=$tmp/rustlib/wasm32-unknown-unknown/lib
stub rustc '
case "$*" in
  *"--print target-libdir --target wasm32-unknown-unknown"*) echo "'"$wasm_lib"'" ;;
  *--version*) echo "rustc 1.95.0" ;;
esac' "$stubs"
stub rustup '
case "$*" in
  "target add wasm32-unknown-unknown") mkdir -p "'"$wasm_lib"'" && touch "'"$wasm_lib"'/libcore-0000.rlib" ;;
  "target list --installed") echo x86_64-unknown-linux-gnu; [ -d "'"$wasm_lib"'" ] && echo wasm32-unknown-unknown ;;
  *) echo "rustup stub: unexpected: $*" >&2; exit 2 ;;
esac' "$stubs"

# cargo: `install` puts a stand-in tool in CARGO_HOME/bin; `build` writes
# stand-ins for what the real build writes. FAIL_BUILD=PACKAGE fails it.
stub cargo '
target=${CARGO_TARGET_DIR:-$PWD/target}
case "$1" in
  install)
    [ "$2" = wasm-bindgen-cli ] || exit 2
    mkdir -p "${CARGO_HOME}/bin"
    printf "#!/bin/bash\necho \"wasm-bindgen \$*\" >>%s\ncase \"\$1\" in --version) echo \"wasm-bindgen %s\" ;; *) while [ \$# -gt 0 ]; do [ \"\$1\" = --out-dir ] && mkdir -p \"\$2\" && touch \"\$2/mortar_bg.wasm\" \"\$2/mortar.js\"; shift; done ;; esac\n" "'"$calls"'" "$4" >"${CARGO_HOME}/bin/wasm-bindgen"
    chmod +x "${CARGO_HOME}/bin/wasm-bindgen" ;;
  build)
    packages=(); bins=(); profile=debug; prev=""
    for a in "$@"; do
      [ "$prev" = -p ] && packages+=("$a")
      [ "$prev" = --bin ] && bins+=("$a")
      [ "$prev" = --profile ] && profile=$a
      [ "$a" = --release ] && profile=release
      prev=$a
    done
    for package in "${packages[@]}"; do
      [ "${FAIL_BUILD:-}" != "$package" ] || { echo "error: could not compile \`$package\`" >&2; exit 101; }
    done
    for package in "${packages[@]}"; do
    # With --bin, cargo builds only the binaries named (a library is built
    # as a dependency but leaves no binary).
    wanted=$package; [ "$package" = server ] && wanted=mortar
    if [ "${#bins[@]}" -gt 0 ] && [ "$package" != frontend ] && ! printf "%s\n" "${bins[@]}" | grep -qx "$wanted"; then continue; fi
    case "$package" in
      frontend) mkdir -p "$target/wasm32-unknown-unknown/$profile" && touch "$target/wasm32-unknown-unknown/$profile/frontend.wasm" ;;
      site-bindgen) mkdir -p "$target/$profile" && printf "#!/bin/bash\necho \"site-bindgen \$*\" >>%s\nmkdir -p \"\$2\" && touch \"\$2/mortar_bg.wasm\" \"\$2/mortar.js\"\n" "'"$calls"'" >"$target/$profile/site-bindgen" && chmod +x "$target/$profile/site-bindgen" ;;
      server) mkdir -p "$target/$profile" && printf "#!/bin/bash\necho \"mortar-$profile \$*\" >>%s\necho \"listening on http://127.0.0.1:8080\"\n" "'"$calls"'" >"$target/$profile/mortar" && chmod +x "$target/$profile/mortar" ;;
    esac
    done ;;
esac' "$stubs"

# apt-get: `install` puts stand-ins for the packages' commands on PATH.
# FAIL_APT=PACKAGE fails its install.
stub apt-get '
[ "$1" = install ] || exit 0
for p in "$@"; do
  [ "${FAIL_APT:-}" != "$p" ] || { echo "E: Unable to locate package $p" >&2; exit 100; }
  case "$p" in
    chromium) printf "#!/bin/bash\necho Chromium 156\n" >"'"$installed"'/chromium" ;;
    nodejs) printf "#!/bin/bash\necho v20\n" >"'"$installed"'/node" ;;
    npm) cp "'"$tmp"'/npm-stub" "'"$installed"'/npm" ;;
    python3-venv) touch "'"$state"'/python3-venv" ;;
    postgresql) mkdir -p "'"$installed"'/pg/16/bin" && for c in initdb pg_ctl; do printf "#!/bin/bash\n" >"'"$installed"'/pg/16/bin/$c"; chmod +x "'"$installed"'/pg/16/bin/$c"; done ;;
  esac
  chmod +x "'"$installed"'"/* 2>/dev/null
done' "$stubs"
stub npm '
[ "$1" = ci ] && mkdir -p node_modules && touch node_modules/.package-lock.json' "$tmp"
mv "$tmp/npm" "$tmp/npm-stub"

# python3 as Debian ships it: no venv until python3-venv is installed. The
# venv's python knows the modules that pip "installed".
stub python3 '
case "$*" in
  "-c import ensurepip, venv") [ -e "'"$state"'/python3-venv" ] ;;
  "-m venv "*)
    [ -e "'"$state"'/python3-venv" ] || { echo "ensurepip is not available" >&2; exit 1; }
    mkdir -p "$3/bin"
    cat >"$3/bin/python" <<PY
#!/bin/bash
echo "venv-python \$*" >>"'"$calls"'"
case "\$1" in
  -c) grep -qx "\${2#import }" "'"$state"'/modules" 2>/dev/null ;;
  -m) [ "\$2" = pip ] || exit 0
      for p in "\$@"; do
        case "\$p" in
          databricks-sdk) echo databricks.sdk ;;
          pytest) echo pytest ;;
          apache-airflow-providers-databricks) echo airflow.providers.databricks ;;
          databricks-sql-cli) echo dbsqlcli ;;
        esac
      done >>"'"$state"'/modules" ;;
esac
PY
    chmod +x "$3/bin/python" ;;
  *) exit 0 ;;
esac' "$stubs"

fresh_env=(env -i "HOME=$tmp/home" "CARGO_HOME=$tmp/cargo-home" "PATH=$stubs:$installed:$sysbin" "TERM=dumb" "MORTAR_PG_ROOT=$installed/pg")
mkdir -p "$tmp/home" "$tmp/cargo-home"

count() { grep -c -x -- "$1" "$calls" 2>/dev/null || true; }
count_re() { grep -c -E -- "$1" "$calls" 2>/dev/null || true; }
once() { # once PATTERN: asked exactly once
  local n
  n=$(count_re "$1")
  detail="asked $n times for /$1/; calls:
$(cat "$calls" 2>/dev/null)"
  [ "$n" -eq 1 ]
}

# --- scripts/serve.sh, twice ---------------------------------------------

(cd "$repo" && "${fresh_env[@]}" scripts/serve.sh --listen 127.0.0.1:0) >"$tmp/serve1.out" 2>"$tmp/serve1.err"
status=$?
detail="exit $status; stderr:
$(tail -n 20 "$tmp/serve1.err")"
expect "serve.sh carries on to mortar serve on a fresh machine" test "$status" -eq 0
detail="stdout: $(cat "$tmp/serve1.out")"
expect "serve.sh ends by starting the dev-profile mortar serve with its arguments" grep -qx 'mortar-debug serve --listen 127.0.0.1:0' "$calls"
expect "the wasm32 target is added, once" once '^rustup target add wasm32-unknown-unknown$'
detail="$(cat "$tmp/serve1.err")"
expect "serve.sh says what it builds and how long it takes the first time" grep -q 'building the browser bundle (wasm32).*(first time: about [0-9]* min)' "$tmp/serve1.err"
if grep -q '^cargo install' "$calls"; then
  # A lib.sh that installs wasm-bindgen-cli must ask for Cargo.lock's version.
  expect "wasm-bindgen-cli is asked for once, at Cargo.lock's version $want_bindgen" once "^cargo install wasm-bindgen-cli --version $want_bindgen\$"
else
  support=$(awk '/^name = "wasm-bindgen-cli-support"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$repo_root/Cargo.lock")
  detail="wasm-bindgen $want_bindgen, wasm-bindgen-cli-support ${support:-absent}"
  expect "the bundle is bound by site-bindgen at Cargo.lock's wasm-bindgen version" test "$support" = "$want_bindgen"
  expect "the bundle is bound once per build" once '^site-bindgen .*/frontend\.wasm .*/target/site/pkg$'
fi
expect "the site has the bundle, the stylesheet and public/" test -e "$repo/target/site/pkg/mortar_bg.wasm" -a -s "$repo/target/site/pkg/mortar.css"

before=$(wc -l <"$calls")
(cd "$repo" && "${fresh_env[@]}" scripts/serve.sh) >"$tmp/serve2.out" 2>"$tmp/serve2.err"
status=$?
detail="exit $status; stderr:
$(tail -n 20 "$tmp/serve2.err")"
expect "serve.sh runs again" test "$status" -eq 0
detail="calls of the second run:
$(tail -n +"$((before + 1))" "$calls")"
expect "the second run installs nothing" test "$(tail -n +"$((before + 1))" "$calls" | grep -c -E '^(rustup|apt-get|cargo install|npm|python3)')" -eq 0

before=$(wc -l <"$calls")
(cd "$repo" && "${fresh_env[@]}" scripts/serve.sh --release --listen 127.0.0.1:0) >"$tmp/serve3.out" 2>"$tmp/serve3.err"
status=$?
detail="exit $status; stderr:
$(tail -n 20 "$tmp/serve3.err")"
expect "serve.sh --release builds the site first, then the release binary, and starts it" \
  test "$status" -eq 0 -a "$(tail -n +"$((before + 1))" "$calls" | grep -E '^(cargo build|site-bindgen|mortar)' | cut -d' ' -f1-4 | tr '\n' '|')" = "cargo build -p frontend|cargo build -p site-bindgen|site-bindgen $repo/target/wasm/wasm32-unknown-unknown/wasm-release/frontend.wasm $repo/target/site/pkg|cargo build --release -p|mortar-release serve --listen 127.0.0.1:0|"

# --- scripts/test.sh's install steps, twice --------------------------------

install_steps='source scripts/lib.sh
ensure_chromium
ensure_postgres
ensure_end2end_packages
ensure_python_venv databricks.sdk=databricks-sdk pytest=pytest airflow.providers.databricks=apache-airflow-providers-databricks
ensure_dbsqlcli
echo carried on'
for run in 1 2; do
  (cd "$repo" && "${fresh_env[@]}" bash -c "set -Eeuo pipefail; for r in 1 2; do ( $install_steps ); done") \
    >"$tmp/test$run.out" 2>"$tmp/test$run.err"
  status=$?
  detail="exit $status; stderr:
$(tail -n 20 "$tmp/test$run.err")"
  expect "test.sh's install steps carry on (run $run)" test "$status" -eq 0 -a "$(grep -c 'carried on' "$tmp/test$run.out")" -eq 2
done
expect "chromium is installed from Debian, once" once '^apt-get install -y -qq chromium$'
expect "PostgreSQL is installed from Debian, once" once '^apt-get install -y -qq postgresql$'
expect "node and npm are installed from Debian, once" once '^apt-get install -y -qq nodejs npm$'
expect "the package lists are fetched once per script run that installs" test "$(count 'apt-get update -qq')" -le 3
expect "the browser tests' npm packages are installed once" once '^npm ci '
expect "python3-venv is installed where python3 has no venv, once" once '^apt-get install -y -qq python3-venv$'
expect "the venv is created once" once '^python3 -m venv .*/\.venv$'
expect "pip installs the three packages together, once" once '^venv-python -m pip install .*databricks-sdk pytest apache-airflow-providers-databricks$'
expect "the Databricks SQL CLI gets a venv of its own, once" once '^python3 -m venv .*/\.venv-dbsqlcli$'
expect "its dependencies install at versions with wheels, once" once '^venv-python -m pip install .*databricks-sql-connector==2\.5\.2 numpy<2 '
expect "dbsqlcli installs without its pins, once" once '^venv-python -m pip install .*--no-deps databricks-sql-cli$'

# --- A failing step: one line naming it and the command --------------------

rm -rf "$tmp/installed"/* "$state/python3-venv"
(cd "$repo" && "${fresh_env[@]}" FAIL_APT=chromium bash -c 'set -Eeuo pipefail; source scripts/lib.sh; ensure_chromium; echo carried on') \
  >"$tmp/fail1.out" 2>"$tmp/fail1.err"
status=$?
detail="exit $status; stderr:
$(cat "$tmp/fail1.err")"
expect "a failed install ends the script" test "$status" -ne 0 -a ! -s "$tmp/fail1.out"
expect "it says which step failed and the command to run by hand, in one line" \
  test "$(grep -c 'failed (exit 100) while installing Debian.s chromium.*; to retry by hand: .*apt-get install -y -qq chromium' "$tmp/fail1.err")" -eq 1 -a "$(grep -c 'failed (exit' "$tmp/fail1.err")" -eq 1

(cd "$repo" && "${fresh_env[@]}" FAIL_BUILD=frontend scripts/serve.sh) >"$tmp/fail2.out" 2>"$tmp/fail2.err"
status=$?
detail="exit $status; stderr:
$(cat "$tmp/fail2.err")"
expect "a failed build ends serve.sh with one line naming the build and the cargo command" \
  test "$status" -ne 0 -a "$(grep -c 'failed (exit 101) while building the browser bundle (wasm32); to retry by hand: .*cargo build -p frontend' "$tmp/fail2.err")" -eq 1 -a "$(grep -c 'failed (exit' "$tmp/fail2.err")" -eq 1

echo "fresh-machine: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
