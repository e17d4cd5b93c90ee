#!/usr/bin/env bash
# Run the test suite against an AddressSanitizer + UBSan build of the extension (in place).
set -euo pipefail
cd "$(dirname "$0")/.."
SC_CUDA=0 SC_SANITIZE=1 python setup.py build_ext --inplace -q --force
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
status=0
# Tests marked `rss` measure resident memory, which ASan's redzones and quarantine of freed blocks
# make meaningless; they run in the normal suite.
LD_PRELOAD="$asan:$ubsan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    PYTHONPATH="$PWD" python -m pytest -q -p no:cacheprovider -m "not rss" "$@" || status=$?
# Leave a normal build behind so later runs are not slowed by the instrumented one.
SC_CUDA=0 python setup.py build_ext --inplace -q --force
exit $status
