#!/usr/bin/env bash
# Builds the release binary, starts it on loopback over a fresh data dir, and runs
# `videoapi bench` against it: creates and task reads at concurrency 32, memory, size.
set -euo pipefail
cd "$(dirname "$0")/.."
CREATES=${CREATES:-20000}
GETS=${GETS:-100000}
PORT=${PORT:-18099}
cargo build --release -q
BIN=target/release/videoapi
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
# First start creates the database and the admin; stop it, then use the offline CLI.
VIDEOAPI_ADMIN_PASSWORD=bench-admin-pw $BIN --data-dir "$DATA" serve --listen 127.0.0.1:$PORT >"$DATA/first.log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
kill "$PID"; wait "$PID" || true
$BIN --data-dir "$DATA" admin create-user bench --password bench-password --credits $((CREATES * 100 + 100)) >/dev/null
KEY=$($BIN --data-dir "$DATA" admin create-key bench --name bench)
VIDEOAPI_DEMO_DELAY_MS=${DEMO_DELAY_MS:-3000} $BIN --data-dir "$DATA" serve --listen 127.0.0.1:$PORT >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
sleep 1
echo "binary: $(stat -c %s $BIN) bytes ($(( $(stat -c %s $BIN) / 1024 / 1024 )) MiB)"
$BIN bench --url "http://127.0.0.1:$PORT" --key "$KEY" --concurrency 32 --creates "$CREATES" --gets "$GETS" --server-pid "$PID"
echo "ledger audit after the run:"
kill "$PID"; wait "$PID" || true
$BIN --data-dir "$DATA" check
