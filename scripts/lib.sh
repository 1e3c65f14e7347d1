# Shared by the scripts in this folder: install what the build and the tests
# need, on first use only, and say what is happening. Sourced, not run.
#
# Every `ensure_*` step probes without failing (a missing tool is an answer,
# not an error) and installs what is missing. Any command that fails ends the
# script with one line that names the step and the command to run by hand.

set -Eeuo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# `cargo install` and rustup put tools here; a fresh CARGO_HOME may not be
# on PATH yet.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# Where the browser bundle is assembled; the server embeds it (release) or
# reads it (debug) from here.
site_dir=$repo_root/target/site
target_dir=${CARGO_TARGET_DIR:-$repo_root/target}

step_name="starting"
step_started=$SECONDS

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Names what the script does now, for the progress and for the error line.
# The second argument is how long it takes the first time, measured on
# 2 cores (later runs reuse what it built).
step() {
  step_name=$1
  step_started=$SECONDS
  if [ -n "${2:-}" ]; then say "$1 (first time: $2)"; else say "$1"; fi
}

# How long the current step took, once it is done.
step_done() {
  local took=$((SECONDS - step_started))
  [ "$took" -lt 5 ] || say "$step_name: done in $((took / 60)) min $((took % 60)) s"
}

on_error() {
  local status=$? command=$BASH_COMMAND
  # Only the shell that runs the script reports, not its subshells. A
  # script of ours run from this one has reported its own failure already.
  [ "$BASH_SUBSHELL" -eq 0 ] || return 0
  case $command in scripts/*.sh* | *" scripts/"*.sh*) return 0 ;; esac
  report_failure "$status" "$(expand_vars "$command" "$@")"
}

# The one line a failure prints.
report_failure() {
  printf '\033[1;31m==> failed (exit %s) while %s; to retry by hand: %s\033[0m\n' "$1" "$step_name" "$2" >&2
}

# The failed command as it ran: `$name`, `${name}` and `${name[@]}` replaced
# by their values (by lookup, never by evaluating the text), so the line can
# be pasted into a shell.
expand_vars() {
  local text=$1 out="" name args=""
  shift
  [ "$#" -eq 0 ] || args=$(printf '%q ' "$@")
  text=${text//\"\$@\"/${args% }}
  # A quoted array, "${name[@]}": its words, each quoted for the shell.
  while [[ $text =~ ^(.*)\"\$\{([A-Za-z_][A-Za-z0-9_]*)\[@\]\}\"(.*)$ ]]; do
    local -n expand_vars_words=${BASH_REMATCH[2]}
    text=${BASH_REMATCH[1]}$(printf '%q ' "${expand_vars_words[@]}")
    text=${text% }${BASH_REMATCH[3]}
    unset -n expand_vars_words
  done
  while [[ $text =~ ^([^\$]*)\$\{?([A-Za-z_][A-Za-z0-9_]*)(\[@\])?\}?(.*)$ ]]; do
    out+=${BASH_REMATCH[1]}
    name=${BASH_REMATCH[2]}
    text=${BASH_REMATCH[4]}
    if [ -n "${BASH_REMATCH[3]}" ]; then
      local -n expand_vars_array=$name
      out+="${expand_vars_array[*]}"
      unset -n expand_vars_array
    else
      out+=${!name-}
    fi
  done
  printf '%s' "$out$text"
}
# The trap passes on the positional parameters of the function that failed,
# for its "$@".
trap 'on_error "$@"' ERR

# apt-get as root, or through sudo. The package lists are fetched once per
# script run.
apt_updated=
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

have() { command -v "$1" >/dev/null 2>&1; }

# The wasm32 standard library: present when rustc knows where it is and the
# folder exists (also true for toolchains not managed by rustup).
ensure_wasm_target() {
  local libdir
  libdir=$(rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null || true)
  if [ -n "$libdir" ] && [ -d "$libdir" ] && ls "$libdir" 2>/dev/null | grep -q '^libcore-'; then
    return 0
  fi
  if ! have rustup; then
    step "checking the wasm32 target"
    say "rustc has no wasm32-unknown-unknown standard library and rustup is not installed: install rustup (https://rustup.rs), then run: rustup target add wasm32-unknown-unknown"
    return 1
  fi
  step "adding the wasm32-unknown-unknown target (rustup)" "about 10 s"
  rustup target add wasm32-unknown-unknown
}

ensure_node() {
  if ! have npm || ! have node; then
    step "installing Node.js and npm (Debian) for the browser tests" "about 1 min"
    apt_install nodejs npm
  fi
}

ensure_chromium() {
  if ! have chromium; then
    step "installing Debian's chromium for the browser tests" "about 1 min"
    apt_install chromium
  fi
}

# PostgreSQL's server programs (initdb, pg_ctl), from Debian's `postgresql`
# package, which keeps them off PATH in /usr/lib/postgresql/VERSION/bin.
# Sets pg_bin to that folder (the newest version's).
pg_root=${MORTAR_PG_ROOT:-/usr/lib/postgresql}
pg_bin=
find_postgres() {
  pg_bin=
  local dir
  for dir in $(ls -d "$pg_root"/*/bin 2>/dev/null | sort -V); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && pg_bin=$dir
  done
  [ -n "$pg_bin" ]
}
ensure_postgres() {
  if ! find_postgres; then
    step "installing Debian's PostgreSQL for the tests on PostgreSQL" "about 30 s"
    apt_install postgresql
    find_postgres || { echo "no initdb under $pg_root/*/bin after installing postgresql" >&2; return 1; }
  fi
}

