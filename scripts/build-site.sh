#!/usr/bin/env bash
# The release site, the one way every script builds it: the server and the hydrate wasm
# (cargo-leptos), the live widget (trunk, into target/site/widget/v1/), then brotli/gzip copies of
# the site's text files, which the server sends as they are.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$JISHI_ROOT"
cargo leptos build --release --split
# Offline: trunk would otherwise fetch wasm-bindgen and wasm-opt; setup.sh put both on PATH.
(cd widget && trunk build --release --offline --dist "$JISHI_ROOT/target/site/widget/v1")
cargo run --release --quiet -p jishi-precompress -- target/site
