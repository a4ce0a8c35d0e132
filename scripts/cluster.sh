#!/usr/bin/env bash
# The scale-out layout on loopback: the platform as its own process, the media gateway (Janus),
# three server instances and nginx in front (SSE-safe: no buffering, long read timeout). Runs
# until Ctrl-C.
#   scripts/cluster.sh              # build what is missing, then start everything
#   scripts/cluster.sh --no-build   # use the release build as it is
# Ports: nginx on JISHI_CLUSTER_PORT (3100), the platform on +10, the servers on +11, +12, +13,
# the media gateway on +20 (Janus's own ports: see media/README.md).
# Data: data/cluster.db (seeded with the demo city on first start).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$JISHI_ROOT"

port="${JISHI_CLUSTER_PORT:-3100}"
platform_port=$((port + 10))
work="$(mktemp -d)"
pids=()
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ "${1:-}" != "--no-build" ]; then
  "$JISHI_ROOT/scripts/setup.sh" --bench
  "$JISHI_ROOT/scripts/build-site.sh"
  cargo build --release -p jishi-platform --bin jishi-platform -p jishi-media --bin jishi-media
fi
command -v nginx >/dev/null || { echo "nginx is missing: scripts/setup.sh --bench installs it" >&2; exit 1; }

wait_for() { # $1: URL, $2: name, $3: log
  for _ in $(seq 1 120); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.5
  done
  echo "$2 did not start; its log:" >&2
  cat "$3" >&2
  exit 1
}

mkdir -p data
media_port=$((port + 20))
PLATFORM_ADDR="127.0.0.1:$platform_port" JISHI_DB="${JISHI_DB:-sqlite://data/cluster.db}" \
  JISHI_MEDIA_BASE=/media \
  "$CARGO_TARGET_DIR/release/jishi-platform" >"$work/platform.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$platform_port/healthz" platform "$work/platform.log"
# It loops a test picture in the platform's live rooms (it asks the platform which).
MEDIA_ADDR="127.0.0.1:$media_port" PLATFORM_URL="http://127.0.0.1:$platform_port" \
  JISHI_MEDIA_DIR="$work/media" "$CARGO_TARGET_DIR/release/jishi-media" >"$work/media.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$media_port/healthz" "media gateway" "$work/media.log"

upstreams=""
for n in 1 2 3; do
  server_port=$((platform_port + n))
  PLATFORM_URL="http://127.0.0.1:$platform_port" LEPTOS_SITE_ADDR="127.0.0.1:$server_port" \
    LEPTOS_SITE_ROOT=target/site JISHI_INSTANCE="srv-$n" TRUSTED_PROXIES=127.0.0.1/32 \
    JISHI_MEDIA_URL="http://127.0.0.1:$media_port" \
    "$CARGO_TARGET_DIR/release/jishi-server" >"$work/server-$n.log" 2>&1 &
  pids+=($!)
  upstreams+="    server 127.0.0.1:$server_port max_fails=1 fail_timeout=5s;"$'\n'
done
for n in 1 2 3; do
  wait_for "http://127.0.0.1:$((platform_port + n))/healthz" "server $n" "$work/server-$n.log"
done

upstreams="${upstreams%$'\n'}"
template="$(cat "$JISHI_ROOT/scripts/nginx-cluster.conf")"
template="${template//@WORK@/$work}"
template="${template//@PORT@/$port}"
printf '%s\n' "${template//@UPSTREAMS@/$upstreams}" >"$work/nginx.conf"
nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf"
echo "cluster: http://127.0.0.1:$port/ (platform :$platform_port, servers :$((platform_port + 1))-:$((platform_port + 3)), media :$media_port); logs in $work"
echo "Ctrl-C stops everything."
wait "${pids[0]}"
