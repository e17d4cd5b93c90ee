"""The networks on the CUDA backend against the same networks on the CPU backend (GPU only).

Same weight files, same inputs; the GPU computes in bfloat16 (weights rounded at load time)
with float32 accumulation. Error metric: max |cuda - cpu| / max |cpu| over each output array.
With the bf16 variant of a checkpoint both backends hold identical weights, so only the GPU's
activation rounding remains and the bound is tighter.
"""
import os

import numpy as np
import pytest

from stable_cascade_c import CLIPTextModelWithProjection, _C

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
