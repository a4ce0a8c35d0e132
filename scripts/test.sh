#!/usr/bin/env bash
# Sets up what is missing and runs every test: Rust unit and integration tests, then the release
# build and the Playwright tests in Debian's Chromium against the real server and platform.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$JISHI_ROOT/scripts/setup.sh" --browser
cd "$JISHI_ROOT"

printf '\n== Rust unit and integration tests\n'
# A hung test fails the run in minutes rather than at CI's limit.
timeout 1800 cargo test --workspace --lib --bins --tests

printf '\n== release build (server + hydrate wasm, precompressed site files)\n'
cargo leptos build --release --split
cargo run --release --quiet -p jishi-precompress -- target/site

printf '\n== end-to-end tests (Playwright, Chromium)\n'
cd end2end
timeout 900 npx playwright test
