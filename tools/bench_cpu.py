"""CPU benchmark: stable_cascade_c against diffusers (torch CPU, float32) on the same machine.

One run measures, for each configuration and thread count, the same work through both
implementations: one text-encoder forward (prompt + negative prompt), one Stage C step (CFG
batch of 2), one Stage B step, one Stage A decode, the end-to-end generation (tokenizer to
uint8 images), the load time, and the peak resident memory of each. Our Pipeline's
low_memory mode (each network loaded for its stage and freed after it) is run end to end once
per size as well, for its time and peak memory.

Configurations (random weights, written ONCE per configuration by tools/bench_common.py, with
make_ref_pipeline's distributions and without torch, as two Hub-layout folders, stable-cascade-prior
and stable-cascade, which both sides then load as a user would; kept in --workdir between runs):
  mid   the lite widths with one layer per level (Stage C lite: 1536 channels; Stage B lite:
        320/576/1152/1152; CLIP bigG widths with 2 layers; Stage A with 2 of its 12 bottleneck
        blocks) at 256x256 and 512x512, end to end with 2+2 steps;
  real  a real-shape layer stack: Stage C at 2048 channels and Stage B at 320/640/1280/1280, one
        layer per level (up repeat mappers as published), CLIP bigG widths with 4 of its 32
        layers, Stage A with 2 bottleneck blocks, at 1024x1024 (Stage C latent 24x24, Stage B
        256x256), end to end with 1+1 steps at the first thread count only.

Each side runs in its own long-lived worker process, so torch's memory and ours never mix.
Peak memory is VmHWM from /proc/self/status, reset through /proc/self/clear_refs before each
run; the peaks reported come from the warm-up runs, before which our worker frees every
network's activation arena (as in a fresh process). A run's peak includes what the process
holds then: the weights (torch maps its weights lazily, so they count once touched).
The parent sends both workers the same commands in turns, alternating which goes first, and
reports medians, so that other jobs on a shared machine slow both sides alike. The first run of
each measurement is a warm-up whose outputs are compared between the sides.

Ratios: speed = torch time / our time (> 1: we are faster); memory = our peak / torch peak.

    /work/refenv/bin/python tools/bench_cpu.py [--configs mid real] [--threads 2 1]
        [--reps N] [--variant float32|bf16] [--workdir /tmp/sc_bench_cpu] [--json results.json]

--variant bf16 writes a .bf16 variant of every weight file (round to nearest even) and has both
sides load it, as a user who downloaded the Hub's bf16 files would: diffusers with
torch_dtype=float32 (weights widened to float32 at load), ours with its default weights="auto"
(bf16 dense weights kept as bf16 and widened while packed; the arithmetic is float32 on both).

Needs the extension built in place (SC_CUDA=0 python3 setup.py build_ext --inplace) and a
Python with torch, diffusers and transformers (the reference venv). About 8 minutes on 2 cores.
"""
import argparse
import copy
import json
import os
import statistics
import sys
import time
import zlib

import numpy as np

import bench_common as bc

bc.use_source_tree()
BASE_ENV = dict(os.environ)  # the workers' environment: as the user started us

PROMPT = "Anthropomorphic cat dressed as a pilot"
NEGATIVE = "blurry"
SEED = 7

_PRIOR_LITE = dict(conditioning_dim=1536, block_out_channels=[1536, 1536], num_attention_heads=[24, 24])
_PRIOR = dict(conditioning_dim=2048, block_out_channels=[2048, 2048], num_attention_heads=[32, 32])
_DECODER_LITE = dict(block_out_channels=[320, 576, 1152, 1152], num_attention_heads=[0, 9, 18, 18],
                     up_blocks_repeat_mappers=[2, 2, 2, 2])
_DECODER = dict(block_out_channels=[320, 640, 1280, 1280], num_attention_heads=[0, 0, 20, 20],
                up_blocks_repeat_mappers=[3, 3, 2, 2])
_CLIP_BIGG = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, projection_dim=1280)

