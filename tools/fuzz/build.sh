#!/bin/sh
# Build the libFuzzer harnesses with AddressSanitizer + UBSan into build/fuzz/.
# Needs clang with libFuzzer (Debian/Ubuntu: apt-get install -y clang).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/build/fuzz"
CC=${CC:-clang}
mkdir -p "$OUT"
FLAGS="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
FLAGS="$FLAGS -D_GNU_SOURCE -Wall -Wextra -I$ROOT/csrc"
JSON_SRC="$ROOT/csrc/sc_json.c $ROOT/csrc/sc_strmap.c $ROOT/csrc/sc_status.c"
TOKENIZER_SRC="$ROOT/csrc/sc_tokenizer.c $ROOT/csrc/sc_tokenizer_files.c $ROOT/csrc/sc_bpe.c $ROOT/csrc/sc_unicode.c"
TOKENIZER_SRC="$TOKENIZER_SRC $ROOT/csrc/sc_unicode_tables.c $ROOT/csrc/sc_file.c"
# shellcheck disable=SC2086 # word splitting of the flag/source lists is intended
$CC $FLAGS "$ROOT/tools/fuzz/fuzz_json.c" $JSON_SRC -o "$OUT/fuzz_json"
# shellcheck disable=SC2086
$CC $FLAGS "$ROOT/tools/fuzz/fuzz_safetensors.c" "$ROOT/csrc/sc_safetensors.c" "$ROOT/csrc/sc_file.c" \
    "$ROOT/csrc/sc_tensor.c" $JSON_SRC -lm -o "$OUT/fuzz_safetensors"
# The tokenizer harness loads the CLIP vocabulary of the test data at start-up.
# shellcheck disable=SC2086
$CC $FLAGS -DSC_FUZZ_ROOT="\"$ROOT\"" "$ROOT/tools/fuzz/fuzz_tokenizer.c" $TOKENIZER_SRC $JSON_SRC -lm -lpthread \
    -o "$OUT/fuzz_tokenizer"
echo "built $OUT/fuzz_json $OUT/fuzz_safetensors $OUT/fuzz_tokenizer"
