#!/bin/sh
# Run each fuzzer for SECONDS (default 60), starting from the committed corpus
# tests/data/fuzz/<target>/ plus what earlier runs found (build/fuzz/corpus_<target>/, where new
# interesting inputs go; the committed corpus stays untouched: tools/fuzz/merge.sh adds to it).
# A crash, a sanitizer report, a failed invariant, a 10 s hang or 2 GB of memory leaves the input
# in build/fuzz/ as crash-*/timeout-*/oom-* and makes this script fail.
# Usage: tools/fuzz/run.sh [SECONDS] [TARGET...]   (targets: json safetensors tokenizer)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-json safetensors tokenizer}
OUT="$ROOT/build/fuzz"
for target in $TARGETS; do
    mkdir -p "$OUT/corpus_$target"
    echo "== fuzz_$target for ${SECONDS_EACH}s"
    (cd "$OUT" && "./fuzz_$target" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -dict="$ROOT/tools/fuzz/$target.dict" -print_final_stats=1 \
        "corpus_$target" "$ROOT/tests/data/fuzz/$target")
done