CONFIGS = {
    "mid": dict(
        text_encoder=dict(_CLIP_BIGG, num_hidden_layers=2),
        prior=dict(_PRIOR_LITE, preset="prior_lite", down_num_layers_per_block=[1, 1], up_num_layers_per_block=[1, 1]),
        decoder=dict(_DECODER_LITE, preset="decoder_lite", down_num_layers_per_block=[1, 1, 1, 1],
                     up_num_layers_per_block=[1, 1, 1, 1]),
        vqgan=dict(bottleneck_blocks=2),
        sizes=[256, 512], steps=(2, 2), reps=3, e2e_reps=2, e2e_all_threads=True),
    "real": dict(
        text_encoder=dict(_CLIP_BIGG, num_hidden_layers=4),
        prior=dict(_PRIOR, preset="prior", down_num_layers_per_block=[1, 1], up_num_layers_per_block=[1, 1]),
        decoder=dict(_DECODER, preset="decoder", down_num_layers_per_block=[1, 1, 1, 1],
                     up_num_layers_per_block=[1, 1, 1, 1]),
        vqgan=dict(bottleneck_blocks=2),
        sizes=[1024], steps=(1, 1), reps=2, e2e_reps=1, e2e_all_threads=False),
}

COMPONENTS = ("text_encoder", "stage_c", "stage_b", "stage_a", "e2e")
LABELS = {"text_encoder": "text encoder", "stage_c": "Stage C step", "stage_b": "Stage B step",
          "stage_a": "Stage A decode", "e2e": "end to end", "load": "load"}


# ---- inputs shared by both sides ----------------------------------------------------------------

def component_inputs(what, size, cfg):
    """Deterministic float32 inputs of one component measurement (NCHW, diffusers' shapes)."""
    from stable_cascade_c.pipeline import decoder_latent_size, prior_latent_size
    rng = np.random.default_rng(zlib.crc32(f"{what}/{size}".encode()))
    c_side = prior_latent_size(size, size)[0]
    b_side = decoder_latent_size((c_side, c_side))[0]
    width = cfg["text_encoder"]["hidden_size"]
    n = lambda *shape: rng.standard_normal(shape, dtype=np.float32)  # noqa: E731
    if what == "stage_c":
        return dict(sample=n(2, 16, c_side, c_side), timestep_ratio=np.full(2, 0.6, np.float32),
                    clip_text_pooled=n(2, 1, width), clip_text=n(2, 77, width),
                    clip_img=np.zeros((2, 1, 768), np.float32))
    if what == "stage_b":
        return dict(sample=n(1, 4, b_side, b_side), timestep_ratio=np.full(1, 0.6, np.float32),
                    clip_text_pooled=n(1, 1, width), effnet=n(1, 16, c_side, c_side))
    if what == "stage_a":
        return dict(latents=n(1, 4, b_side, b_side) * np.float32(0.3764))
    return {}


def write_inputs(cfg, path):
    """Every component input of `cfg` in one .npz (keys what/size/name) that both workers read."""
    arrays = {f"{what}/{size}/{k}": v for size in cfg["sizes"] for what in COMPONENTS
              for k, v in component_inputs(what, size, cfg).items()}
    np.savez(path, **arrays)


def read_inputs(path, what, size):
    with np.load(path) as f:
        prefix = f"{what}/{size}/"
        return {k[len(prefix):]: f[k] for k in f.files if k.startswith(prefix)}


# ---- the two workers ----------------------------------------------------------------------------

