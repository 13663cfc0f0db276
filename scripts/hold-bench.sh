#!/usr/bin/env bash
# Memory, stop and restart with many unfinished tasks (issue 10, point 3).
#
# Starts the release binary on loopback over a fresh data dir, creates N tasks whose
# (demo) upstream never finishes, and prints: the server's RSS while it holds them, the
# time a graceful stop (SIGTERM) takes, the time a restart takes until it serves again, and
# its RSS once it has settled. Bounded: every wait has a limit; the server is stopped by PID.
#
#   N=100000 bash scripts/hold-bench.sh          # the issue's figure
#   N=2000 BIN=target/debug/videoapi bash scripts/hold-bench.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
PORT=${PORT:-18097}
# Tasks poll their (demo) upstream this often; one a minute is a long video's pace.
POLL_MS=${POLL_MS:-60000}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q --bin videoapi
  BIN=target/release/videoapi
fi
DATA=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT
URL="http://127.0.0.1:$PORT"
now_ms() { date +%s%3N; }
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
serve() {
  # As the systemd unit of install.sh runs it (MALLOC_ARENA_MAX=0 measures glibc's default).
  MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} VIDEOAPI_LOG=warn VIDEOAPI_DEMO_DELAY_MS=86400000 VIDEOAPI_POLL_INTERVAL_MS=$POLL_MS \
    VIDEOAPI_TASK_DEADLINE_SECS=86400 "$BIN" --data-dir "$DATA" serve --listen 127.0.0.1:$PORT \
    >>"$DATA/server.log" 2>&1 &
  PID=$!
}
wait_serving() {
  for _ in $(seq 1 600); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  echo "server did not come up; log:" >&2
  tail -n 20 "$DATA/server.log" >&2
  exit 1
}
stop() {
  local t0
  t0=$(now_ms)
  kill -TERM "$PID"
  for _ in $(seq 1 3000); do kill -0 "$PID" 2>/dev/null || break; sleep 0.01; done
  if kill -0 "$PID" 2>/dev/null; then echo "graceful stop: still running after 30 s" >&2; exit 1; fi
  wait "$PID" 2>/dev/null || true
  PID=""
  echo "$(($(now_ms) - t0))"
}

VIDEOAPI_ADMIN_PASSWORD=bench-admin-pw "$BIN" --data-dir "$DATA" admin create-user bench \
  --password bench-password --credits $((N * 100 + 100)) >/dev/null
KEY=$("$BIN" --data-dir "$DATA" admin create-key bench --name bench)
serve
wait_serving
echo "tasks: $N unfinished (demo upstream never finishes; a poll every ${POLL_MS} ms)"
echo "idle rss: $(rss_mib "$PID") MiB"
"$BIN" bench --url "$URL" --key "$KEY" --concurrency 32 --creates "$N" --gets 0 | grep -E '^create'
# Let every task be submitted and settle into its timer.
sleep 5
echo "holding rss: $(rss_mib "$PID") MiB (peak $(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status") MiB)"
echo "graceful stop: $(stop) ms"
t0=$(now_ms)
serve
wait_serving
echo "restart to serving: $(($(now_ms) - t0)) ms"
# After a restart every task is stepped once within ~2 s, then again one poll interval later.
last=0
for s in 1 2 5 10 30 $((POLL_MS / 1000 + 10)); do
  sleep $((s - last))
  last=$s
  echo "rss ${s}s after restart: $(rss_mib "$PID") MiB"
done
HELD=$(curl -sf "$URL/metrics" | awk '/^videoapi_engine_tasks_held / {print $2}')
echo "held by the engine after restart: ${HELD:-?}"
echo "graceful stop after restart: $(stop) ms"
