#!/usr/bin/env bash
# SSR throughput of the home page with a point (`/?lat&lng`, the Beijing demo city) through the
# release server and its embedded platform, beside nginx serving the same HTML as a file in the
# same run; with the page cache on (the default) and off. wrk, 64 connections, one figure a line.
# Expects the release build (scripts/bench.sh builds it); called by scripts/bench.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$JISHI_ROOT"

page="/?lat=39.9088&lng=116.4605"
duration="${JISHI_SSR_BENCH_SECONDS:-15}"
port="${JISHI_SSR_BENCH_PORT:-3997}"
nginx_port=$((port + 1))
work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_server() { # $1: page cache milliseconds
  JISHI_PAGE_CACHE_MS="$1" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
    JISHI_DB=sqlite::memory: JISHI_SEED=beijing JISHI_NOW=2026-11-25T12:00:00+08:00 JISHI_TILE_URL=none JISHI_MEDIA_URL=none \
    RUST_LOG=warn "$CARGO_TARGET_DIR/release/jishi-server" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.5
  done
  echo "the server did not start" >&2
  cat "$work/server.log" >&2
  exit 1
}

stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}

# wrk's figures for one URL, prefixed: <prefix>_requests_per_s, _p50_ms, _p99_ms, _errors.
measure() { # $1: prefix, $2: base URL (non-2xx answers count as errors)
  echo "$page" >"$work/paths.txt"
  wrk -t2 -c64 -d"${duration}s" -s scripts/nearby.lua "$2" -- "$work/paths.txt" \
    | grep '^wrk_' | sed "s/^wrk_/$1_/"
}

start_server 1000
curl -sf "http://127.0.0.1:$port$page" -o "$work/page.html"
mkdir -p "$work/www"
cp "$work/page.html" "$work/www/page.html"
# nginx workers run as an unprivileged user: let them read the page.
chmod 755 "$work" "$work/www" && chmod 644 "$work/www/page.html"
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    location / { default_type text/html; try_files /page.html =404; }
  }
}
CONF
nginx -c "$work/nginx.conf"
echo "ssr_page: $page ($(wc -c <"$work/page.html") bytes)"
measure ssr_cached "http://127.0.0.1:$port" | tee "$work/cached.txt"
measure nginx "http://127.0.0.1:$nginx_port" | tee "$work/nginx.txt"
stop_server
start_server 0
measure ssr_uncached "http://127.0.0.1:$port"
rps() { grep '_requests_per_s' "$1" | awk '{print $2}'; }
awk -v a="$(rps "$work/cached.txt")" -v b="$(rps "$work/nginx.txt")" \
  'BEGIN { printf "ssr_cached_vs_nginx: %.2f\n", a / b }'
