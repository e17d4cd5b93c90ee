"""Shared parts of the end-to-end benchmarks (tools/bench_cpu.py, tools/bench_gpu.py).

- which stable_cascade_c the tools import (`use_source_tree`);
- host peak memory of a process (`status_kb`, `reset_peak`);
- the worker protocol: each side of a benchmark runs in its own process, which serves JSON-line
  commands on stdin and answers one JSON line each (`serve`, `Worker`);
- random-weight model folders laid out like the two Hub repos, written without torch
  (`write_hub_repos`): both our Pipeline and diffusers load them as a user would.

Nothing here imports torch, so the writer and the protocol also run where torch is absent.
"""
import concurrent.futures
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import traceback
import zlib

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
#: The real CLIP BPE files (vocab.json, merges.txt, tokenizer configs), copied into each repo.
TOKENIZER = os.path.join(ROOT, "tests", "data", "tokenizer", "clip")


def use_source_tree():
    """Import stable_cascade_c from this checkout when it holds an in-place build (setup.py
    build_ext --inplace); otherwise leave sys.path alone, so that an installed package is used
    (a checkout without the built extension would shadow it with a package that cannot import)."""
    if glob.glob(os.path.join(ROOT, "stable_cascade_c", "_C.*")) and ROOT not in sys.path:
        sys.path.insert(0, ROOT)


# ---- host memory ------------------------------------------------------------------------------

