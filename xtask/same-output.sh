#!/usr/bin/env bash
# Converts the same inputs with two bsonflow binaries and says whether the exports are
# byte-identical (every file but .complete, whose date differs, compared byte for byte).
#
#   xtask/same-output.sh OLD_BINARY NEW_BINARY [--big]
#
# Inputs: the bundled sample, every mongodump folder, archive and data directory under
# ../shared/testdata (failing inputs must fail the same way: same exit status, same files),
# single BSON files of bsondump's fixtures, and with --big the benchmark file
# bench-data/events.bson (make it with `cargo xtask bench` or ../shared/tools/gen_bench_bson.py);
# GNU tar packs the sample and a real data directory as tar.gz / tar.zst.
set -uo pipefail
old=$1 new=$2 big=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared/testdata
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

inputs=("$root/testdata/sample-dump")
for d in "$shared"/mongo-tools/*; do inputs+=("$d"); done
for d in "$shared"/real-dbpaths/*/dbpath "$shared"/generated-dbpaths/*/dbpath; do inputs+=("$d"); done
for f in "$shared"/bsondump/*.bson; do inputs+=("$f --db bsondump"); done
# Archives made here with GNU tar: a BSON set (gzip, zstd) and a physical backup.
tar -czf "$work/sample.tar.gz" -C "$root/testdata" sample-dump
tar --zstd -cf "$work/sample.tar.zst" -C "$root/testdata" sample-dump
tar -czf "$work/products-dbpath.tar.gz" -C "$shared/real-dbpaths/mongo42-products" dbpath
inputs+=("$work/sample.tar.gz" "$work/sample.tar.zst" "$work/products-dbpath.tar.gz")
[ "$big" = --big ] && inputs+=("$root/bench-data/events.bson --db bench")

same=0 differ=0
for spec in "${inputs[@]}"; do
  read -r input extra <<<"$spec"
  for side in old new; do
    bin=${!side}
    rm -rf "$work/$side"
    # shellcheck disable=SC2086
    "$bin" convert "$input" --out "$work/$side" --quiet --snapshot-date 2020-01-01T00:00:00.000Z $extra \
      >"$work/$side.stdout" 2>"$work/$side.stderr"
    echo $? >"$work/$side.status"
    # The listing and the bytes of every file but .complete and the new run marker.
    (cd "$work/$side" 2>/dev/null && find . -type f ! -name .complete ! -name .bsonflow-export -print0 | sort -z | xargs -0r sha256sum) >"$work/$side.sums"
    (cd "$work/$side" 2>/dev/null && [ -f .complete ] && echo complete) >>"$work/$side.sums"
  done
  if cmp -s "$work/old.status" "$work/new.status" && cmp -s "$work/old.sums" "$work/new.sums"; then
    same=$((same + 1))
    printf 'same     %s (exit %s, %s data and metadata files)\n' "${input#$root/}" "$(cat "$work/new.status")" "$(grep -c ' ' "$work/new.sums")"
  else
    differ=$((differ + 1))
    printf 'DIFFERS  %s (exit %s vs %s)\n' "${input#$root/}" "$(cat "$work/old.status")" "$(cat "$work/new.status")"
    diff "$work/old.sums" "$work/new.sums" | head -20
  fi
done
echo "$same same, $differ differ"
[ "$differ" = 0 ]
