#!/usr/bin/env bash
# The janitor draining N expired uploads (default 100 000) while one file is fetched over
# and over on loopback: prints the drain time and the serving latency before and during.
# The suite runs the same test with 2 000 files.
set -euo pipefail
cd "$(dirname "$0")/.."
JANITOR_FILES=${N:-100000} cargo nextest run --no-capture \
  -E 'test(janitor_drains_a_backlog_while_serving_stays_flat)' 2>&1 \
  | grep -E '^(setup|janitor|serving)|panicked|assertion|FAIL'