class TorchSide:
    """diffusers' StableCascadePriorPipeline + StableCascadeDecoderPipeline, torch CPU float32."""

    def __init__(self, prior_dir, decoder_dir, cfg, inputs, variant=None):
        sys.modules.setdefault("torchvision", None)  # the reference venv's torchvision does not match torch
        import torch
        from diffusers import StableCascadeDecoderPipeline, StableCascadePriorPipeline
        self.torch, self.cfg, self.inputs = torch, cfg, inputs
        self.prior = StableCascadePriorPipeline.from_pretrained(prior_dir, torch_dtype=torch.float32, variant=variant)
        self.decoder = StableCascadeDecoderPipeline.from_pretrained(decoder_dir, torch_dtype=torch.float32,
                                                                    variant=variant)
        for p in (self.prior, self.decoder):
            p.set_progress_bar_config(disable=True)
        tok = self.prior.tokenizer([PROMPT, NEGATIVE], padding="max_length", max_length=77, truncation=True,
                                   return_tensors="pt")
        self.tokens = (tok.input_ids, tok.attention_mask)

    def set_threads(self, n):
        self.torch.set_num_threads(n)

    def run(self, what, size):
        torch = self.torch
        with torch.no_grad():
            if what == "text_encoder":
                out = self.prior.text_encoder(input_ids=self.tokens[0], attention_mask=self.tokens[1],
                                              output_hidden_states=True)
                return out.hidden_states[-1].numpy()
            if what == "e2e":
                g = torch.Generator("cpu").manual_seed(SEED)
                steps = self.cfg["steps"]
                emb = self.prior(prompt=PROMPT, negative_prompt=NEGATIVE, height=size, width=size,
                                 num_inference_steps=steps[0], guidance_scale=4.0, generator=g).image_embeddings
                images = self.decoder(image_embeddings=emb, prompt=PROMPT, negative_prompt=NEGATIVE,
                                      guidance_scale=0.0, num_inference_steps=steps[1], generator=g,
                                      output_type="np").images
                return np.stack([np.array(im) for im in self.decoder.numpy_to_pil(images)])
            x = {k: torch.from_numpy(v) for k, v in self._x.items()}
            if what == "stage_c":
                return self.prior.prior(**x, return_dict=False)[0].numpy()
            if what == "stage_b":
                return self.decoder.decoder(**x, return_dict=False)[0].numpy()
            return self.decoder.vqgan.decode(x["latents"]).sample.numpy()

    def prepare(self, what, size):
        """Untimed per-run work: the inputs."""
        self._x = read_inputs(self.inputs, what, size)

    def free_workspaces(self):
        """Nothing to do: torch frees activations as it goes."""


class OursSide:
    """stable_cascade_c.Pipeline; each UNet step through forward_prepared, as the pipeline runs it."""

    def __init__(self, prior_dir, decoder_dir, cfg, inputs, low_memory=False, variant=None, math="float32"):
        import stable_cascade_c as sc
        self.sc, self.cfg, self.inputs = sc, cfg, inputs
        sc.set_cpu_math(math)
        self.pipe = sc.Pipeline.from_pretrained(prior_dir, decoder_dir, device="cpu", low_memory=low_memory,
                                                variant=variant)
        self.tokens = self.pipe.tokenizer([PROMPT, NEGATIVE])

    def set_threads(self, n):
        self.sc.set_num_threads(n)

    def free_workspaces(self):
        """Free every network's activation arena, as a fresh process starts (before warm-ups, so
        that a run's peak holds its own activations, not those kept from other measurements)."""
        if not self.pipe.low_memory:  # there the networks themselves come and go
            for net in (self.pipe.text_encoder, self.pipe.prior, self.pipe.decoder, self.pipe.vqgan):
                net.free_workspace()

    def prepare(self, what, size):
        """Untimed per-run work: the inputs and, for the UNets, the prepared conditioning."""
        self._x = read_inputs(self.inputs, what, size)
        self._cond = None
        if what == "stage_c":
            x = self._x
            self._cond = self.pipe.prior.prepare(x["clip_text_pooled"], clip_text=x["clip_text"], clip_img=x["clip_img"])
        elif what == "stage_b":
            self._cond = self.pipe.decoder.prepare(self._x["clip_text_pooled"], effnet=self._x["effnet"])

    def run(self, what, size):
        p = self.pipe
        if what == "text_encoder":
            return p.text_encoder(self.tokens["input_ids"], attention_mask=self.tokens["attention_mask"]).hidden_states
        if what == "e2e":
            steps = self.cfg["steps"]
            return np.stack(p(prompt=PROMPT, negative_prompt=NEGATIVE, height=size, width=size,
                              prior_num_inference_steps=steps[0], prior_guidance_scale=4.0,
                              num_inference_steps=steps[1], guidance_scale=0.0, seed=SEED, progress=False))
        x = self._x
        if what == "stage_c":
            return p.prior.forward_prepared(self._cond, x["sample"], x["timestep_ratio"])
        if what == "stage_b":
            return p.decoder.forward_prepared(self._cond, x["sample"], x["timestep_ratio"])
        return p.vqgan.decode(x["latents"])


