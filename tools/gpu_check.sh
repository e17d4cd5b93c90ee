#!/usr/bin/env bash
# The one GPU check: build the CUDA extension in place, run every test marked `cuda`, run a
# compute-sanitizer memcheck over the small op tests, run the op benchmark, run the end-to-end
# benchmark against diffusers (tools/bench_gpu.py, issue #7) in the time that is left, and print
# one Markdown report (also written to $OUT/gpu_check.md with the logs beside it).
#
# For the GPU machine (H100/H200: nvcc, python3 with numpy/pytest/torch, no internet):
#     bash tools/gpu_check.sh            # about 8 minutes on an H100
# diffusers is not installed there: put its wheel in .whl/ (pure Python, e.g.
# `pip download --no-deps -d .whl diffusers==0.35.2`) and carry .whl; it is installed into
# /tmp/site for this run only. Without it the end-to-end benchmark measures our side alone.
# Environment:
#     SC_CUDA_ARCHS   SM list to build (default "90": the card at hand; CI builds 80 86 89 90)
#     SC_COMMIT       commit to name in the report when the tree has no .git
#     GPU_CHECK_SANITIZE=0   skip the compute-sanitizer step
#     GPU_CHECK_LIMIT seconds the whole check aims at (default 480); the end-to-end benchmark gets
#                     what is left of it, at least 150 s (enough for the full models at 1024x1024)
#     GPU_CHECK_E2E=0 skip the end-to-end benchmark; GPU_CHECK_E2E_ARGS: extra bench_gpu.py options
#     OUT             folder for the report and logs (default ./gpu_check_out)
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/gpu_check.md"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
: >"$REPORT"
start_all=$(date +%s)
say() { echo "$*" | tee -a "$REPORT"; }
elapsed() { echo $(($(date +%s) - $1)); }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo "${SC_COMMIT:-unknown}")
say "# GPU check $(date -u +%Y-%m-%dT%H:%MZ), commit $commit"
say ""
say '```'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$REPORT"
(nvcc --version | tail -n 1) 2>&1 | tee -a "$REPORT"
$PY -c 'import sys, numpy; print("python", sys.version.split()[0], "numpy", numpy.__version__)' 2>&1 | tee -a "$REPORT"
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -n 1 | tee -a "$REPORT"
say '```'

# ---- build ----
t0=$(date +%s)
SC_CUDA=1 SC_CUDA_ARCHS="${SC_CUDA_ARCHS:-90}" $PY setup.py build_ext --inplace --force >"$OUT_DIR/build.log" 2>&1
build_rc=$?
build_s=$(elapsed "$t0")
warnings=$(grep -i "warning" "$OUT_DIR/build.log" | grep -cE "cuda/|csrc/")
info=$($PY -c 'import stable_cascade_c as sc; i = sc.build_info(); print(i["cuda_compiled"], i["cuda_runtime_available"], (i["cuda_device"] or {}).get("name"))' 2>&1 | tail -n 1)
say ""
say "| step | result | seconds |"
say "|---|---|---:|"
say "| build (rc $build_rc, $warnings warning lines) | cuda_compiled, gpu usable, device: $info | $build_s |"
if [ "$build_rc" -ne 0 ]; then
    say ""
    say "Build failed; last lines of build.log:"
    say '```'
    tail -n 30 "$OUT_DIR/build.log" | tee -a "$REPORT"
    say '```'
    exit 1
fi
grep -i "warning" "$OUT_DIR/build.log" | grep -E "cuda/|csrc/" | head -n 40 >"$OUT_DIR/build_warnings.txt"

# ---- tests marked cuda ----
timeout_flag=""
$PY -c 'import pytest_timeout' 2>/dev/null && timeout_flag="--timeout=300"
t0=$(date +%s)
$PY -m pytest -q -m cuda tests -p no:cacheprovider --continue-on-collection-errors $timeout_flag \
    --junitxml="$OUT_DIR/junit.xml" >"$OUT_DIR/pytest.log" 2>&1
test_rc=$?
say "| pytest -m cuda (rc $test_rc) | $(tail -n 1 "$OUT_DIR/pytest.log") | $(elapsed "$t0") |"

