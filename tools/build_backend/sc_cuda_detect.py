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
    wheel_subdir: str = "cu13"
    reason: str = ""


# Where the nvidia-cublas wheel puts cuBLASLt: nvidia/cu13/ (CUDA 13 wheels), nvidia/cublas/ (12.x).
WHEEL_SUBDIRS = ("cu13", "cublas")


def _wheel_cublas_dirs():
    """(include, lib, subdir) of an installed nvidia-cublas wheel, if any."""
    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    try:  # the package may live elsewhere on sys.path (pip's isolated build env)
        import nvidia  # type: ignore  (namespace package)

        roots.update(os.path.dirname(p) for p in nvidia.__path__)
    except ImportError:
        pass
    for base in sorted(roots):
        for sub in WHEEL_SUBDIRS:
            root = os.path.join(base, "nvidia", sub)
            if os.path.exists(os.path.join(root, "include", "cublasLt.h")):
                return os.path.join(root, "include"), os.path.join(root, "lib"), sub
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
    if not home:
        # nvcc may be a wrapper script outside the toolkit: take the first candidate root
        # that really holds the runtime headers.
        candidates = [os.path.dirname(os.path.dirname(os.path.realpath(nvcc))), "/usr/local/cuda"]
        home = next((c for c in candidates if os.path.exists(os.path.join(c, "include", "cuda_runtime.h"))), None)
        if home is None:
            if flag == "1":
                raise RuntimeError("SC_CUDA=1 but no CUDA toolkit headers were found next to %s; set CUDA_HOME" % nvcc)
            return CudaPlan(False, reason="nvcc found but no toolkit headers")
        nvcc = os.path.join(home, "bin", "nvcc")
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
            plan.wheel_subdir = wheel[2]
    return plan