ensure_end2end_packages() {
  ensure_node
  if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    step "installing the browser tests' npm packages (Playwright)" "about 20 s"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The Python venv of the SDK tests, at <repo>/.venv. Debian's python3 needs
# its venv package for `python3 -m venv`.
venv=$repo_root/.venv
ensure_python_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    if ! have python3; then
      step "installing Python 3 (Debian) for the SDK tests" "about 30 s"
      apt_install python3 python3-venv
    fi
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
      step "installing python3-venv (Debian) for the SDK tests" "about 20 s"
      apt_install python3-venv
    fi
    step "creating the Python venv $venv"
    python3 -m venv "$venv"
  fi
  # Each package is checked by importing it; only what is missing installs.
  local wanted=() module package
  for pair in "$@"; do
    module=${pair%%=*} package=${pair#*=}
    "$venv/bin/python" -c "import $module" >/dev/null 2>&1 || wanted+=("$package")
  done
  if [ "${#wanted[@]}" -gt 0 ]; then
    step "installing ${wanted[*]} into $venv (pip)" "under a minute"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${wanted[@]}" </dev/null
  fi
}

# The Databricks SQL CLI (dbsqlcli), for the DatabricksSQLCLI task's tests,
# in a venv of its own: its last release (0.3.3) pins numpy 1.23 and
# pandas 1.3, which have no wheels for this Python, and its connector
# (2.5.2) wants the older numpy, pandas and pyarrow that the SDK venv's
# Airflow would not take. So its dependencies install first, at versions
# that have wheels and work together, then dbsqlcli without its pins.
# Needs ensure_python_venv first (python3-venv).
dbsqlcli_venv=$repo_root/.venv-dbsqlcli
ensure_dbsqlcli() {
  [ -x "$dbsqlcli_venv/bin/python" ] || python3 -m venv "$dbsqlcli_venv"
  if ! "$dbsqlcli_venv/bin/python" -c "import dbsqlcli" >/dev/null 2>&1; then
    step "installing the Databricks SQL CLI into $dbsqlcli_venv (pip)" "about a minute"
    "$dbsqlcli_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "databricks-sql-connector==2.5.2" "numpy<2" "pandas<2" "pyarrow<18" "sqlparse>=0.4.2,<0.5" \
      "cli-helpers>=2.2.1,<3" "click>=8.1.2,<9" "configobj>=5.0.6,<6" "Pygments>=2.11.2,<3" prompt_toolkit </dev/null
    "$dbsqlcli_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps databricks-sql-cli </dev/null
  fi
}

# The browser bundle: the frontend crate compiled to wasm32. It has its own
# target folder so that it can build while the server builds (cargo locks a
# target folder for the whole of a build).
wasm_dir=$target_dir/wasm
# MORTAR_CARGO_FLAGS go to every cargo build, e.g. `--timings` for a report
# of where a build spends its time (target/cargo-timings, and
# target/wasm/cargo-timings for the bundle).
read -r -a cargo_flags <<<"${MORTAR_CARGO_FLAGS:-}"
wasm_build=(cargo build "${cargo_flags[@]}" -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release)

# Binds the bundle with scripts/site-bindgen (wasm-bindgen's library, built
# in the dev profile) and assembles target/site: the bundle, one stylesheet
# and public/.
assemble_site() {
  step "binding the bundle and assembling $site_dir"
  rm -rf "$site_dir"
  mkdir -p "$site_dir/pkg"
  "$target_dir/debug/site-bindgen" "$wasm_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm" "$site_dir/pkg"
  # One stylesheet: main.css first, then each part's own file.
  local parts
  parts=$(ls style/*.css | grep -v '/main.css$' | sort)
  # shellcheck disable=SC2086
  cat style/main.css $parts >"$site_dir/pkg/mortar.css"
  cp -R public/. "$site_dir/"
  say "site ready: $(du -sh "$site_dir/pkg/mortar_bg.wasm" | cut -f1) of wasm in $site_dir"
}

# Builds the browser bundle into target/site, on its own (build-site.sh and
# a release build, which embeds the site and so needs it first).
build_site() {
  ensure_wasm_target
  step "building the browser bundle (wasm32)" "about 4 min"
  CARGO_TARGET_DIR=$wasm_dir "${wasm_build[@]}"
  step_done
  step "building site-bindgen (wasm-bindgen's library)" "about 1 min"
  cargo build "${cargo_flags[@]}" -p site-bindgen
  step_done
  assemble_site
}

# Builds what the run command and the tests share: the `mortar` binary in
# the dev profile (dependencies optimised, see Cargo.toml) and the browser
# bundle, the two at once, since each alone leaves a core idle for long
# stretches (its largest crate compiles on one core). A debug `mortar`
# reads target/site from disk, so it does not wait for the bundle.
build_dev() {
  ensure_wasm_target
  local log=$target_dir/wasm-build.log
  mkdir -p "$target_dir"
  step "building the browser bundle (wasm32) in the background, log in $log" "about 6 min"
  CARGO_TARGET_DIR=$wasm_dir "${wasm_build[@]}" >"$log" 2>&1 &
  local wasm_pid=$!
  step "building the mortar binary and site-bindgen (dev profile)" "about 9 min, with the bundle beside it"
  local status=0
  cargo build "${cargo_flags[@]}" -p server -p site-bindgen --bin mortar --bin site-bindgen || status=$?
  if [ "$status" -ne 0 ]; then
    kill "$wasm_pid" 2>/dev/null || true
    wait "$wasm_pid" 2>/dev/null || true
    report_failure "$status" "cargo build -p server -p site-bindgen --bin mortar --bin site-bindgen"
    exit "$status"
  fi
  step_done
  step "waiting for the browser bundle"
  wait "$wasm_pid" || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    step_name="building the browser bundle (wasm32)"
    report_failure "$status" "CARGO_TARGET_DIR=$wasm_dir ${wasm_build[*]}"
    exit "$status"
  fi
  say "browser bundle: $(grep -o 'Finished.*' "$log" | tail -n 1)"
  assemble_site
}
