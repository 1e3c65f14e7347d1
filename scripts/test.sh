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

# Each runner's output is kept to add up a summary at the end.
results=$(mktemp)
trap 'rm -f "$results"' EXIT

say "cargo test"
cargo test --quiet --no-fail-fast 2>&1 | tee -a "$results"

say "emulator against the official Databricks SDK and Airflow's provider"
# Airflow's provider costs about 40 s and 650 MB of venv on first use.
MORTAR_TEST_AIRFLOW=1 scripts/test-emulator-python.sh 2>&1 | tee -a "$results"

say "browser tests"
(cd end2end && npx playwright test) 2>&1 | tee -a "$results"

# One line that counts every test of every runner: cargo's "test result",
# pytest's and Playwright's summaries.
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
print(f"{passed} passed, {failed} failed")
PY
