"""The networks on the CUDA backend against the same networks on the CPU backend (GPU only).

Same weight files, same inputs; the GPU computes in bfloat16 (weights rounded at load time)
with float32 accumulation. Error metric: max |cuda - cpu| / max |cpu| over each output array.
With the bf16 variant of a checkpoint both backends hold identical weights, so only the GPU's
activation rounding remains and the bound is tighter.
"""
import json
import os

import numpy as np
import pytest

import st_writer
from stable_cascade_c import CLIPTextModelWithProjection, PaellaVQModel, Pipeline, StableCascadeUNet, _C
from stable_cascade_c.unet import PRESETS

pytestmark = pytest.mark.cuda

DATA = os.path.join(os.path.dirname(__file__), "data")
CLIP_MODELS = ["tiny", "eos49407", "wide_quick_gelu", "first_eos"]
CLIP_OUTPUTS = ["hidden_states", "last_hidden_state", "text_embeds"]
TOL_F32_WEIGHTS = 3e-2
TOL_BF16_WEIGHTS = 1e-2


def rel_err(got, want):
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.isfinite(got).all()
    return float(np.abs(got.astype(np.float64) - want).max() / np.abs(want).max())


def clip_ref(name):
    return dict(np.load(os.path.join(DATA, "clip_text", name + ".npz")))


def clip_pair(name, variant=None):
    path = os.path.join(DATA, "clip_text", name)
    return (CLIPTextModelWithProjection.from_pretrained(path, variant=variant),
            CLIPTextModelWithProjection.from_pretrained(path, device="cuda", variant=variant))


@pytest.mark.parametrize("name", CLIP_MODELS)
@pytest.mark.parametrize("masked", [False, True])
def test_clip_text_matches_the_cpu(name, masked):
    cpu, gpu = clip_pair(name)
    assert gpu.device == "cuda"
    ref = clip_ref(name)
    mask = ref["attention_mask"] if masked else None
    want, got = cpu(ref["input_ids"], attention_mask=mask), gpu(ref["input_ids"], attention_mask=mask)
    for key in CLIP_OUTPUTS:
        assert rel_err(getattr(got, key), getattr(want, key)) < TOL_F32_WEIGHTS, key


def test_clip_text_bf16_weights():
    cpu, gpu = clip_pair("eos49407", variant="bf16")
    ref = clip_ref("eos49407")
    want = cpu(ref["input_ids"], attention_mask=ref["attention_mask"])
    got = gpu(ref["input_ids"], attention_mask=ref["attention_mask"])
    for key in CLIP_OUTPUTS:
        assert rel_err(getattr(got, key), getattr(want, key)) < TOL_BF16_WEIGHTS, key


def test_clip_text_steady_state_allocates_nothing():
    """After the first pass: no arena allocation, no backend scratch growth, no device memory lost."""
    _, gpu = clip_pair("wide_quick_gelu")
    ref = clip_ref("wide_quick_gelu")
    first = gpu(ref["input_ids"], attention_mask=ref["attention_mask"])
    arena = gpu._arena_alloc_count()
    info = _C._cuda_backend_info()
    for _ in range(3):
        again = gpu(ref["input_ids"], attention_mask=ref["attention_mask"])
    after = _C._cuda_backend_info()
    assert gpu._arena_alloc_count() == arena
    assert after["scratch_bytes"] == info["scratch_bytes"]
    assert after["free_bytes"] >= info["free_bytes"] - (4 << 20)
    np.testing.assert_array_equal(again.hidden_states, first.hidden_states)


def test_auto_device_picks_the_gpu():
    te = CLIPTextModelWithProjection.from_pretrained(os.path.join(DATA, "clip_text", "tiny"), device="auto")
    assert te.device == "cuda"


# ---- StableCascadeUNet (prior-like and decoder-like tiny models) ----

UNET_MODELS = ["prior_like", "decoder_like", "odd", "switch"]


