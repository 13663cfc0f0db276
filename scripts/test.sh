#!/usr/bin/env bash
# Runs the whole test suite: unit + integration tests (and, when present, browser e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
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
