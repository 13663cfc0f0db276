#!/usr/bin/env bash
# Create-to-terminal latency, VideoApi vs LiteLLM, in front of the same fake OpenAI-Videos
# upstream that finishes every video at once (issue 10, point 4). The same client
# (scripts/latency_client.py) creates a video and polls it every 50 ms until completed,
# N times in a row, through each gateway's /v1/videos. Loopback only; every process this
# starts is stopped by its PID.
#
#   bash scripts/latency-vs-litellm.sh            # release binary, N=30
#   N=10 BIN=target/debug/videoapi bash scripts/latency-vs-litellm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-30}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q --bin videoapi
  BIN=target/release/videoapi
fi
python3 -c 'import litellm, fastapi, uvicorn' 2>/dev/null || {
  echo "needs LiteLLM's proxy: pip install -r tests/openai/requirements.txt" >&2
  exit 1
}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_url() {
  for _ in $(seq 1 1200); do
    python3 -c "import urllib.request; urllib.request.urlopen('$1', timeout=1)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$1 never answered" >&2
  exit 1
}

UP_PORT=$(free_port)
setsid python3 scripts/fake_openai_videos.py "$UP_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
UPSTREAM="http://127.0.0.1:$UP_PORT/v1"

# VideoApi: one openai-videos channel on the fake upstream, one model routed to it.
cat >"$WORK/videoapi.toml" <<TOML
[[providers]]
name = "fake-videos"
kind = "openai-videos"
base_url = "$UPSTREAM"
api_key = "sk-fake"
settings = { body = "json", allow_private_cidrs = ["127.0.0.1/32"] }

[[models]]
id = "fake-video"
name = "Fake video"
billing = { mode = "per_task", credits = 10 }
poll_interval_seconds = 5
capabilities = { types = ["text-to-video"], resolutions = ["720p"], durations = [4], default_duration = 4, aspect_ratios = ["16:9"], supports_audio = true, default_generate_audio = true }
routes = [{ provider = "fake-videos", upstream_model = "fake-video", priority = 0, weight = 1 }]
TOML
V_PORT=$(free_port)
export VIDEOAPI_ADMIN_PASSWORD=latency-admin-pw VIDEOAPI_LOG=warn
"$BIN" --config "$WORK/videoapi.toml" --data-dir "$WORK/data" admin create-user lat --password lat-password --credits 1000000 >/dev/null
KEY=$("$BIN" --config "$WORK/videoapi.toml" --data-dir "$WORK/data" admin create-key lat --name lat)
setsid "$BIN" --config "$WORK/videoapi.toml" --data-dir "$WORK/data" serve --listen "127.0.0.1:$V_PORT" >"$WORK/videoapi.log" 2>&1 &
PIDS+=($!)

# LiteLLM's proxy: the same model name, `openai/` provider on the same upstream.
L_PORT=$(free_port)
cat >"$WORK/litellm.yaml" <<YAML
model_list:
  - model_name: fake-video
    litellm_params:
      model: openai/fake-video
      api_base: $UPSTREAM
      api_key: sk-fake
YAML
MASTER="sk-latency-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
LITELLM_MASTER_KEY=$MASTER LITELLM_LOCAL_MODEL_COST_MAP=True setsid litellm --config "$WORK/litellm.yaml" \
  --host 127.0.0.1 --port "$L_PORT" >"$WORK/litellm.log" 2>&1 &
PIDS+=($!)

wait_url "http://127.0.0.1:$V_PORT/healthz"
wait_url "http://127.0.0.1:$L_PORT/health/liveliness"
# One warm-up each (connection set-up, lazy imports), then the measured run.
python3 scripts/latency_client.py warmup "http://127.0.0.1:$V_PORT" "$KEY" fake-video 2 >/dev/null
python3 scripts/latency_client.py warmup "http://127.0.0.1:$L_PORT" "$MASTER" fake-video 2 >/dev/null || {
  tail -n 30 "$WORK/litellm.log" >&2
  exit 1
}
python3 scripts/latency_client.py VideoApi "http://127.0.0.1:$V_PORT" "$KEY" fake-video "$N"
python3 scripts/latency_client.py LiteLLM "http://127.0.0.1:$L_PORT" "$MASTER" fake-video "$N"
