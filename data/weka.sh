#!/bin/sh
# data/weka.sh: the embedded default tabular data: the classic ARFF sets that Debian's `weka`
# package ships (credit-g, diabetes, ionosphere, segment, iris, ...), extracted from the .deb
# without installing it or Java: `apt-get download` (no root needed) + `dpkg -x`. .arff.gz
# files are gunzipped; .arff files inside the package's jars are extracted with `unzip` when
# present (weka 3.6.14 has none there: its sets live in /usr/share/doc/weka/examples).
# Idempotent: sets already in the cache are kept. Cache: $GH_DATA_DIR or <repo>/.data/weka.
# usage: data/weka.sh [DIR]
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-${GH_DATA_DIR:-$here/.data/weka}}
mkdir -p "$dest"

# The sets issue 5 names; when all are present there is nothing to do.
need="credit-g diabetes ionosphere segment-challenge"
missing=""
for n in $need; do [ -s "$dest/$n.arff" ] || missing="$missing $n"; done
if [ -z "$missing" ]; then
    echo "weka: $(ls "$dest"/*.arff | wc -l) ARFF files already in $dest"
    exit 0
fi

for tool in apt-get dpkg gzip; do
    command -v "$tool" >/dev/null 2>&1 || { echo "weka: needs $tool (Debian)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && apt-get download weka >"$tmp/download.log" 2>&1) || {
    echo "weka: 'apt-get download weka' failed (is there a Debian mirror? try apt-get update):" >&2
    tail -5 "$tmp/download.log" >&2
    exit 1
}
deb=$(ls "$tmp"/weka_*.deb)
dpkg -x "$deb" "$tmp/root"
echo "weka: extracted $(basename "$deb")"

count=0
find "$tmp/root" -type f \( -name '*.arff' -o -name '*.arff.gz' \) >"$tmp/list"
while IFS= read -r f; do
    base=$(basename "$f" .gz)
    case "$f" in
        *.gz) gzip -dc "$f" >"$dest/$base.part" ;;
        *) cp "$f" "$dest/$base.part" ;;
    esac
    mv "$dest/$base.part" "$dest/$base"   # a crash never leaves a half-written .arff
    count=$((count + 1))
done <"$tmp/list"

if command -v unzip >/dev/null 2>&1; then
    find "$tmp/root" -type f \( -name '*.jar' -o -name '*.zip' \) | while IFS= read -r j; do
        unzip -Z1 "$j" 2>/dev/null | grep -i '\.arff$' | while IFS= read -r member; do
            base=$(basename "$member")
            unzip -p "$j" "$member" >"$dest/$base.part" && mv "$dest/$base.part" "$dest/$base"
            echo "weka: $base (from $(basename "$j"))"
        done
    done
fi

for f in "$dest"/*.arff; do
    printf 'weka: %-28s %8d bytes\n' "$(basename "$f")" "$(wc -c <"$f")"
done
echo "weka: $count ARFF files from the package into $dest"
for n in $need; do
    [ -s "$dest/$n.arff" ] || { echo "weka: $n.arff not found in the package" >&2; exit 1; }
done
