#!/usr/bin/env bash
# Glass-to-glass latency of live video: a canvas clock published over WHIP as a room's host,
# decoded from the shop's own player over WHEP (Chromium) and over HLS (WeChat's user agent).
# Prints latency_<whep|hls>_<frames|p50_ms|p90_ms|p99_ms> lines. Goals: WHEP p90 ≤ 500 ms,
# HLS p90 ≤ 6 s. JISHI_LATENCY_SAMPLE_MS sets the sampling time (20 s).
#   scripts/latency-bench.sh              # build, then measure
#   scripts/latency-bench.sh --no-build   # measure the release build as it is
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$JISHI_ROOT"
if [ "${1:-}" != "--no-build" ]; then
  "$JISHI_ROOT/scripts/setup.sh" --browser
  "$JISHI_ROOT/scripts/build-site.sh"
fi
cd end2end
npx playwright test -c bench.config.ts 2>&1 | grep -E '^latency_|passed|failed|Error'