def worker_main(side, prior_dir, decoder_dir, config_name, inputs):
    """Serve the parent's commands (bench_common.serve); the libraries' output goes to stderr."""
    cfg = CONFIGS[config_name]
    impl = None

    def handle(cmd):
        nonlocal impl
        op = cmd["op"]
        result = {}
        if op == "load":
            bc.reset_peak()
            t0 = time.perf_counter()
            if side == "torch":
                impl = TorchSide(prior_dir, decoder_dir, cfg, inputs, variant=cmd.get("variant"))
            else:
                impl = OursSide(prior_dir, decoder_dir, cfg, inputs, low_memory=side == "ours_low_memory",
                                variant=cmd.get("variant"), math=cmd.get("math", "float32"))
            result = dict(seconds=time.perf_counter() - t0, peak_kb=bc.status_kb("VmHWM"),
                          rss_kb=bc.status_kb("VmRSS"))
        elif op == "threads":
            impl.set_threads(cmd["n"])
        elif op == "run":
            impl.prepare(cmd["what"], cmd["size"])
            if cmd.get("save"):  # the warm-up run, whose peak is reported
                impl.free_workspaces()
            bc.reset_peak()
            t0 = time.perf_counter()
            out = impl.run(cmd["what"], cmd["size"])
            result = dict(seconds=time.perf_counter() - t0, peak_kb=bc.status_kb("VmHWM"),
                          rss_kb=bc.status_kb("VmRSS"))
            if cmd.get("save"):
                np.save(cmd["save"], out)
        return result

    bc.serve(handle)


def Worker(side, dirs, config_name, inputs):
    """A worker process of this script (bench_common.Worker) serving one side."""
    return bc.Worker(side, [os.path.abspath(__file__), "--worker", side, "--dirs", *dirs, "--configs", config_name,
                            "--inputs", inputs], BASE_ENV)


# ---- weights ------------------------------------------------------------------------------------

def build_weights(name, cfg, workdir):
    """Random-weight components of `cfg` saved as two Hub folders under workdir/name, float32
    (bench_common.write_hub_repos; folders already holding them are reused). Returns
    (prior_dir, decoder_dir)."""
    from stable_cascade_c.unet import PRESETS

    t0 = time.perf_counter()
    unets = {}
    for part in ("prior", "decoder"):
        c = dict(cfg[part])
        unets[part] = dict(PRESETS[c.pop("preset")], **c)
    prior_dir, decoder_dir, written = bc.write_hub_repos(os.path.join(workdir, name), cfg["text_encoder"], unets,
                                                         cfg["vqgan"], dtype="float32")
    if written:
        print(f"[{name}] random weights saved in {os.path.join(workdir, name)} ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr)
    return prior_dir, decoder_dir


def write_bf16_variant(dirs):
    """Next to every weight file X.safetensors of the two repos, X.bf16.safetensors with the
    floating-point tensors rounded to bfloat16 (torch's round to nearest even), once."""
    import torch
    from safetensors.torch import load_file, save_file
    for root in dirs:
        for dirpath, _, files in os.walk(root):
            if any(f.endswith(".index.json") for f in files):
                raise RuntimeError(f"{dirpath}: sharded weights; write_bf16_variant handles single files only")
            for f in files:
                if not f.endswith(".safetensors") or f.endswith(".bf16.safetensors"):
                    continue
                dst = os.path.join(dirpath, f[:-len(".safetensors")] + ".bf16.safetensors")
                if not os.path.exists(dst):
                    tensors = load_file(os.path.join(dirpath, f))
                    save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in tensors.items()},
                              dst)


# ---- the measurement loop -----------------------------------------------------------------------

def compare(what, ours, ref):
    if ours.shape != ref.shape:
        return f"shape {ours.shape} vs {ref.shape}"
    if what == "e2e":
        return f"max |pixel diff| {int(np.abs(ours.astype(np.int16) - ref.astype(np.int16)).max())}"
    return f"rel err {np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30):.1e}"


