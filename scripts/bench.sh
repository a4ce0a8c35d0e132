#!/usr/bin/env bash
# Builds the release site (for the wasm size) and runs the nearby benchmark: 400k stores,
# in-process and through the server over HTTP at 64 connections. Prints one figure a line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$JISHI_ROOT/scripts/setup.sh"
cd "$JISHI_ROOT"
cargo leptos build --release
cargo bench -p jishi-server --bench nearby
