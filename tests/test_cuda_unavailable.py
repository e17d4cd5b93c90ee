"""Without a usable GPU (or without CUDA in the build) every CUDA request fails with a clear
RuntimeError and the CPU keeps working."""
import os

import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c import CLIPTextModelWithProjection, PaellaVQModel, StableCascadeUNet, _C
from stable_cascade_c.devices import resolve_device

pytestmark = pytest.mark.skipif(sc.build_info()["cuda_runtime_available"], reason="a usable CUDA GPU is present")

x = np.ones((2, 3), np.float32)
DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.mark.parametrize(
    "call",
    [
        lambda: _C.op_add(x, x, device="cuda"),
        lambda: _C.op_add_channel_vector(x.copy(), x[0], device="cuda"),
        lambda: _C._cuda_roundtrip(x, "bfloat16"),
        lambda: _C._cuda_alloc(16),
        lambda: _C._cuda_backend_info(),
        lambda: resolve_device("cuda"),
        lambda: CLIPTextModelWithProjection.from_pretrained(os.path.join(DATA, "clip_text", "tiny"), device="cuda"),
        lambda: StableCascadeUNet.from_pretrained(os.path.join(DATA, "unet", "odd"), device="cuda"),
        lambda: PaellaVQModel.from_pretrained(os.path.join(DATA, "vqgan", "tiny"), device="cuda"),
        lambda: PaellaVQModel.from_single_file(os.path.join(DATA, "vqgan", "tiny_stage_a.safetensors"), device="cuda"),
    ],
)
def test_cuda_requests_raise_runtime_error(call):
    with pytest.raises(RuntimeError, match="CUDA|cuda"):
        call()


def test_cpu_still_works_after_a_cuda_request():
    with pytest.raises(RuntimeError):
        _C.op_add(x, x, device="cuda")
    assert (_C.op_add(x, x, device="cpu") == 2).all()
    assert resolve_device("auto") == "cpu"
    assert PaellaVQModel.from_pretrained(os.path.join(DATA, "vqgan", "tiny"), device="auto").device == "cpu"


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="device"):
        _C.op_add(x, x, device="gpu")