def unet_cases(name):
    """[(inputs, diffusers output)] of tests/data/unet/<name>.npz (keys "<case>.<argument>")."""
    d = np.load(os.path.join(DATA, "unet", name + ".npz"))
    ids = sorted({k.split(".")[0] for k in d.files if k.startswith("c")}, key=lambda i: int(i[1:]))
    return [({f[len(i) + 1:]: d[f] for f in d.files if f.startswith(i + ".") and f != i + ".out"}, d[i + ".out"])
            for i in ids]


@pytest.mark.parametrize("name", UNET_MODELS)
def test_unet_matches_the_cpu(name):
    path = os.path.join(DATA, "unet", name)
    cpu, gpu = StableCascadeUNet.from_pretrained(path), StableCascadeUNet.from_pretrained(path, device="cuda")
    assert gpu.device == "cuda"
    for args, _ in unet_cases(name):
        assert rel_err(gpu(**args), cpu(**args)) < TOL_F32_WEIGHTS
        cond_args = {k: v for k, v in args.items() if k not in ("sample", "timestep_ratio")}
        cond = gpu.prepare(**cond_args)
        prepared = gpu.forward_prepared(cond, args["sample"], args["timestep_ratio"])
        assert rel_err(prepared, cpu(**args)) < TOL_F32_WEIGHTS


def test_unet_bf16_weights_and_steady_state():
    path = os.path.join(DATA, "unet", "decoder_like")
    cpu = StableCascadeUNet.from_pretrained(path, variant="bf16")
    gpu = StableCascadeUNet.from_pretrained(path, device="cuda", variant="bf16")
    args, _ = unet_cases("decoder_like")[0]
    cond = gpu.prepare(**{k: v for k, v in args.items() if k not in ("sample", "timestep_ratio")})
    first = gpu.forward_prepared(cond, args["sample"], args["timestep_ratio"])
    assert rel_err(first, cpu(**args)) < TOL_BF16_WEIGHTS
    gpu.forward_prepared(cond, args["sample"], args["timestep_ratio"])  # the device twins are staged now
    arena, info = gpu.arena_alloc_count, _C._cuda_backend_info()
    for _ in range(3):  # denoising steps: no device allocation at all
        again = gpu.forward_prepared(cond, args["sample"], args["timestep_ratio"])
    after = _C._cuda_backend_info()
    assert gpu.arena_alloc_count == arena
    assert after["scratch_bytes"] == info["scratch_bytes"]
    assert after["allocations"] == info["allocations"]
    np.testing.assert_array_equal(again, first)


def write_random_unet(folder, config, rng):
    """A diffusers UNet folder for `config` with random bf16 weights (scaled by fan-in)."""
    tensors = {}
    for name, shape in StableCascadeUNet.expected_keys(config):
        if len(shape) >= 2:
            w = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.prod(shape[1:]) ** -0.5)
        elif name.endswith("weight"):
            w = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
        else:
            w = 0.02 * rng.standard_normal(shape, dtype=np.float32)
        tensors[name] = st_writer.Raw("BF16", shape, st_writer.bf16_bits(w).tobytes())
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    st_writer.write(os.path.join(folder, "diffusion_pytorch_model.safetensors"), tensors)
    return str(folder)


@pytest.mark.parametrize("preset", ["prior", "decoder"])
def test_unet_at_the_real_widths_matches_the_cpu(tmp_path, preset):
    """The published Stage C / Stage B configs with one layer per level (every op at its real
    width, head count and resolution: 24x24 at 2048 channels, 256x256 latents at 320..1280),
    random bf16 weights held identically by both backends."""
    levels = len(PRESETS[preset]["block_out_channels"])
    config = dict(PRESETS[preset], down_num_layers_per_block=[1] * levels, up_num_layers_per_block=[1] * levels,
                  up_blocks_repeat_mappers=[1] * levels)
    rng = np.random.default_rng(7)
    folder = write_random_unet(tmp_path / preset, config, rng)
    if preset == "prior":
        args = {"sample": rng.standard_normal((2, 16, 24, 24), dtype=np.float32), "timestep_ratio": [0.7, 0.3],
                "clip_text_pooled": rng.standard_normal((2, 1, 1280), dtype=np.float32),
                "clip_text": rng.standard_normal((2, 77, 1280), dtype=np.float32),
                "clip_img": rng.standard_normal((2, 1, 768), dtype=np.float32)}
    else:
        args = {"sample": rng.standard_normal((1, 4, 256, 256), dtype=np.float32), "timestep_ratio": [0.5],
                "clip_text_pooled": rng.standard_normal((1, 1, 1280), dtype=np.float32),
                "effnet": rng.standard_normal((1, 16, 24, 24), dtype=np.float32)}
    want = StableCascadeUNet.from_pretrained(folder)(**args)
    got = StableCascadeUNet.from_pretrained(folder, device="cuda")(**args)
    assert rel_err(got, want) < 2 * TOL_BF16_WEIGHTS


