#!/bin/sh
# Add to the committed corpus tests/data/fuzz/<target>/ the inputs of build/fuzz/corpus_<target>/
# that cover code the committed ones do not (libFuzzer -merge=1), so later runs and the test
# suite's replay (tests/test_fuzz_corpus.py) start from them. Usage: tools/fuzz/merge.sh [TARGET...]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/build/fuzz"
for target in ${*:-json safetensors tokenizer}; do
    (cd "$OUT" && "./fuzz_$target" -merge=1 -max_len=4096 "$ROOT/tests/data/fuzz/$target" "corpus_$target")
done
