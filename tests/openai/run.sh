#!/usr/bin/env bash
# Real OpenAI clients against a live VideoApi: the official `openai` Python package (and,
# when present, the npm package in Node) drive /v1/videos on the debug binary, served on a
# free loopback port over a temporary data dir with the demo provider. Each client run is
# bounded in time; the server is stopped by its PID.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

missing=""
python3 -c 'import openai' 2>/dev/null || missing="python package openai"
if [ -n "$missing" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "openai: $missing missing; .ci/run installs it" >&2
    exit 1
  fi
  echo "openai: SKIPPED: $missing missing (pip install -r tests/openai/requirements.txt)" >&2
  exit 0
fi

cd "$ROOT"
cargo build --quiet --bin videoapi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/debug/videoapi"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/videoapi-openai.XXXXXX")"
DATA="$WORK/data"
SERVER_PID=""
LITELLM_PID=""
stop() {
  if [ -n "$LITELLM_PID" ]; then
    kill -- "-$LITELLM_PID" 2>/dev/null || true
    wait "$LITELLM_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK" "$HERE/.readme-snippet.mjs" "$HERE/.quickstart-snippet.mjs"
}
trap stop EXIT

export VIDEOAPI_ADMIN_PASSWORD="openai-admin-password" VIDEOAPI_LOG=warn
"$BIN" --data-dir "$DATA" admin create-user rich --password 'rich-password' --credits 100000 >/dev/null
"$BIN" --data-dir "$DATA" admin create-user poor --password 'poor-password' --credits 0 >/dev/null
export VIDEOAPI_KEY="$("$BIN" --data-dir "$DATA" admin create-key rich --name sdk)"
export VIDEOAPI_POOR_KEY="$("$BIN" --data-dir "$DATA" admin create-key poor --name sdk)"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
export VIDEOAPI_BASE="http://127.0.0.1:$PORT"
VIDEOAPI_DEMO_DELAY_MS=400 VIDEOAPI_POLL_INTERVAL_MS=100 \
  "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('$VIDEOAPI_BASE/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "openai: the server exited:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

# LiteLLM's proxy with VideoApi as its OpenAI upstream; it starts in the background (it
# takes a while) while the SDK tests run. Its own process group, stopped by its id.
LITELLM_PORT=""
if command -v litellm >/dev/null 2>&1 && python3 -c 'import litellm, fastapi, uvicorn' 2>/dev/null; then
  LITELLM_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  cat >"$WORK/litellm.yaml" <<YAML
model_list:
  - model_name: video-2.0-mini-text-to-video
    litellm_params:
      model: openai/video-2.0-mini-text-to-video
      api_base: $VIDEOAPI_BASE/v1
      api_key: os.environ/VIDEOAPI_KEY
YAML
  export LITELLM_MASTER_KEY="sk-videoapi-test-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  LITELLM_LOCAL_MODEL_COST_MAP=True setsid litellm --config "$WORK/litellm.yaml" \
    --host 127.0.0.1 --port "$LITELLM_PORT" >"$WORK/litellm.log" 2>&1 &
  LITELLM_PID=$!
fi

failed=0
run() {
  local name="$1"
  shift
  echo "== $name"
  if ! timeout 60 "$@"; then
    echo "openai: $name FAILED" >&2
    failed=$((failed + 1))
  fi
}

# A snippet (README, console) run as written in its own folder: it must print "completed <id>" and
# leave a video.mp4 there.
snippet() {
  local name="$1" dir="$WORK/$1"
  shift
  mkdir -p "$dir"
  echo "== snippet: $name"
  if (cd "$dir" && timeout 60 "$@" >"$dir/out.txt" 2>&1) &&
    grep -q '^completed vidgen_' "$dir/out.txt" && [ -s "$dir/video.mp4" ]; then
    cat "$dir/out.txt"
  else
    echo "openai: snippet $name FAILED:" >&2
    cat "$dir/out.txt" >&2
    failed=$((failed + 1))
  fi
}

# The README's snippets, extracted from the "OpenAI-compatible API" section.
python3 "$HERE/readme_snippets.py" "$ROOT/README.md" "$WORK"

run "python openai SDK" python3 -W ignore::DeprecationWarning "$HERE/sdk_test.py"
snippet readme-python python3 -W ignore::DeprecationWarning "$WORK/readme.py"
if [ -n "$LITELLM_PORT" ]; then
  export LITELLM_PROXY="http://127.0.0.1:$LITELLM_PORT"
  for _ in $(seq 1 900); do
    if python3 -c "import urllib.request; urllib.request.urlopen('$LITELLM_PROXY/health/liveliness', timeout=1)" 2>/dev/null; then
      break
    fi
    kill -0 "$LITELLM_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! run "LiteLLM (SDK and proxy)" python3 -W ignore::DeprecationWarning "$HERE/litellm_test.py"; then
    echo "openai: LiteLLM log:" >&2
    tail -n 30 "$WORK/litellm.log" >&2
  fi
elif [ "${CI:-}" = "true" ]; then
  echo "openai: litellm (with its proxy modules) missing; .ci/run installs tests/openai/requirements.txt" >&2
  failed=$((failed + 1))
else
  echo "openai: LiteLLM SKIPPED (pip install -r tests/openai/requirements.txt)" >&2
fi
if [ -d "$HERE/node_modules/openai" ]; then
  run "node openai SDK" node --test --test-reporter=spec "$HERE/sdk.test.mjs"
  snippet readme-javascript node "$HERE/.readme-snippet.mjs"
  # The console Quick start's "OpenAI SDK" examples, as the page makes them.
  node "$HERE/quickstart_snippets.mjs" "$VIDEOAPI_BASE" "$VIDEOAPI_KEY" "$WORK"
  snippet quickstart-python python3 -W ignore::DeprecationWarning "$WORK/quickstart.py"
  snippet quickstart-javascript node "$HERE/.quickstart-snippet.mjs"
elif [ "${CI:-}" = "true" ]; then
  echo "openai: tests/openai/node_modules missing; .ci/run runs npm ci" >&2
  failed=$((failed + 1))
else
  echo "openai: node SDK SKIPPED (cd tests/openai && npm ci)" >&2
fi

if [ "$failed" -ne 0 ]; then
  echo "openai: server log:" >&2
  tail -n 50 "$WORK/server.log" >&2
  exit 1
fi
