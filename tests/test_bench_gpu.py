"""tools/bench_gpu.py (issue #7's end-to-end GPU benchmark), checked without a GPU and without
torch: its dry run (tiny random models on the CPU, our side only) must produce the table with
every stage, and its FLOP model must give spec/flops.py's figures for the published configs."""
import importlib.util
import os
import re
import subprocess
import sys

from procutil import package_env

import stable_cascade_c
from stable_cascade_c.unet import PRESETS

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
SCRIPT = os.path.join(TOOLS, "bench_gpu.py")


def _load_module():
    """bench_gpu as a module (its imports only; main() is not run, sys.path is left alone)."""
    sys.path.insert(0, TOOLS)  # for `import bench_common`
    try:
        spec = importlib.util.spec_from_file_location("bench_gpu_under_test", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(TOOLS)


def test_dry_run_prints_every_stage(tmp_path):
    # The child runs the script file from a neutral directory with the tested package first on
    # PYTHONPATH; the script prefers this checkout only when it holds an in-place build, so the
    # child imports the same stable_cascade_c as this process (checked below).
    proc = subprocess.run([sys.executable, SCRIPT, "--dry-run", "--skip-reference", "--sizes", "256", "--variants",
                           "full", "--workdir", str(tmp_path)], env=package_env(), cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    package = os.path.dirname(os.path.abspath(stable_cascade_c.__file__))
    assert f"from {package}," in out, out[:1000]
    assert "reference: skipped (--skip-reference)" in out
    section = out[out.index("### full, 256x256"):]
    for label in ("text encoder, all calls (2 calls)", "Stage C conditioning (once per run)", "Stage C step, median",
                  "Stage C step, mean", "Stage C, all 2 steps", "Stage B conditioning (once per run)",
                  "Stage B step, median", "Stage B step, mean", "Stage B, all 2 steps", "Stage A decode",
                  "**end to end**", "load (both repos)", "peak memory, host MB (VmHWM), warm-up run"):
        m = re.search(r"^\| " + re.escape(label) + r" \| ([0-9.]+) \|", section, re.MULTILINE)
        assert m, f"no row {label!r} with a figure in:\n{section}"
        if label != "Stage B conditioning (once per run)":  # a few microseconds: may print 0.0
            assert float(m.group(1)) > 0, m.group(0)
    summary = re.search(r"^\| full \| 256x256 \| ([0-9.]+) \| not run \|", out, re.MULTILINE)
    assert summary and float(summary.group(1)) > 0, out[:2000]
    # The weights were written once and are reused by the next run (stamped folders).
    for repo, parts in (("stable-cascade-prior", ("prior", "text_encoder", "tokenizer", "scheduler")),
                        ("stable-cascade", ("decoder", "text_encoder", "tokenizer", "scheduler", "vqgan"))):
        for part in parts:
            assert os.path.isdir(tmp_path / "tiny" / repo / part), (repo, part)


def test_flop_model_matches_the_performance_notes():
    """spec/performance.md section 2c (from spec/flops.py): per step at 1024x1024, Stage C with CFG 8.157
    TFLOP, Stage B 6.161 TFLOP; lite: Stage C 1174 GFLOP per image (x2), Stage B 2210 GFLOP."""
    bg = _load_module()
    real = {"unets": PRESETS}
    c, b = bg.step_flops(real["unets"], "full", 1024)
    assert abs(c / 8.157e12 - 1) < 1e-3 and abs(b / 6.161e12 - 1) < 1e-3, (c, b)
    c, b = bg.step_flops(real["unets"], "lite", 1024, prior_cfg_batch=1)
    assert abs(c / 1174e9 - 1) < 2e-3 and abs(b / 2210e9 - 1) < 2e-3, (c, b)
    # 2048x2048 (Stage C latent 48x48, Stage B 512x512): 20 Stage C + 10 Stage B steps are 1039 of the
    # notes' 1048 TFLOP for that scenario (the rest: Stage A and CLIP); attention grows faster than pixels.
    c2, b2 = bg.step_flops(real["unets"], "full", 2048)
    assert abs((20 * c2 + 10 * b2) / 1039.4e12 - 1) < 1e-3, (c2, b2)
    assert 4.0 < c2 / 8.157e12 < 6.0 and 4.0 < b2 / 6.161e12 < 6.0


def test_real_models_are_the_published_tensors():
    """What the benchmark writes for the full-size models is tensor for tensor (names, shapes) the
    real checkpoints: the manifests of spec/keys kept in tests/data (prior, prior_lite, decoder,
    decoder_lite, the CLIP bigG text encoder, Stage A)."""
    bg = _load_module()
    written = bg.written_keys(bg.configs()["real"])
    assert sorted(written) == sorted(bg.MANIFESTS)
    for part, keys in written.items():
        assert keys == bg.read_manifest(part), part
