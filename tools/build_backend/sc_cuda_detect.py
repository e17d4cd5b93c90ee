"""Where the CUDA toolkit and cuBLASLt are, and whether to build the CUDA objects.

Environment:
  SC_CUDA=1        build CUDA (fail if nvcc is missing)
  SC_CUDA=0        CPU-only build
  (unset)          build CUDA when nvcc is found
  CUDA_HOME / CUDA_PATH   toolkit root (else the folder above `which nvcc`)
"""
import glob
import os
import shutil
import sysconfig
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class CudaPlan:
    enabled: bool
    nvcc: Optional[str] = None
    home: Optional[str] = None
    include_dirs: List[str] = field(default_factory=list)
    library_dirs: List[str] = field(default_factory=list)
    cublas_from_wheel: bool = False
    reason: str = ""


def _wheel_cublas_dirs():
    """include/ and lib/ of an installed nvidia-cublas wheel, if any."""
    for base in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        root = os.path.join(base, "nvidia", "cublas")
        if os.path.exists(os.path.join(root, "include", "cublasLt.h")):
            return os.path.join(root, "include"), os.path.join(root, "lib")
    try:  # the package may live elsewhere on sys.path (an isolated build env)
        import nvidia.cublas as nc  # type: ignore

        root = list(nc.__path__)[0]
        if os.path.exists(os.path.join(root, "include", "cublasLt.h")):
            return os.path.join(root, "include"), os.path.join(root, "lib")
    except ImportError:
        pass
    return None


def cuda_plan() -> CudaPlan:
    flag = os.environ.get("SC_CUDA", "").strip()
    if flag == "0":
        return CudaPlan(False, reason="SC_CUDA=0")
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc = os.path.join(home, "bin", "nvcc") if home else shutil.which("nvcc")
    if not nvcc or not os.path.exists(nvcc):
        if flag == "1":
            raise RuntimeError("SC_CUDA=1 but nvcc was not found (set CUDA_HOME or put nvcc on PATH)")
        return CudaPlan(False, reason="nvcc not found")
    home = home or os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
    inc = [os.path.join(home, "include")]
    lib = [d for d in (os.path.join(home, "lib64"), os.path.join(home, "lib")) if os.path.isdir(d)]
    plan = CudaPlan(True, nvcc=nvcc, home=home, include_dirs=inc, library_dirs=lib)
    has_lt = os.path.exists(os.path.join(home, "include", "cublasLt.h")) and any(
        glob.glob(os.path.join(d, "libcublasLt.so*")) for d in lib
    )
    if not has_lt:
        plan.cublas_from_wheel = True
        wheel = _wheel_cublas_dirs()
        if wheel:
            plan.include_dirs.append(wheel[0])
            plan.library_dirs.append(wheel[1])
    return plan
