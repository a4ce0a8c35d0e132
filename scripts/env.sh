# Shared by the scripts: where caches live and which tool versions this repo expects.
# Sourced, not run.
JISHI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export JISHI_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jishi/target}"
export npm_config_cache="${npm_config_cache:-$HOME/.cache/jishi/npm}"
export PATH="$HOME/.cargo/bin:$JISHI_ROOT/end2end/node_modules/.bin:$PATH"
CARGO_LEPTOS_VERSION="0.3.10"
# Must equal the wasm-bindgen version pinned in Cargo.toml: cargo-leptos never checks.
WASM_BINDGEN_VERSION="0.2.130"
# The live widget's bundler; 0.22 needs rustc 1.96 (widget/Trunk.toml pins it too).
TRUNK_VERSION="0.21.14"
# cargo-leptos sets this when it builds; set it for plain cargo builds of the server too (cargo
# bench rebuilds target/release/jishi-server), so every binary knows its site's file names.
export LEPTOS_OUTPUT_NAME="${LEPTOS_OUTPUT_NAME:-jishi}"
