#!/usr/bin/env bash
# Runs every test: the scripts' fresh-machine test, unit and integration tests
# (cargo), the emulator against the official Databricks Python SDK and
# Airflow's provider (pytest), and the browser tests (Playwright driving
# Debian's chromium). Installs what is missing first. Every runner runs even
# when an earlier one failed; the last line counts every test of every
# runner, and the exit status is 0 only when all passed.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

ensure_chromium
ensure_postgres
ensure_end2end_packages
ensure_python_venv databricks.sdk=databricks-sdk pytest=pytest airflow.providers.databricks=apache-airflow-providers-databricks kestrapy=kestrapy regex=regex kestra=kestra databricks_cli=databricks-cli
ensure_dbsqlcli
# One dev-profile build serves the Rust tests, the Python tests and the
# browser tests, so the workspace compiles once (and not again after
# scripts/serve.sh, which builds the same).
build_dev
export MORTAR_BIN=$target_dir/debug/mortar

# Each runner's output is kept to add up a summary at the end.
results=$(mktemp)
# The PostgreSQL server of the second pass, directly under /tmp: as root its
# owner is the `postgres` user, who must be able to reach it.
pg_dir=$(mktemp -u /tmp/mortar-test-pg.XXXXXX)
trap 'rm -f "$results"; scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT

# The store's, executor's, scheduler's and API's tests again, each on a
# database of its own on a PostgreSQL server started for them. The same
# packages as the first pass (`-p engine -p server` would resolve features
# apart and compile the workspace a third time, about 3 GB and 2 min more);
# the app's and emulator's tests, which use no database, run again in
# seconds.
on_postgres() {
  local url
  url=$(scripts/postgres.sh start "$pg_dir") || return 1
  local status=0
  MORTAR_TEST_POSTGRES=$url cargo test --no-fail-fast --lib --tests || status=$?
  scripts/postgres.sh stop "$pg_dir" || true
  return "$status"
}
failed=()

# run NAME COMMAND...: runs one test runner, its output shown and kept.
run() {
  local name=$1
  shift
  step "$name" "${RUN_HINT:-}"
  if ! "$@" > >(tee -a "$results") 2>&1; then
    failed+=("$name: $*")
  fi
  step_done
}

run "the scripts on a fresh machine" scripts/tests/fresh-machine.sh
RUN_HINT="about 4 min, compiling the test binaries" run "cargo test" cargo test --no-fail-fast
RUN_HINT="about 1 min" run "cargo test on PostgreSQL" on_postgres
# Airflow's provider costs about 40 s and 650 MB of venv on first use.
MORTAR_TEST_AIRFLOW=1 run "the emulator against the official Databricks SDK and Airflow's provider" scripts/test-emulator-python.sh
run "Kestra's Python client (kestrapy) against mortar serve" scripts/test-kestra-clients.sh
run "browser tests" bash -c 'cd end2end && npx playwright test'

# One line that counts every test of every runner: cargo's "test result",
# pytest's, Playwright's and the plain "N passed, N failed" of our own.
python3 - "$results" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
text = re.sub(r"\x1b\[[0-9;]*m", "", text)
passed = failed = 0
for p, f in re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", text):
    passed += int(p); failed += int(f)
for line in text.splitlines():
    line = line.strip()
    if re.fullmatch(r"(=+ )?\d+ (passed|failed|error).* in [\d.]+s( \(.*\))?( =+)?", line):  # pytest
        passed += sum(int(n) for n in re.findall(r"(\d+) passed", line))
        failed += sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", line))
    m = re.fullmatch(r"(\d+) (passed|failed|flaky)( \(.*\))?", line)  # Playwright
    if m:
        if m.group(2) == "passed": passed += int(m.group(1))
        else: failed += int(m.group(1))
    m = re.fullmatch(r"[\w-]+: (\d+) passed, (\d+) failed", line)  # ours
    if m:
        passed += int(m.group(1)); failed += int(m.group(2))
print(f"{passed} passed, {failed} failed")
PY

if [ "${#failed[@]}" -gt 0 ]; then
  for f in "${failed[@]}"; do
    printf '\033[1;31m==> failed: %s\033[0m\n' "$f" >&2
  done
  exit 1
fi
