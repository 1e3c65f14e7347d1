#!/usr/bin/env bash
# Drives the emulator with the official Databricks Python SDK (pytest on
# emulator/tests/python). Creates the venv at <repo>/.venv on first use and
# installs databricks-sdk and pytest only when they are missing. With
# MORTAR_TEST_AIRFLOW=1 it also installs apache-airflow-providers-databricks
# (about 650 MB, a minute or two) and runs the DatabricksHook tests; they
# are skipped otherwise.
#
# The emulator is `$MORTAR_BIN emulator` when MORTAR_BIN is set, else the
# emulator crate's example binary through cargo. Needs no standard input;
# exits non-zero when any test fails.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

packages=(databricks.sdk=databricks-sdk databricks.sql=databricks-sql-connector pytest=pytest)
[ "${MORTAR_TEST_AIRFLOW:-}" != 1 ] || packages+=(airflow.providers.databricks=apache-airflow-providers-databricks)
ensure_python_venv "${packages[@]}"
py="$venv/bin/python"

if [ -n "${MORTAR_BIN:-}" ]; then
  emulator=("$MORTAR_BIN" emulator)
else
  step "building the emulator example"
  cargo build -p emulator --example emulator
  emulator=(cargo run --quiet -p emulator --example emulator --)
fi

out=$(mktemp)
log=$(mktemp)
# The CA behind the emulator's HTTPS proxy, for the SQL connector's tests.
ca=$(mktemp)
client_id=pytest-sp
client_secret=pytest-secret-$RANDOM$RANDOM
token=dapi-pytest-$RANDOM$RANDOM
# Lakebase endpoints are a PostgreSQL server of the test's own
# (scripts/postgres.sh installs Debian's packages when missing).
pg_dir=$(mktemp -u /tmp/mortar-emulator-pg.XXXXXX)
pg_url=$(scripts/postgres.sh start "$pg_dir" | tail -n 1)
# 0.01: a cluster starts in tens of milliseconds, yet states stay visible.
"${emulator[@]}" --listen 127.0.0.1:0 --token "$token" \
  --oauth-client "$client_id:$client_secret" --time-scale 0.01 \
  --lakebase-postgres "$pg_url" --ca-cert "$ca" \
  >"$out" 2>"$log" </dev/null &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$out" "$log" "$ca"
  scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/^listening on //p' "$out" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    say "the emulator exited before listening:"
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  say "the emulator did not start within 60 s"
  cat "$log" >&2
  exit 1
fi
say "emulator at $url"

export EMULATOR_URL="$url" EMULATOR_TOKEN="$token" EMULATOR_LAKEBASE="$pg_url" EMULATOR_CA="$ca"
export EMULATOR_CLIENT_ID="$client_id" EMULATOR_CLIENT_SECRET="$client_secret"
# Keep the SDK away from any real profile or environment credentials.
unset DATABRICKS_HOST DATABRICKS_TOKEN DATABRICKS_CLIENT_ID DATABRICKS_CLIENT_SECRET DATABRICKS_CONFIG_PROFILE
export DATABRICKS_CONFIG_FILE=/dev/null

step "pytest on emulator/tests/python"
"$py" -m pytest -q -p no:cacheprovider emulator/tests/python "$@"