def status_kb(key):
    """A field of /proc/self/status in kB (VmHWM: peak resident size; VmRSS: current)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def reset_peak():
    """Make VmHWM start again from the current resident size (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# ---- worker protocol --------------------------------------------------------------------------

def serve(handle, catch=False):
    """The worker loop: one JSON command per stdin line, `handle(cmd)` -> dict answered as one
    JSON line on the original stdout; everything else printed (by us or the libraries) goes to
    stderr. {"op": "quit"} ends the loop without an answer. With `catch`, an exception becomes
    the answer {"error": "<type>: <message>"} (the traceback goes to stderr) and the worker
    goes on; without it, the worker dies and the parent's call raises."""
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            result = handle(cmd) or {}
        except Exception as exc:
            if not catch:
                raise
            traceback.print_exc()
            result = {"error": f"{type(exc).__name__}: {exc}".strip()[:500]}
        reply.write(json.dumps(result) + "\n")
        reply.flush()


class Worker:
    """A worker process (`python argv...`, which runs `serve`) and the parent's end of its pipes."""

    def __init__(self, side, argv, env=None):
        self.side = side
        self.proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def call(self, **cmd):
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise RuntimeError(f"the {self.side} worker died (exit code {self.proc.wait()}) on {cmd}")
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
        self.proc.wait()


# ---- random-weight Hub folders, without torch -------------------------------------------------

_DTYPES = {"float32": ("F32", 4), "bfloat16": ("BF16", 2), "int64": ("I64", 8)}
_WRITER_VERSION = 1  # bump when the values written change, so that stamped folders are rewritten


def _bf16_bits(x):
    """float32 -> bfloat16 bit patterns (round to nearest even; finite input)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)


class _Values:
    """Random values without generating each tensor: one pool of normal and one of uniform
    float32 numbers; a tensor is a run of the pool, scaled as its kind asks, starting at an offset
    derived from its name and wrapping around. The pool length is odd, so the rows of a matrix
    are different runs. Speed depends only on shapes; this writes gigabytes in seconds."""

    def __init__(self, seed, n=(1 << 22) + 17):
        rng = np.random.default_rng(seed)
        self.n = n
        self.pools = {"normal": rng.standard_normal(n, dtype=np.float32), "uniform": rng.random(n, dtype=np.float32)}
        self.cache = {}

    def block(self, kind, scale, dtype):
        key = (kind, scale, dtype)
        if key not in self.cache:
            x = self.pools[kind] * np.float32(scale)
            self.cache[key] = _bf16_bits(x) if dtype == "bfloat16" else x
        return self.cache[key]

    def write(self, f, name, kind, scale, dtype, count):
        """Write `count` values of `name` to the open file `f`."""
        if kind in ("zeros", "ones"):
            fill = 0.0 if kind == "zeros" else 1.0
            value = np.zeros(1, np.int64) if dtype == "int64" else np.full(1, fill, np.float32)
            if dtype == "bfloat16":
                value = _bf16_bits(value)
            chunk = np.resize(value, min(count, 1 << 20))
            for start in range(0, count, len(chunk)):
                f.write(chunk[:min(len(chunk), count - start)].tobytes())
            return
        block = self.block(kind, scale, dtype)
        off = zlib.crc32(name.encode()) % self.n
        while count:
            take = min(count, self.n - off)
            f.write(memoryview(block[off:off + take]))
            count -= take
            off = 0


def _kind(name, shape):
    """How make_ref_pipeline.randomize fills a parameter (weights N(0, 1/fan_in), GRN/Paella
    `gammas` U[0, 0.5), other vectors normal with std 0.1); buffers keep their initial values."""
    if name.endswith(("num_batches_tracked", "running_mean")):
        return "zeros", 1.0
    if name.endswith("running_var"):
        return "ones", 1.0
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return "normal", float(fan_in) ** -0.5
    if name.endswith("gammas"):
        return "uniform", 0.5
    return "normal", 0.1


def write_safetensors(path, keys, dtype, values):
    """A safetensors file holding random values for `keys` ([(name, shape[, file dtype])]);
    floating tensors are stored as `dtype` ("float32" or "bfloat16"). Layout as the reference
    writer: tensors by alignment then name, consecutive offsets, header padded to 8 bytes."""
    entries = []
    for key in keys:
        name, shape = key[0], tuple(int(s) for s in key[1])
        dt = "int64" if len(key) > 2 and key[2] == "int64" else dtype
        entries.append((name, shape, dt))
    entries.sort(key=lambda e: (-_DTYPES[e[2]][1], e[0]))
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, dt in entries:
        size = int(np.prod(shape, dtype=np.int64)) * _DTYPES[dt][1]
        header[name] = {"dtype": _DTYPES[dt][0], "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, dt in entries:
            kind, scale = _kind(name, shape)
            values.write(f, name, kind, scale, dt, int(np.prod(shape, dtype=np.int64)))
    os.replace(tmp, path)


def _json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


DIFFUSERS_VERSION = "0.35.2"  # written into the configs, as save_pretrained would


def clip_text_config(cfg, dtype):
    """transformers' config.json of a CLIPTextModelWithProjection (as transformers 5 saves it)."""
    return dict({"architectures": ["CLIPTextModelWithProjection"], "attention_dropout": 0.0, "bos_token_id": 0,
                 "eos_token_id": 2, "pad_token_id": 1, "hidden_act": "gelu", "initializer_factor": 1.0,
                 "initializer_range": 0.02, "layer_norm_eps": 1e-5, "max_position_embeddings": 77,
                 "model_type": "clip_text_model", "vocab_size": 49408, "dtype": dtype}, **cfg)


def _component(folder, config, keys, filename, dtype, seed, written):
    """One model folder (config.json + weights), skipped when its stamp says it already holds
    exactly this; `written` collects the folders actually (re)written."""
    stamp_path = os.path.join(folder, "bench_stamp.json")
    stamp = {"config": config, "dtype": dtype, "seed": seed, "writer": _WRITER_VERSION}
    weights = os.path.join(folder, filename)
    if os.path.isfile(stamp_path) and os.path.isfile(weights):
        with open(stamp_path) as f:
            if json.load(f) == json.loads(json.dumps(stamp)):
                return
    os.makedirs(folder, exist_ok=True)
    _json(os.path.join(folder, "config.json"), config)
    write_safetensors(weights, keys, dtype, _Values(seed))
    _json(stamp_path, stamp)
    written.append(folder)


def write_hub_repos(out, text_encoder, unets, vqgan, dtype="bfloat16", seed=0):
    """Random-weight folders `out`/stable-cascade-prior and `out`/stable-cascade, laid out like the
    Hub repos stabilityai/stable-cascade-prior and stabilityai/stable-cascade.

    text_encoder: CLIPTextConfig fields (hidden_size, intermediate_size, num_hidden_layers, ...);
    unets: {"prior": cfg, "prior_lite": cfg, "decoder": cfg, "decoder_lite": cfg}, any subset with a
    prior and a decoder (a lite one alone is fine: Pipeline(lite=True) and diffusers'
    subfolder="prior_lite" load it), each a diffusers StableCascadeUNet config; vqgan:
    PaellaVQModel config fields. Weights are stored as `dtype`; the tensor names and shapes are
    our loader's expected keys, which equal diffusers' state dicts (tools/bench_gpu.py
    --check-configs verifies it against diffusers). The text encoder is written once and
    hard-linked into the second repo (the Hub repos hold the same file; our Pipeline then keeps
    one copy, diffusers loads two). Folders whose stamp matches are kept, so a second call costs
    nothing. Returns (prior_dir, decoder_dir, list of folders written)."""
    from stable_cascade_c.text_encoder import CLIPTextModelWithProjection
    from stable_cascade_c.unet import StableCascadeUNet
    from stable_cascade_c.vqgan import PaellaVQModel

    prior_dir, decoder_dir = os.path.join(out, "stable-cascade-prior"), os.path.join(out, "stable-cascade")
    written = []
    te_cfg = clip_text_config(text_encoder, dtype)
    te_dir = os.path.join(prior_dir, "text_encoder")
    jobs = [(te_dir, te_cfg, CLIPTextModelWithProjection.expected_keys(te_cfg), "model.safetensors", seed + 1)]
    for name, cfg in sorted(unets.items()):
        full = dict(cfg, _class_name="StableCascadeUNet", _diffusers_version=DIFFUSERS_VERSION)
        repo = prior_dir if name.startswith("prior") else decoder_dir
        jobs.append((os.path.join(repo, name), full, StableCascadeUNet.expected_keys(full),
                     "diffusion_pytorch_model.safetensors", seed + zlib.crc32(name.encode()) % 1000))
    vq_cfg = dict(vqgan, _class_name="PaellaVQModel", _diffusers_version=DIFFUSERS_VERSION)
    jobs.append((os.path.join(decoder_dir, "vqgan"), vq_cfg, PaellaVQModel.expected_keys(vqgan),
                 "diffusion_pytorch_model.safetensors", seed + 9))
    # One thread per file: the writes overlap (the GIL is released while the OS copies the data).
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for f in [pool.submit(_component, folder, config, keys, filename, dtype, s, written)
                  for folder, config, keys, filename, s in jobs]:
            f.result()

    # The decoder repo's text encoder: the same file (a hard link, else a copy).
    dec_te = os.path.join(decoder_dir, "text_encoder")
    os.makedirs(dec_te, exist_ok=True)
    for fname in ("config.json", "model.safetensors", "bench_stamp.json"):
        src, dst = os.path.join(te_dir, fname), os.path.join(dec_te, fname)
        if os.path.exists(dst) and os.path.samefile(src, dst):
            continue
        if os.path.exists(dst):
            os.remove(dst)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)

    sched = {"_class_name": "DDPMWuerstchenScheduler", "_diffusers_version": DIFFUSERS_VERSION, "s": 0.008,
             "scaler": 1.0}
    index = {"_diffusers_version": DIFFUSERS_VERSION, "scheduler": ["diffusers", "DDPMWuerstchenScheduler"],
             "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
             "tokenizer": ["transformers", "CLIPTokenizer"]}
    repos = ((prior_dir, dict(index, _class_name="StableCascadePriorPipeline", prior=["diffusers", "StableCascadeUNet"],
                              feature_extractor=[None, None], image_encoder=[None, None], resolution_multiple=42.67)),
             (decoder_dir, dict(index, _class_name="StableCascadeDecoderPipeline",
                                decoder=["diffusers", "StableCascadeUNet"], vqgan=["wuerstchen", "PaellaVQModel"],
                                latent_dim_scale=10.67)))
    for repo, idx in repos:
        _json(os.path.join(repo, "model_index.json"), idx)
        os.makedirs(os.path.join(repo, "scheduler"), exist_ok=True)
        _json(os.path.join(repo, "scheduler", "scheduler_config.json"), sched)
        tok = os.path.join(repo, "tokenizer")
        if os.path.isdir(tok):
            shutil.rmtree(tok)
        shutil.copytree(TOKENIZER, tok)
    return prior_dir, decoder_dir, written
