#!/usr/bin/env bash
# Runs the whole test suite: unit + integration tests (and, when present, browser e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
# The email tests start a real SMTP server (aiosmtpd) on loopback.
python3 -c 'import aiosmtpd' 2>/dev/null \
  || pip install -q --disable-pip-version-check -r tests/api/requirements.txt
# The object-storage tests start a real S3-compatible server (moto_server) on loopback.
command -v moto_server >/dev/null 2>&1 \
  || pip install -q --disable-pip-version-check -r tests/api/requirements.txt
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast
else
  cargo test --no-fail-fast
fi
if [ -f tests/e2e/run.sh ]; then
  bash tests/e2e/run.sh
fi
if [ -f tests/openai/run.sh ]; then
  bash tests/openai/run.sh
fi
# API fuzz (schemathesis) and a client generated from the committed spec, against the
# real binary on loopback (~1-2 min). Needs the pip tools that .ci/run installs.
if command -v schemathesis >/dev/null 2>&1 && command -v openapi-python-client >/dev/null 2>&1; then
  bash tests/fuzz/run.sh
elif [ -n "${CI:-}" ]; then
  echo "tests/fuzz needs schemathesis and openapi-python-client (see .ci/run)" >&2
  exit 1
else
  echo "skipping tests/fuzz: pip install schemathesis==4.32.5 openapi-python-client==0.29.1"
fi
