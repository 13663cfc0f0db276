#!/usr/bin/env bash
# API fuzz: schemathesis against the real debug binary on a loopback port (temp data dir,
# demo provider), as a key holder, a console customer and an operator; then a client
# generated from the committed spec creates a task and reads it back. Bounded: a fixed
# seed, a fixed number of examples per operation and a time budget per run.
# Needs `schemathesis` and `openapi-python-client` (pinned in .ci/run).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
cargo build -q --bin videoapi
BIN="$ROOT/target/debug/videoapi"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export VIDEOAPI_DATA_DIR="$WORK/data"
ADMIN_PW="fuzz-admin-$RANDOM$RANDOM"
USER_PW="fuzz-user-$RANDOM$RANDOM"
# Accounts made with the CLI before the first start: an operator and a customer with a key.
"$BIN" admin create-user fuzzadmin --admin --password "$ADMIN_PW" >/dev/null
"$BIN" admin create-user fuzzer --password "$USER_PW" --credits 100000000 >/dev/null
KEY=$("$BIN" admin create-key fuzzer --name fuzz | tail -n 1)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
VIDEOAPI_LISTEN="127.0.0.1:$PORT" VIDEOAPI_DEMO_DELAY_MS=50 VIDEOAPI_POLL_INTERVAL_MS=50 \
  RUST_LOG=warn "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
set +e
FUZZ_BASE="$BASE" FUZZ_KEY="$KEY" FUZZ_ADMIN_PW="$ADMIN_PW" FUZZ_USER_PW="$USER_PW" \
  FUZZ_WORK="$WORK" python3 tests/fuzz/fuzz.py "$@"
rc=$?
set -e
# The server's own word: a panic, or an error status an operation does not declare.
if grep -E "panicked|not declared for this operation" "$WORK/server.log"; then
  echo "fuzz: the server log shows a panic or an undeclared status"
  rc=1
fi
if [ $rc -ne 0 ]; then
  echo "--- server log (last 40 lines)"
  tail -n 40 "$WORK/server.log"
fi
exit $rc
