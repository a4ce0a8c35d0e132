#!/usr/bin/env bash
# Sets up what is missing and runs every test: Rust unit and integration tests, then the release
# build and the Playwright tests in Debian's Chromium against the real server and platform.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$JISHI_ROOT/scripts/setup.sh" --browser
cd "$JISHI_ROOT"

printf '\n== Rust unit and integration tests\n'
# A hung test fails the run in minutes rather than at CI's limit. One test at a time: many tests
# run a platform and a server on a runtime of their own, and two server tests rendering pages at
# once in one process hang now and then (about one run in seven of the server's API tests, on
# older commits too, never with one thread; ARCHITECTURE.md, "Testing").
timeout 1800 cargo test --workspace --lib --bins --tests -- --test-threads=1

# At the end, pass or fail: the tools this build used and the wasm it shipped, so page weights
# measured on two machines can be compared (one CI build reported a main wasm 25 KB larger than
# the same commit built here, with the same tools as far as we know).
shipped() {
  printf '\n== toolchain and shipped wasm\n'
  rustc -V; cargo leptos --version 2>/dev/null || true; node -v
  printf 'wasm-opt: %s (%s)\n' "$(command -v wasm-opt)" "$(wasm-opt --version 2>/dev/null)"
  env | grep -E '^(RUSTFLAGS|CARGO_|LEPTOS_)' | sort || true
  # The main wasm and its brotli form (written by jishi-precompress).
  ls -l "$JISHI_ROOT"/target/site/pkg/jishi.*.wasm* 2>/dev/null || true
}
trap shipped EXIT

printf '\n== release build (server + hydrate wasm, the widget, precompressed site files)\n'
scripts/build-site.sh

printf '\n== end-to-end tests (Playwright, Chromium)\n'
cd end2end
timeout 900 npx playwright test
