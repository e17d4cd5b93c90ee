"""Device names ("cpu", "cuda", "auto") and weight storage ("auto", "float32", "bfloat16")."""
from __future__ import annotations

from . import _C

DEVICES = ("cpu", "cuda", "auto")
WEIGHTS = ("auto", "float32", "bfloat16")



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


def check_weights(weights: str, device: str) -> str:
    """Validate a ``weights=`` value for a resolved device.

    ``weights`` says how the CPU stores the dense weights (projections, convolutions, the token
    table; norms and biases are always float32): "auto" keeps a bfloat16 checkpoint in bfloat16
    (half the memory of float32, widened exactly as each weight is used, so results equal those
    of float32 weights) and a float32 one in float32; "float32" widens everything at load;
    "bfloat16" also rounds float32 checkpoints to bfloat16 (half the memory; results change by
    that rounding). On "cuda" the weights are bfloat16 whatever this says, and "float32" is refused.
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    if weights == "float32" and device == "cuda":
        raise ValueError("weights='float32' is for the CPU: the CUDA backend keeps weights in bfloat16")
    return weights