# ---- Stage A ----


def test_vqgan_matches_the_cpu():
    ref = np.load(os.path.join(DATA, "vqgan", "reference.npz"))
    for variant, tol in ((None, TOL_F32_WEIGHTS), ("bf16", TOL_BF16_WEIGHTS)):
        path = os.path.join(DATA, "vqgan", "tiny")
        cpu = PaellaVQModel.from_pretrained(path, variant=variant)
        gpu = PaellaVQModel.from_pretrained(path, device="cuda", variant=variant)
        assert gpu.device == "cuda"
        for key in (k for k in ref.files if k.startswith("latents_")):
            assert rel_err(gpu.decode(ref[key]), cpu.decode(ref[key])) < tol, (variant, key)


def test_vqgan_single_file_and_many_mlp_tiles():
    path = os.path.join(DATA, "vqgan", "tiny_stage_a.safetensors")
    cpu, gpu = PaellaVQModel.from_single_file(path), PaellaVQModel.from_single_file(path, device="cuda")
    gpu._impl.set_mlp_tile(4 * 16 * 6)
    latents = np.random.default_rng(0).standard_normal((2, 4, 9, 7)).astype(np.float32)
    assert rel_err(gpu.decode(latents), cpu.decode(latents)) < TOL_F32_WEIGHTS


# ---- the pipeline ----

PIPE = os.path.join(DATA, "pipeline")


def test_pipeline_gives_the_cpu_image():
    """Same seed, same host noise: the pixels stay within a few levels of the CPU's."""
    ref = np.load(os.path.join(PIPE, "reference.npz"))
    kwargs = {"prior": os.path.join(PIPE, "stable-cascade-prior"), "decoder": os.path.join(PIPE, "stable-cascade")}
    cpu, gpu = Pipeline.from_pretrained(device="cpu", **kwargs), Pipeline.from_pretrained(device="cuda", **kwargs)
    for case in sorted({k.split("/")[0] for k in ref.files}):
        params = json.loads(str(ref[f"{case}/params"]))
        want_stages, got_stages = {}, {}
        want, got = cpu(params, _stages=want_stages), gpu(params, _stages=got_stages)
        for key in ("image_embeddings", "decoder_latents"):
            assert rel_err(got_stages[key], want_stages[key]) < 5e-2, (case, key)
        for g, w in zip(got, want):
            diff = np.abs(g.astype(int) - w.astype(int))
            assert diff.max() <= 8 and diff.mean() <= 1.0, (case, diff.max(), diff.mean())


def test_repeated_pipeline_calls_do_not_grow_device_memory():
    ref = np.load(os.path.join(PIPE, "reference.npz"))
    params = json.loads(str(ref["no_cfg/params"]))
    pipe = Pipeline.from_pretrained(prior=os.path.join(PIPE, "stable-cascade-prior"),
                                    decoder=os.path.join(PIPE, "stable-cascade"), device="cuda")
    first = pipe(params)
    info = _C._cuda_backend_info()
    for _ in range(2):
        again = pipe(params)
    after = _C._cuda_backend_info()
    assert after["scratch_bytes"] == info["scratch_bytes"]
    assert after["free_bytes"] >= info["free_bytes"] - (4 << 20)
    np.testing.assert_array_equal(again[0], first[0])
