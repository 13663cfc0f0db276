#!/usr/bin/env bash
# How long GET /console/api/admin/overview takes after N tasks created today (plus 20
# failures), once the engine has drained: builds the debug binary, serves it on loopback
# over a fresh data dir, fills it with `videoapi bench`, times 20 overview calls.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --bin videoapi
N=${N:-5000}
PORT=${PORT:-18177}
BIN=target/debug/videoapi
DATA=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
VIDEOAPI_ADMIN_PASSWORD=measure-admin-pw $BIN --data-dir "$DATA" serve --listen 127.0.0.1:$PORT >"$DATA/first.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
kill "$PID"; wait "$PID" || true
$BIN --data-dir "$DATA" admin create-user bench --password bench-password --credits $((N * 200 + 100)) >/dev/null
KEY=$($BIN --data-dir "$DATA" admin create-key bench --name bench)
VIDEOAPI_LOG=warn VIDEOAPI_DEMO_DELAY_MS=5 $BIN --data-dir "$DATA" serve --listen 127.0.0.1:$PORT >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
$BIN bench --url "http://127.0.0.1:$PORT" --key "$KEY" --concurrency 16 --creates "$N" --gets 1 | head -3
# Some failures among them, spread out.
for i in $(seq 20); do curl -s -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"model":"video-2.0-mini-text-to-video","prompt":"demo:fail x"}' "http://127.0.0.1:$PORT/v1/video/generations"; done
J=$DATA/cookies
curl -s -c "$J" -H 'X-Requested-With: videoapi' -H 'Content-Type: application/json' \
  -d '{"username":"admin","password":"measure-admin-pw"}' "http://127.0.0.1:$PORT/console/api/login" >/dev/null
# Let the engine drain, so the timing is not the engine's load (bounded: 10 minutes).
for _ in $(seq 600); do
  O=$(curl -s -b "$J" "http://127.0.0.1:$PORT/console/api/admin/overview")
  echo "$O" | grep -q '"tasks_pending":0,"tasks_processing":0' && break
  sleep 1
done
echo "$O" | head -c 600; echo
for i in $(seq 20); do curl -s -o /dev/null -b "$J" -w '%{time_total}\n' "http://127.0.0.1:$PORT/console/api/admin/overview"; done | sort -n | awk '{a[NR]=$1} END {printf "overview over %d calls: min %.1f ms, median %.1f ms, max %.1f ms\n", NR, a[1]*1000, a[int(NR/2)+1]*1000, a[NR]*1000}'
for i in $(seq 20); do curl -s -o /dev/null -b "$J" -w '%{time_total}\n' "http://127.0.0.1:$PORT/console/api/admin/tasks?limit=50"; done | sort -n | awk '{a[NR]=$1} END {printf "admin task list (50) for comparison: median %.1f ms\n", a[int(NR/2)+1]*1000}'
