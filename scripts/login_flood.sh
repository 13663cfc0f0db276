#!/usr/bin/env bash
# The login-flood measurement of issue 9: starts the real binary on loopback over a fresh
# data dir, floods POST /console/api/login with 64 concurrent bad logins (random user
# names) for 30 s, and prints the server's memory (VmHWM/VmRSS from /proc), /healthz
# p50/p99 and whether a legitimate login got in during the flood. Exit 1 if a goal
# (RSS < 200 MiB, healthz p99 < 100 ms, legit login ok) was missed.
#   SECONDS_=30 CONCURRENCY=64 PORT=18098 PROFILE=release|dev [BIN=...] bash scripts/login_flood.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${SECONDS_:-30}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18098}
PROFILE=${PROFILE:-release}
# BIN=path/to/videoapi uses an existing binary as it is (no build).
if [ -z "${BIN:-}" ]; then
  if [ "$PROFILE" = release ]; then
    cargo build --release -q
    BIN=target/release/videoapi
  else
    cargo build -q
    BIN=target/debug/videoapi
  fi
fi
DATA=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DATA"' EXIT
PASSWORD=flood-admin-password
VIDEOAPI_ADMIN_PASSWORD=$PASSWORD "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$DATA/server.log"; exit 2; }
echo "server pid $PID ($BIN), idle: $(grep -E '^VmRSS' /proc/$PID/status | tr -s ' \t' ' ')"
set +e
VIDEOAPI_FLOOD_PASSWORD=$PASSWORD "$BIN" login-flood --url "http://127.0.0.1:$PORT" \
  --concurrency "$CONCURRENCY" --seconds "$DURATION" --user admin --server-pid "$PID"
STATUS=$?
set -e
echo "server threads: $(grep -E '^Threads' /proc/$PID/status | awk '{print $2}')"
kill "$PID"; wait "$PID" 2>/dev/null || true
PID=
exit $STATUS
