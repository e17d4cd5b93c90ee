"""Device names: "cpu", "cuda", "auto"."""
from __future__ import annotations

from . import _C

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str) -> str:
    """Map "auto" to "cuda" when this build has CUDA and a GPU is usable, else "cpu".

    "cuda" is checked here so that every component fails the same clear way.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    info = _C.build_info()
    if device == "auto":
        return "cuda" if info["cuda_runtime_available"] else "cpu"
    if device == "cuda":
        if not info["cuda_compiled"]:
            raise RuntimeError("device='cuda' requested but this build of stable_cascade_c has no CUDA support "
                               "(rebuild with nvcc on PATH or SC_CUDA=1)")
        if not info["cuda_runtime_available"]:
            raise RuntimeError("device='cuda' requested but no usable CUDA GPU was found")
    return device
