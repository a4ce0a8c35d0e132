#!/usr/bin/env bash
# Copies the demo products' pictures into platform/src/demo/pictures/.
#
# The `picture` column of platform/src/demo/catalogue.tsv holds an emoji; the product's picture is
# that emoji's 3D render from the npm package @lobehub/fluent-emoji-3d (MIT; Microsoft's Fluent
# Emoji), which names each file by the emoji's code points in lower-case hex joined by `-`
# (🍎 → 1f34e.webp, ❤️ → 2764-fe0f.webp). The package holds 3,391 renders (~25 MB), so only the
# ones the catalogue uses are committed: rerun this after changing a picture.
#
# Usage: tools/vendor-pictures.sh [DIR]
#   DIR  an already unpacked copy of the package (its root or its assets/ folder). Without it, the
#        pinned version is fetched with `npm pack` into a temporary folder.
set -euo pipefail

readonly PACKAGE='@lobehub/fluent-emoji-3d@1.1.0'
# The registry's dist.integrity for that version, so the pictures cannot silently change under us.
readonly INTEGRITY='sha512-Wlq2lVStTnr8BDpIJ0pEnTKO4LuDxxqTEhTvRtD1DLRF0me7ogeRQjKoehDHXuVJ2Qaecgl5wRBv60lUAG3h7g=='

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tsv=$repo/platform/src/demo/catalogue.tsv
dest=$repo/platform/src/demo/pictures

if [[ $# -ge 1 ]]; then
    assets=$1
    if [[ -d $assets/assets ]]; then assets=$assets/assets; fi
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null)
    tarball=$(echo "$tmp"/*.tgz)
    actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")
    if [[ $actual != "$INTEGRITY" ]]; then
        echo "vendor-pictures: $PACKAGE has integrity $actual, expected $INTEGRITY" >&2
        exit 1
    fi
    tar -xzf "$tarball" -C "$tmp"
    assets=$tmp/package/assets
fi
if [[ ! -d $assets ]]; then
    echo "vendor-pictures: $assets is not a folder of the package's pictures" >&2
    exit 1
fi

# The file stem of every picture the catalogue uses, once each. Same rule as `picture_stem` in
# platform/src/demo/catalogue.rs (no zero padding), so what is copied is what the platform looks up.
stems_text=$(python3 - "$tsv" <<'PY'
import sys

path = sys.argv[1]
stems, column = set(), None
for number, line in enumerate(open(path, encoding="utf-8").read().splitlines(), 1):
    if not line.strip() or line.startswith("#"):
        continue
    fields = [f.strip() for f in line.split("\t")]
    if column is None:  # the header
        if "picture" not in fields:
            sys.exit(f"{path}:{number}: the header has no `picture` column")
        column = fields.index("picture")
        continue
    if len(fields) <= column or not fields[column]:
        sys.exit(f"{path}:{number}: no picture")
    stems.add("-".join(format(ord(c), "x") for c in fields[column]))
print("\n".join(sorted(stems)))
PY
)
mapfile -t stems <<<"$stems_text"

# Check them all before touching the folder, and name every missing one at once.
missing=()
for stem in "${stems[@]}"; do
    [[ -f $assets/$stem.webp ]] || missing+=("$stem.webp")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "vendor-pictures: no such picture in $assets: ${missing[*]}" >&2
    echo "(a file is named by the emoji's code points; check whether it carries fe0f)" >&2
    exit 1
fi

mkdir -p "$dest"
declare -A used=()
for stem in "${stems[@]}"; do
    used[$stem]=1
    # Unchanged files keep their timestamps, so the build does not redo their resizing.
    cmp -s "$assets/$stem.webp" "$dest/$stem.webp" || cp "$assets/$stem.webp" "$dest/$stem.webp"
done
# Pictures no product uses any more would only bloat the repository and the binary.
for file in "$dest"/*.webp; do
    [[ -e $file ]] || continue
    stem=$(basename "$file" .webp)
    if [[ -z ${used[$stem]:-} ]]; then
        rm -- "$file"
        echo "removed $stem.webp"
    fi
done

bytes=$(cat "$dest"/*.webp | wc -c)
echo "vendor-pictures: ${#stems[@]} pictures, $bytes bytes in ${dest#"$repo"/}"
