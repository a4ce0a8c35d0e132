#!/usr/bin/env bash
# The nearby benchmark, one figure a line:
# 1. in-process index over 400k stores, an in-process HTTP run through the server's /api proxy,
#    and the release wasm size (cargo bench -p jishi-server --bench nearby);
# 2. checkout throughput on the embedded SQLite platform (64 shoppers creating and paying orders)
#    with an oversell check (cargo bench -p jishi-platform --bench checkout);
# 3. the live fan-out: viewers one server instance holds on one room, pin-to-viewer latency and
#    memory per viewer (cargo bench -p jishi-server --bench fanout; JISHI_FANOUT_VIEWERS, 40,000);
#    then the flash crowd: 5,000 viewers in the room, a flash sale with a cap of 500, 3,000
#    signed-in shoppers tapping buy within 2 s (the same bench, JISHI_FANOUT_FLASH_BUYERS);
# 4. the real release server binary (embedded platform seeded with 400k stores) under wrk from a
#    separate process at 64 connections, over the same query points;
# 5. SSR of the home page through the server beside nginx serving the same HTML (scripts/ssr-bench.sh);
# 6. Lighthouse (mobile) on the home, store and search pages, three runs each (scripts/lighthouse.sh);
# 7. glass-to-glass latency of live video over WHEP and HLS (scripts/latency-bench.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$JISHI_ROOT/scripts/setup.sh" --bench
cd "$JISHI_ROOT"
scripts/build-site.sh

queries="$CARGO_TARGET_DIR/bench-queries.txt"
JISHI_BENCH_QUERIES="$queries" cargo bench -p jishi-server --bench nearby
cargo bench -p jishi-platform --bench checkout
cargo bench -p jishi-server --bench fanout
JISHI_FANOUT_VIEWERS=5000 JISHI_FANOUT_ROUNDS=1 JISHI_FANOUT_FLASH_BUYERS=3000 \
  cargo bench -p jishi-server --bench fanout

work="$(mktemp -d)"
port="${JISHI_BENCH_PORT:-3999}"
LEPTOS_SITE_ADDR="127.0.0.1:$port" JISHI_DB="sqlite://$work/bench.db" JISHI_SEED=400000 \
  JISHI_NOW=2026-11-25T12:00:00+08:00 JISHI_MEDIA_URL=none RUST_LOG=warn "$CARGO_TARGET_DIR/release/jishi-server" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.5
done
wrk -t2 -c64 -d15s -s scripts/nearby.lua "http://127.0.0.1:$port" -- "$queries" | grep '^wrk_'
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true

scripts/ssr-bench.sh

"$JISHI_ROOT/scripts/lighthouse.sh" --no-build --runs 3

"$JISHI_ROOT/scripts/latency-bench.sh" --no-build
