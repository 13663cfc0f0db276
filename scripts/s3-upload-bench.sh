#!/usr/bin/env bash
# Uploads one generated file (default 1 GiB) to a server whose media lives in S3 (moto's
# server on loopback), and prints the server's RSS growth and the time against a plain
# multipart copy of the same file to the same moto server (boto3, which moto installs).
# SIZE_MB=256 for a shorter run; PROFILE=release to build and use the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
PROFILE=${PROFILE:-debug}
command -v moto_server >/dev/null || { echo "needs moto_server: pip install 'moto[server]==5.2.1'" >&2; exit 1; }
if [ "$PROFILE" = release ]; then cargo build --release -q; else cargo build -q; fi
BIN=target/$PROFILE/videoapi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port); MOTO_PORT=$(free_port)
WORK=$(mktemp -d)
PID=""; MOTO=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$MOTO" ] && kill "$MOTO" 2>/dev/null; rm -rf "$WORK"' EXIT
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
MOTO=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$MOTO_PORT/" >/dev/null && break; sleep 0.1; done
curl -sf -X PUT "http://127.0.0.1:$MOTO_PORT/bench" >/dev/null
# The file: an MP4 head (uploads are recognised by their bytes), then zeros.
printf '\0\0\0\x18ftypisom\0\0\x02\0isomiso2' >"$WORK/big.mp4"
head -c $((SIZE_MB * 1024 * 1024 - 24)) /dev/zero >>"$WORK/big.mp4"
cat >"$WORK/config.toml" <<EOF
max_upload_mb = $((SIZE_MB + 16))
[quotas]
storage_mb = 0
[storage]
backend = "s3"
bucket = "bench"
endpoint = "http://127.0.0.1:$MOTO_PORT"
access_key_id = "bench"
secret_access_key = "bench"
prefix = "media"
EOF
$BIN --config "$WORK/config.toml" --data-dir "$WORK/data" admin create-user bench --password bench-password >/dev/null 2>&1
KEY=$($BIN --config "$WORK/config.toml" --data-dir "$WORK/data" admin create-key bench --name bench)
VIDEOAPI_ADMIN_PASSWORD=bench-admin-pw $BIN --config "$WORK/config.toml" --data-dir "$WORK/data" serve --listen 127.0.0.1:$PORT >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
sleep 1
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$PID/status"; }
RSS_BEFORE=$(kib VmRSS)
# VmHWM is the peak since start; reset it so the peak is the upload's.
echo 5 >"/proc/$PID/clear_refs" 2>/dev/null || true
HWM_BEFORE=$(kib VmHWM)
T0=$(date +%s.%N)
curl -sf -H "Authorization: Bearer $KEY" -F "files=@$WORK/big.mp4;type=video/mp4" \
  "http://127.0.0.1:$PORT/api/upload" >"$WORK/answer.json"
T1=$(date +%s.%N)
PEAK=$(kib VmHWM)
SIZE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"][0]["size"])' "$WORK/answer.json")
[ "$SIZE" = "$(stat -c %s "$WORK/big.mp4")" ] || { echo "stored size $SIZE differs" >&2; exit 1; }
# The plain copy: boto3's managed multipart upload (8 MiB parts, 10 threads) to the same moto.
COPY=$(python3 - "$MOTO_PORT" "$WORK/big.mp4" <<'PY'
import sys, time, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
t = time.time()
s3.upload_file(sys.argv[2], "bench", "plain/big.mp4")
print(f"{time.time() - t:.2f}")
PY
)
UP=$(python3 -c "print(f'{$T1 - $T0:.2f}')")
echo "file: $SIZE_MB MiB; server: $BIN; S3: moto_server on loopback"
echo "server RSS before: $((RSS_BEFORE / 1024)) MiB; peak during the upload: $((PEAK / 1024)) MiB; growth: $(( (PEAK - RSS_BEFORE) / 1024 )) MiB (VmHWM before the upload: $((HWM_BEFORE / 1024)) MiB)"
echo "upload through videoapi: ${UP} s; plain boto3 multipart copy to the same moto: ${COPY} s"
