#!/usr/bin/env bash
# Installs whatever is missing to build and run Jishi: the wasm target, cargo-leptos, trunk,
# wasm-bindgen-cli, npm packages (binaryen's wasm-opt, Playwright), Debian's Janus and ffmpeg for
# live video (the media gateway runs them). With --browser (the tests) also Debian's Chromium for
# the end-to-end tests and nginx for the cluster test; with --bench wrk, curl and nginx.
# Safe to run again: it only installs what is absent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$JISHI_ROOT"

step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 13 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  # The live widget's client-side build (widget/). 0.22 needs a newer rustc than 1.95. A debug
  # build: trunk only runs cargo, wasm-bindgen and wasm-opt, and builds the same files in the same
  # few seconds, but installs in 4 minutes of CPU instead of 10 (cold CI).
  step "installing trunk $TRUNK_VERSION (about 3 minutes on 2 cores, once)"
  cargo install trunk --version "$TRUNK_VERSION" --locked --debug
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lock file pins a webpki-roots that does not build here.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -x end2end/node_modules/.bin/playwright ]; then
  step "installing npm packages (binaryen for wasm-opt, Playwright)"
  (cd end2end && npm ci --no-audit --no-fund)
fi

apt_install() {
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

if [ ! -x /usr/bin/janus ] || [ ! -x /usr/bin/ffmpeg ]; then
  # About 25 s here. Janus runs as our child process, never as the system service the package adds.
  step "installing Janus and ffmpeg for live video"
  apt_install janus ffmpeg
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now janus.service 2>/dev/null || true
  fi
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's Chromium for the browser tests"
  apt_install chromium
fi

if [ "${1:-}" = "--browser" ] && ! command -v nginx >/dev/null; then
  step "installing nginx for the cluster test (it stands in front of three server instances)"
  apt_install nginx-light
  # Only our own nginx processes run: never the system service the package starts.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now nginx.service 2>/dev/null || true
  fi
fi

if [ "${1:-}" = "--bench" ] && { ! command -v wrk >/dev/null || ! command -v curl >/dev/null \
  || ! command -v nginx >/dev/null; }; then
  step "installing wrk, curl and nginx for the benchmark"
  apt_install wrk curl nginx-light
fi
