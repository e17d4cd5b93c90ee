#!/bin/sh
# The CI fuzzing step: build and run every fuzzer for SECONDS each (default 45), starting from
# the committed corpus. Needs clang with libFuzzer; when it is missing it is installed with
# apt-get if that is possible here and quick (5 minutes at most); when that fails the step says
# why and succeeds. A finding (crash, sanitizer report, failed invariant, hang, out of memory)
# fails it: the input is left in build/fuzz/ (see docs/reliability.md to reproduce it).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${1:-45}
CC=${CC:-clang}

have_libfuzzer() {
    tmp=$(mktemp -d)
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return (int)(d && n && 0); }\n' \
        >"$tmp/probe.c"
    if "$CC" -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then found=0; else found=1; fi
    rm -rf "$tmp"
    return $found
}

if ! have_libfuzzer; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "fuzzing: no clang with libFuzzer, installing clang with apt-get"
        timeout 300 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang' \
            >/dev/null 2>&1 || true
    fi
    if ! have_libfuzzer; then
        echo "fuzzing skipped: no clang with libFuzzer here, and it could not be installed"
        exit 0
    fi
fi
"$ROOT/tools/fuzz/build.sh"
"$ROOT/tools/fuzz/run.sh" "$SECONDS_EACH"
