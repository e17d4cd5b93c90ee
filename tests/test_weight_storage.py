"""bfloat16 weights on the CPU: dense weights (linear / conv / conv-transpose weights, the token
table) may be held as bfloat16 and widened as they are read.

The widening is exact, so every result must be bit-identical to the float32 computation with
the widened weights: the GEMM, each op, each network and the whole pipeline are checked for
equality, not closeness. `weights="bfloat16"` (rounding float32 checkpoints) is checked for
its memory and for staying close to the float32 result."""
import os
import shutil

import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c import _C
from stable_cascade_c.devices import check_weights
from st_writer import Raw, bf16_bits
from st_writer import read as read_safetensors
from st_writer import write as write_safetensors
from test_gemm import KERNELS

DATA = os.path.join(os.path.dirname(__file__), "data")
RNG = np.random.default_rng(3)


def widen(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def random_bits(*shape):
    return bf16_bits(RNG.standard_normal(shape, dtype=np.float32))


# ---- the GEMM ----

# (M, N, K): tails in every direction, K past the longest K block (2048), N past one B block.
GEMM_SHAPES = [(1, 1, 1), (5, 37, 19), (33, 70, 130), (43, 69, 2100), (3, 1500, 64)]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("M,N,K", GEMM_SHAPES)
def test_gemm_bf16_b_equals_float32_of_the_same_values(kernel, M, N, K):
    previous = _C._gemm_kernel()
    _C._gemm_kernel(kernel)
    try:
        A = RNG.standard_normal((M, K), dtype=np.float32)
        B = random_bits(N, K)
        bias = RNG.standard_normal(N, dtype=np.float32)
        for act in ("none", "gelu"):
            assert np.array_equal(_C._gemm_nt(A, B, bias, act=act, alpha=0.5),
                                  _C._gemm_nt(A, widen(B), bias, act=act, alpha=0.5))
        base = RNG.standard_normal((M, N), dtype=np.float32)
        got, want = base.copy(), base.copy()
        _C._gemm_nt(A, B, out=got)
        _C._gemm_nt(A, widen(B), out=want)
        assert np.array_equal(got, want)
    finally:
        _C._gemm_kernel(previous)


def test_gemm_strided_bf16_b():
    A = RNG.standard_normal((9, 40), dtype=np.float32)
    big = random_bits(21, 64)
    assert np.array_equal(_C._gemm_nt(A, big[:, 3:43]), _C._gemm_nt(A, widen(big)[:, 3:43]))


# ---- the ops ----

def test_linear_bf16_weight():
    x = RNG.standard_normal((2, 7, 48), dtype=np.float32)
    w, b = random_bits(40, 48), RNG.standard_normal(40, dtype=np.float32)
    assert np.array_equal(_C.op_linear(x, w, b, act="silu"), _C.op_linear(x, widen(w), b, act="silu"))


@pytest.mark.parametrize("stride,pad,k", [(1, 1, 3), (2, 0, 2), (1, 0, 1)])
def test_conv2d_bf16_weight(stride, pad, k):
    x = RNG.standard_normal((2, 9, 8, 12), dtype=np.float32)
    w, b = random_bits(16, k, k, 12), RNG.standard_normal(16, dtype=np.float32)
    assert np.array_equal(_C.op_conv2d(x, w, b, stride=stride, pad=pad),
                          _C.op_conv2d(x, widen(w), b, stride=stride, pad=pad))


@pytest.mark.parametrize("stride,pad,k", [(2, 0, 2), (2, 1, 4), (1, 1, 3)])
def test_conv_transpose2d_bf16_weight(stride, pad, k):
    x = RNG.standard_normal((1, 5, 6, 10), dtype=np.float32)
    w, b = random_bits(k, k, 7, 10), RNG.standard_normal(7, dtype=np.float32)
    out = RNG.standard_normal((1, (5 - 1) * stride - 2 * pad + k, (6 - 1) * stride - 2 * pad + k, 7),
                              dtype=np.float32)
    got, want = out.copy(), out.copy()
    _C.op_conv_transpose2d(x, w, b, stride=stride, pad=pad, accumulate=True, out=got)
    _C.op_conv_transpose2d(x, widen(w), b, stride=stride, pad=pad, accumulate=True, out=want)
    assert np.array_equal(got, want)


def test_embedding_bf16_table():
    table = random_bits(50, 24)
    ids = RNG.integers(0, 50, (3, 11)).astype(np.int64)
    assert np.array_equal(_C.op_embedding(table, ids), widen(table)[ids])


# ---- networks ----

def _clip_args():
    ids = np.array([[49406, 320, 1125, 539, 49407, 0, 0]], dtype=np.int64) % 1000
    return ids, np.array([[1, 1, 1, 1, 1, 0, 0]], dtype=np.int64)


def test_text_encoder_bf16_checkpoint_stays_bf16_with_float32_results():
    folder = os.path.join(DATA, "clip_text", "eos49407")
    auto = sc.CLIPTextModelWithProjection.from_pretrained(folder, variant="bf16")
    wide = sc.CLIPTextModelWithProjection.from_pretrained(folder, variant="bf16", weights="float32")
    ids, mask = _clip_args()
    ids = np.minimum(ids, auto.config["vocab_size"] - 1)
    a, b = auto(ids, attention_mask=mask), wide(ids, attention_mask=mask)
    assert np.array_equal(a.hidden_states, b.hidden_states)
    assert np.array_equal(a.text_embeds, b.text_embeds)
    assert auto.param_bytes < 0.6 * wide.param_bytes


def test_text_encoder_float32_checkpoint_rounded_on_request():
    folder = os.path.join(DATA, "clip_text", "eos49407")
    exact = sc.CLIPTextModelWithProjection.from_pretrained(folder)
    assert exact.param_bytes == sc.CLIPTextModelWithProjection.from_pretrained(folder, weights="float32").param_bytes
    rounded = sc.CLIPTextModelWithProjection.from_pretrained(folder, weights="bfloat16")
    assert rounded.param_bytes < 0.6 * exact.param_bytes
    ids, mask = _clip_args()
    ids = np.minimum(ids, exact.config["vocab_size"] - 1)
    a, b = exact(ids, attention_mask=mask).hidden_states, rounded(ids, attention_mask=mask).hidden_states
    err = np.abs(a - b).max() / np.abs(a).max()
    assert 0 < err < 3e-2


def _unet_inputs(unet, rng):
    cfg = unet.config
    args = {"sample": rng.standard_normal((2, cfg["in_channels"], 16, 16), dtype=np.float32),
            "timestep_ratio": np.array([0.3, 0.7], dtype=np.float32),
            "clip_text_pooled": rng.standard_normal((2, 1, cfg["clip_text_pooled_in_channels"]), dtype=np.float32)}
    if cfg.get("clip_text_in_channels"):
        args["clip_text"] = rng.standard_normal((2, 5, cfg["clip_text_in_channels"]), dtype=np.float32)
    if cfg.get("clip_image_in_channels"):
        args["clip_img"] = rng.standard_normal((2, 1, cfg["clip_image_in_channels"]), dtype=np.float32)
    if cfg.get("effnet_in_channels"):
        args["effnet"] = rng.standard_normal((2, cfg["effnet_in_channels"], 4, 4), dtype=np.float32)
    return args


def test_unet_bf16_checkpoint_stays_bf16_with_float32_results():
    folder = os.path.join(DATA, "unet", "decoder_like")
    auto = sc.StableCascadeUNet.from_pretrained(folder, variant="bf16")
    wide = sc.StableCascadeUNet.from_pretrained(folder, variant="bf16", weights="float32")
    args = _unet_inputs(auto, np.random.default_rng(0))
    assert np.array_equal(auto(**args), wide(**args))
    assert auto.param_bytes < 0.65 * wide.param_bytes


def test_unet_single_file_rounded_on_request():
    path = os.path.join(DATA, "unet", "prior_like_original.safetensors")
    config = sc.StableCascadeUNet.load_config(os.path.join(DATA, "unet", "prior_like"))
    exact = sc.StableCascadeUNet.from_single_file(path, config=config)
    rounded = sc.StableCascadeUNet.from_single_file(path, config=config, weights="bfloat16")
    assert rounded.param_bytes < 0.65 * exact.param_bytes
    args = _unet_inputs(exact, np.random.default_rng(1))
    a, b = exact(**args), rounded(**args)
    err = np.abs(a - b).max() / np.abs(a).max()
    assert 0 < err < 5e-2


def test_vqgan_bf16_checkpoint_stays_bf16_with_float32_results():
    folder = os.path.join(DATA, "vqgan", "tiny")
    auto = sc.PaellaVQModel.from_pretrained(folder, variant="bf16")
    wide = sc.PaellaVQModel.from_pretrained(folder, variant="bf16", weights="float32")
    latents = np.random.default_rng(2).standard_normal((1, auto.config["latent_channels"], 6, 5),
                                                        dtype=np.float32)
    assert np.array_equal(auto.decode(latents), wide.decode(latents))
    assert auto.param_bytes < 0.7 * wide.param_bytes


# ---- the pipeline ----

def _bf16_repos(tmp_path):
    """Copies of the tiny pipeline repos with a .bf16 variant of every weight file (RNE)."""
    roots = []
    for repo in ("stable-cascade-prior", "stable-cascade"):
        dst = tmp_path / repo
        shutil.copytree(os.path.join(DATA, "pipeline", repo), dst)
        for dirpath, _, files in os.walk(dst):
            for name in files:
                if name.endswith(".safetensors"):
                    tensors = read_safetensors(os.path.join(dirpath, name))
                    converted = {
                        k: Raw("BF16", v.shape, bf16_bits(np.frombuffer(v.data, "<f4")).tobytes())
                        if v.dtype == "F32" else v for k, v in tensors.items()}
                    write_safetensors(os.path.join(dirpath, name[:-len(".safetensors")] + ".bf16.safetensors"),
                                      converted)
        roots.append(str(dst))
    return roots


PARAMS = dict(prompt="a red cube", negative_prompt="blurry", prior_num_inference_steps=2, prior_guidance_scale=4.0,
              num_inference_steps=2, guidance_scale=1.0, seed=5, width=128, height=256)


def test_pipeline_bf16_variant_equals_float32_weights(tmp_path):
    prior, decoder = _bf16_repos(tmp_path)
    auto = sc.Pipeline.from_pretrained(prior, decoder, device="cpu", variant="bf16")
    wide = sc.Pipeline.from_pretrained(prior, decoder, device="cpu", variant="bf16", weights="float32")
    assert auto.prior.param_bytes < 0.65 * wide.prior.param_bytes
    a, b = auto(PARAMS, progress=False), wide(PARAMS, progress=False)
    assert len(a) == 1 and np.array_equal(a[0], b[0])
    low = sc.Pipeline.from_pretrained(prior, decoder, device="cpu", variant="bf16", low_memory=True)
    assert np.array_equal(low(PARAMS, progress=False)[0], a[0])


@pytest.mark.parametrize("weights,variant", [("auto", "bf16"), ("float32", "bf16"), ("bfloat16", None),
                                             ("auto", None)])
def test_low_memory_estimate_knows_the_stored_weight_size(tmp_path, weights, variant):
    """A low_memory pipeline counts each network's weights into its stage before loading them:
    from the file headers and the storage policy, equal to what the load then takes."""
    prior, decoder = _bf16_repos(tmp_path)
    pipe = sc.Pipeline.from_pretrained(prior, decoder, device="cpu", low_memory=True, variant=variant,
                                       weights=weights)
    for name in ("text_encoder", "prior", "decoder_text_encoder", "decoder"):
        net = pipe._nets[name]
        assert net.weight_bytes == net.get().param_bytes, name
    assert pipe._nets["vqgan"].get().param_bytes <= pipe._nets["vqgan"].weight_bytes


def test_weights_argument_is_checked():
    with pytest.raises(ValueError, match="weights must be one of"):
        check_weights("fp16", "cpu")
    with pytest.raises(ValueError, match="CUDA backend keeps weights in bfloat16"):
        check_weights("float32", "cuda")
    assert check_weights("bfloat16", "cuda") == "bfloat16"
    with pytest.raises(ValueError, match="weights must be one of"):
        sc.PaellaVQModel.from_pretrained(os.path.join(DATA, "vqgan", "tiny"), weights="half")
    with pytest.raises(ValueError, match="weights must be 'auto', 'float32' or 'bfloat16'"):
        _C.PaellaVQ(sc.PaellaVQModel.load_config(os.path.join(DATA, "vqgan", "tiny")),
                    os.path.join(DATA, "vqgan", "tiny"), None, weights="half")