def bench_config(name, cfg, dirs, threads, reps, workdir, log, variant=None, math="float32"):
    """Every measurement of one configuration; returns the raw results (times, peaks, checks)."""
    reps = reps or cfg["reps"]
    inputs = os.path.join(workdir, f"inputs_{name}.npz")

    def out_path(side, what, size):
        return os.path.join(workdir, f"out_{side}_{what}_{size}.npy")

    write_inputs(cfg, inputs)
    components = [("text_encoder", 0)] + [(w, s) for s in cfg["sizes"] for w in COMPONENTS[1:-1]]
    res = {"reps": reps, "load": {}, "runs": {}, "peaks": {}, "checks": {}, "low_memory": {}}
    workers = [Worker(side, dirs, name, inputs) for side in ("torch", "ours")]
    try:
        for w in workers:
            res["load"][w.side] = w.call(op="load", variant=variant, math=math)
            log(f"[{name}] {w.side} loaded in {res['load'][w.side]['seconds']:.1f} s")
        for ti, nt in enumerate(threads):
            for w in workers:
                w.call(op="threads", n=nt)
            e2e = [("e2e", s) for s in cfg["sizes"]] if ti == 0 or cfg["e2e_all_threads"] else []
            # sizes ascending, each size's components before its end-to-end run
            for what, size in sorted(components + e2e, key=lambda m: (m[1], m[0] == "e2e")):
                key = f"{what}/{size}/{nt}"
                if ti == 0:  # warm-up (arena planning, lazy loads) with the peaks and the output check
                    first = {w.side: w.call(op="run", what=what, size=size, save=out_path(w.side, what, size))
                             for w in workers}
                    res["peaks"][f"{what}/{size}"] = {side: r["peak_kb"] for side, r in first.items()}
                    res["checks"][f"{what}/{size}"] = compare(
                        what, np.load(out_path("ours", what, size)), np.load(out_path("torch", what, size)))
                runs = {w.side: [] for w in workers}
                for r in range(cfg["e2e_reps"] if what == "e2e" else reps):
                    for w in (workers if r % 2 == 0 else workers[::-1]):
                        runs[w.side].append(w.call(op="run", what=what, size=size)["seconds"])
                res["runs"][key] = runs
                med = {side: statistics.median(v) for side, v in runs.items()}
                log(f"[{name}] {nt} thr {LABELS[what]:15s} {size or '':>5} torch {med['torch'] * 1e3:9.1f} ms  "
                    f"ours {med['ours'] * 1e3:9.1f} ms  x{med['torch'] / med['ours']:.2f}")
    finally:
        for w in workers:
            w.close()
    lean = Worker("ours_low_memory", dirs, name, inputs)  # alone, after the others have exited
    try:
        lean.call(op="load", variant=variant, math=math)
        lean.call(op="threads", n=threads[0])
        for size in cfg["sizes"]:
            path = out_path("ours_low_memory", "e2e", size)
            res["low_memory"][str(size)] = lean.call(op="run", what="e2e", size=size, save=path)
            res["checks"][f"e2e low_memory/{size}"] = compare("e2e", np.load(path), np.load(out_path("torch", "e2e", size)))
    finally:
        lean.close()
    return res


