"""stable_cascade_c: Stable Cascade (Wuerstchen v3) text-to-image inference in C and CUDA.

Everything that computes lives in the C extension `stable_cascade_c._C`; this package is
the thin Python layer around it (argument parsing, config files, the Ikomia shim).
"""
from ._version import __version__
from ._openmp import wait_policy_defaults

with wait_policy_defaults():
    from . import _C
from .generator import Generator, randn_tensor
from .scheduler import DDPMWuerstchenScheduler
from .tokenizer import CLIPTokenizer
from .text_encoder import CLIPTextModelWithProjection
from .vqgan import PaellaVQModel
from .unet import StableCascadeUNet
from .pipeline import NonFiniteError, Pipeline
from .params import GenerationParams
from . import weights


def build_info() -> dict:
    """Facts about this build and the machine it runs on.

    Keys: ``version``, ``cuda_compiled`` (bool), ``cuda_archs`` (list of ``sm_XX``),
    ``cuda_runtime_available`` (bool: a usable GPU is present now), ``cuda_device``
    (dict or None), ``cpu_features`` (str), ``threads`` (int), ``compiler``.
    """
    return _C.build_info()


def set_num_threads(n: int) -> None:
    """Set how many CPU threads the C kernels use (default: all online cores)."""
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """How many CPU threads the C kernels use."""
    return _C.get_num_threads()


def set_cpu_math(math: str) -> None:
    """The math of the CPU's matrix products (every linear layer and convolution), process-wide.

    ``"float32"`` (the default): float32 throughout, the results of diffusers in float32.
    ``"bfloat16"``: both operands of each product rounded to bfloat16 and the products summed in
    float32 on the AMX tile units of Intel Xeon (4th generation and newer): several times faster,
    about three significant digits per product, so images differ slightly from float32 ones (the
    GPU backend's precision, and closer: norms, attention and the sampler stay float32). Raises
    ValueError on a CPU or kernel without AMX-BF16.
    """
    _C.set_cpu_math(math)


def get_cpu_math() -> str:
    """The math of the CPU's matrix products: ``"float32"`` or ``"bfloat16"``."""
    return _C.get_cpu_math()


__all__ = [
    "__version__",
    "build_info",
    "set_num_threads",
    "get_num_threads",
    "set_cpu_math",
    "get_cpu_math",
    "Generator",
    "randn_tensor",
    "DDPMWuerstchenScheduler",
    "CLIPTokenizer",
    "CLIPTextModelWithProjection",
    "PaellaVQModel",
    "StableCascadeUNet",
    "Pipeline",
    "NonFiniteError",
    "GenerationParams",
    "weights",
]
