#!/bin/sh
# Run both fuzzers for SECONDS each (default 60), starting from the committed seed corpus.
# New interesting inputs go to build/fuzz/corpus_*/ (the committed seeds stay untouched);
# a crash leaves its input in build/fuzz/ as crash-* and makes this script fail.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${1:-60}
OUT="$ROOT/build/fuzz"
for target in json safetensors; do
    mkdir -p "$OUT/corpus_$target"
    echo "== fuzz_$target for ${SECONDS_EACH}s"
    (cd "$OUT" && "./fuzz_$target" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -dict="$ROOT/tools/fuzz/$target.dict" -print_final_stats=1 \
        "corpus_$target" "$ROOT/tests/data/fuzz/$target")
done
