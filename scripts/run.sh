#!/usr/bin/env bash
# Sets up what is missing, builds and precompresses the release site and runs the shop on the
# embedded platform (SQLite file ./data/jishi.db, seeded with the Beijing demo city on first start).
#   LEPTOS_SITE_ADDR=0.0.0.0:8080 scripts/run.sh     # another address
#   PLATFORM_URL=http://127.0.0.1:4000 scripts/run.sh  # use a separately running platform
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$JISHI_ROOT/scripts/setup.sh"
cd "$JISHI_ROOT"
mkdir -p data
export JISHI_DB="${JISHI_DB:-sqlite://data/jishi.db}"
scripts/build-site.sh
echo
exec "$CARGO_TARGET_DIR/release/jishi-server"
