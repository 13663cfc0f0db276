#!/usr/bin/env bash
# Browser end-to-end tests of the console in real headless Chromium (Debian's chromium +
# playwright-core): builds the debug binary, serves it on a free loopback port over a
# temporary data dir, runs node's test runner against it, and stops the server by PID.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

# The translation-table test needs only node: it runs even where the browser is missing.
if command -v node >/dev/null 2>&1 && [ ! -x "$CHROMIUM" ]; then
  (cd "$HERE" && node --test --test-reporter=spec i18n.test.mjs)
fi
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "e2e: chromium ($CHROMIUM) or node missing; .ci/run installs them" >&2
    exit 1
  fi
  echo "e2e: SKIPPED: install Debian's chromium and node to run the browser tests" >&2
  exit 0
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$ROOT"
cargo build --quiet --bin videoapi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
BIN="$TARGET_DIR/debug/videoapi"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/videoapi-e2e.XXXXXX")"
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export E2E_BASE="http://127.0.0.1:$PORT"
export E2E_ADMIN_PASSWORD="e2e-admin-password"
export E2E_WORK="$WORK"
# Screenshots go to a temp dir; UPDATE_SCREENSHOTS=1 refreshes the README's in docs/.
if [ -n "${UPDATE_SCREENSHOTS:-}" ]; then
  export E2E_SCREENSHOTS="$ROOT/docs"
else
  export E2E_SCREENSHOTS="$WORK/screenshots"
fi

# Online top-up against a loopback Stripe simulator (money.test.mjs).
STRIPE_PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
node "$HERE/stripe-sim.mjs" "$STRIPE_PORT" "$E2E_BASE/payments/stripe/webhook" >"$WORK/stripe-sim.log" 2>&1 &
STRIPE_PID=$!
cat >"$WORK/config.toml" <<TOML
[payments.stripe]
secret_key = "sk_test_e2e"
webhook_secret = "whsec_e2e"
api_base = "http://127.0.0.1:$STRIPE_PORT"
currency = "usd"
packages = [{ credits = 1000, amount = 500 }, { credits = 2500, amount = 1000 }]
allow_private_cidrs = ["127.0.0.1/32"]
TOML

VIDEOAPI_ADMIN_PASSWORD="$E2E_ADMIN_PASSWORD" \
VIDEOAPI_DEMO_DELAY_MS=1500 \
VIDEOAPI_POLL_INTERVAL_MS=300 \
VIDEOAPI_LOG=warn \
  "$BIN" --config "$WORK/config.toml" --data-dir "$WORK/data" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  kill "$STRIPE_PID" 2>/dev/null || true
  wait "$STRIPE_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT

for _ in $(seq 1 100); do
  if node -e "fetch('$E2E_BASE/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "e2e: the server exited:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

cd "$HERE"
# Every *.test.mjs, one file at a time (they share the server and its data).
if ! node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs; then
  echo "e2e: server log:" >&2
  tail -n 50 "$WORK/server.log" >&2
  exit 1
fi
