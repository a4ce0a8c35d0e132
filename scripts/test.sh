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

printf '\n== release build (server + hydrate wasm, precompressed site files)\n'
cargo leptos build --release --split
cargo run --release --quiet -p jishi-precompress -- target/site

printf '\n== end-to-end tests (Playwright, Chromium)\n'
cd end2end
timeout 900 npx playwright test