# ---- compute-sanitizer over the small op tests ----
if [ "${GPU_CHECK_SANITIZE:-1}" = "1" ] && command -v compute-sanitizer >/dev/null; then
    t0=$(date +%s)
    timeout 240 compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 \
        $PY -m pytest -q -x -p no:cacheprovider tests/test_cuda_ops.py \
        -k "not bands and not banded and not stage_c and not round_trip and not allocation" \
        >"$OUT_DIR/sanitizer.log" 2>&1
    san_rc=$?
    san_errors=$(grep -c "Invalid\|out of bounds\|misaligned" "$OUT_DIR/sanitizer.log")
    say "| compute-sanitizer memcheck, small op tests (rc $san_rc) | $san_errors error lines; $(grep -E "passed|failed" "$OUT_DIR/sanitizer.log" | tail -n 1) | $(elapsed "$t0") |"
fi

# ---- per-file results ----
say ""
$PY - "$OUT_DIR/junit.xml" <<'EOF' | tee -a "$REPORT"
import collections, sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print(f"(no junit report: {e})")
    raise SystemExit
rows = collections.defaultdict(lambda: collections.Counter())
failures = []
for case in root.iter("testcase"):
    parts = case.get("classname", "?").split(".")
    f = next((p for p in parts if p.startswith("test_")), ".".join(parts))
    kind = "passed"
    for tag in ("failure", "error", "skipped"):
        node = case.find(tag)
        if node is not None:
            kind = tag
            if tag != "skipped":
                msg = (node.get("message") or "").splitlines()
                failures.append(f"{f}::{case.get('name')}: {msg[0][:160] if msg else tag}")
    rows[f][kind] += 1
    rows[f]["seconds"] += float(case.get("time", 0))
print("| test file | passed | failed | errors | skipped | seconds |")
print("|---|---:|---:|---:|---:|---:|")
for f, c in sorted(rows.items()):
    print(f"| {f} | {c['passed']} | {c['failure']} | {c['error']} | {c['skipped']} | {c['seconds']:.1f} |")
if failures:
    print("\nFailures (first 40):\n")
    for line in failures[:40]:
        print(f"- {line}")
EOF

# ---- benchmark ----
say ""
t0=$(date +%s)
timeout 180 $PY tools/bench_cuda_ops.py --repeat 20 2>&1 | tee "$OUT_DIR/bench.log" | tee -a "$REPORT"
say ""
say "benchmark: $(elapsed "$t0") s"

# ---- end-to-end benchmark against diffusers (tools/bench_gpu.py, #7) ----
if [ "${GPU_CHECK_E2E:-1}" = "1" ]; then
    if ! $PY -c 'import diffusers' 2>/dev/null && ls .whl/diffusers-*.whl >/dev/null 2>&1; then
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            .whl/diffusers-*.whl >"$OUT_DIR/diffusers_install.log" 2>&1 && export PYTHONPATH="$PYTHONPATH:/tmp/site"
    fi
    # The weights (about 15 GB of bf16) go to RAM when /dev/shm has room: written and read back fastest.
    e2e_dir=/tmp/sc_bench_gpu
    shm_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
    [ "${shm_kb:-0}" -gt 25000000 ] && e2e_dir=/dev/shm/sc_bench_gpu
    left=$((${GPU_CHECK_LIMIT:-480} - $(elapsed "$start_all")))
    budget=$((left > 150 ? left : 150))
    say ""
    t0=$(date +%s)
    # --budget skips the (size, variant) pairs that would not fit; the hard limit is a backstop.
    # The report file is rewritten after every measurement, so a killed run still leaves its table.
    # shellcheck disable=SC2086
    timeout $((budget + 90)) $PY tools/bench_gpu.py --budget "$budget" --workdir "$e2e_dir" \
        --markdown "$OUT_DIR/bench_gpu.md" --json "$OUT_DIR/bench_gpu.json" ${GPU_CHECK_E2E_ARGS:-} \
        >"$OUT_DIR/bench_gpu.log" 2>&1
    e2e_rc=$?
    if [ -s "$OUT_DIR/bench_gpu.md" ]; then
        tee -a "$REPORT" <"$OUT_DIR/bench_gpu.md"
    else
        say "(no end-to-end table; last lines of bench_gpu.log:)"
        say '```'
        tail -n 30 "$OUT_DIR/bench_gpu.log" | tee -a "$REPORT"
        say '```'
    fi
    say ""
    say "end-to-end benchmark (rc $e2e_rc, budget $budget s): $(elapsed "$t0") s; whole check: $(elapsed "$start_all") s"
    rm -rf "$e2e_dir"
fi
echo "report: $REPORT"