def table(name, cfg, res, threads):
    """The Markdown table of one configuration: times per thread count, then peaks and ratios."""
    mb = 1024.0
    med = {k: {side: statistics.median(v) for side, v in runs.items()} for k, runs in res["runs"].items()}
    head = "| measurement | size |"
    rule = "|---|---|"
    for nt in threads:
        head += f" torch ms ({nt}T) | ours ms ({nt}T) | speed ({nt}T) |"
        rule += "---|---|---|"
    head += " torch peak MB | ours peak MB | memory |"
    rule += "---|---|---|"
    rows = [f"### {name}: " + describe(cfg, res["reps"]), "", head, rule]
    load = res["load"]
    row = "| load | |"
    for i, _ in enumerate(threads):
        row += (f" {load['torch']['seconds'] * 1e3:.0f} | {load['ours']['seconds'] * 1e3:.0f} | "
                f"{load['torch']['seconds'] / load['ours']['seconds']:.2f} |" if i == 0 else " | | |")
    rows.append(row + f" {load['torch']['peak_kb'] / mb:.0f} | {load['ours']['peak_kb'] / mb:.0f} | "
                      f"{load['ours']['peak_kb'] / load['torch']['peak_kb']:.2f} |")
    for key, peaks in res["peaks"].items():
        what, size = key.split("/")
        row = f"| {LABELS[what]} | {size if size != '0' else ''} |"
        for nt in threads:
            t = med.get(f"{key}/{nt}")
            row += f" {t['torch'] * 1e3:.1f} | {t['ours'] * 1e3:.1f} | {t['torch'] / t['ours']:.2f} |" if t else " | | |"
        rows.append(row + f" {peaks['torch'] / mb:.0f} | {peaks['ours'] / mb:.0f} | "
                          f"{peaks['ours'] / peaks['torch']:.2f} |")
    for size, r in res["low_memory"].items():
        e2e = med.get(f"e2e/{size}/{threads[0]}")
        row = f"| end to end, ours low_memory | {size} | {e2e['torch'] * 1e3:.1f} | {r['seconds'] * 1e3:.1f} | " \
              f"{e2e['torch'] / r['seconds']:.2f} |" + " | | |" * (len(threads) - 1)
        torch_peak = res["peaks"][f"e2e/{size}"]["torch"]
        rows.append(row + f" {torch_peak / mb:.0f} | {r['peak_kb'] / mb:.0f} | {r['peak_kb'] / torch_peak:.2f} |")
    rows.append("")
    rows.append("Output checks (ours vs torch, warm-up runs): " +
                "; ".join(f"{k} {v}" for k, v in res["checks"].items()))
    return "\n".join(rows)


def describe(cfg, reps):
    p, d, te = cfg["prior"], cfg["decoder"], cfg["text_encoder"]
    return (f"CLIP {te['hidden_size']} wide x {te['num_hidden_layers']} layers; Stage C {p['block_out_channels']} "
            f"layers {p['down_num_layers_per_block']}/{p['up_num_layers_per_block']}; Stage B "
            f"{d['block_out_channels']} layers {d['down_num_layers_per_block']}/{d['up_num_layers_per_block']} "
            f"repeats {d['up_blocks_repeat_mappers']}; Stage A {cfg['vqgan']['bottleneck_blocks']} bottleneck blocks; "
            f"end to end with {cfg['steps'][0]}+{cfg['steps'][1]} steps, prior CFG 4, decoder CFG off; medians of "
            f"{reps} runs ({cfg['e2e_reps']} end to end)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--reps", type=int, help="timed runs of each component per side and thread count "
                    "(default: 3 for mid, 2 for real)")
    ap.add_argument("--workdir", default="/tmp/sc_bench_cpu", help="weights (kept between runs) and scratch files")
    ap.add_argument("--json", help="also write every raw figure to this file")
    ap.add_argument("--ours-math", choices=["float32", "bfloat16"], default="float32",
                    help="our CPU matrix products (bfloat16: AMX, see docs/cpu_performance.md); torch stays float32")
    ap.add_argument("--variant", choices=["float32", "bf16"], default="float32",
                    help="weight files both sides load (bf16: the Hub's .bf16 variant, see above)")
    ap.add_argument("--worker", choices=["torch", "ours", "ours_low_memory"], help=argparse.SUPPRESS)
    ap.add_argument("--dirs", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker_main(args.worker, args.dirs[0], args.dirs[1], args.configs[0], args.inputs)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    os.makedirs(args.workdir, exist_ok=True)
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    everything = {}
    for name in args.configs:
        cfg = CONFIGS[name]
        dirs = build_weights(name, cfg, args.workdir)
        variant = None
        if args.variant == "bf16":
            write_bf16_variant(dirs)
            variant = "bf16"
        everything[name] = bench_config(name, cfg, dirs, args.threads, args.reps, args.workdir, log, variant,
                                        args.ours_math)
    import platform
    import stable_cascade_c as sc
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    head = (f"{time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} CPUs ({sc.build_info()['cpu_features']}); "
            f"weight files {args.variant}, our math {args.ours_math}; load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
            f"total {time.perf_counter() - t0:.0f} s")
    print(head)
    for name in args.configs:
        print()
        print(table(name, CONFIGS[name], everything[name], args.threads))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(header=head, configs={k: copy.deepcopy(CONFIGS[k]) for k in args.configs},
                           results=everything), f, indent=1)


if __name__ == "__main__":
    main()
