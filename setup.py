"""Build of stable_cascade_c._C: the C sources always, the CUDA objects when nvcc is used.

Environment switches:
  SC_CUDA=0/1       force a CPU-only / CUDA build (default: CUDA when nvcc is found)
  SC_CUDA_ARCHS     space-separated SM numbers (default "80 86 89 90"; PTX for the last)
  SC_SANITIZE=1     AddressSanitizer + UBSan build (see docs/development.md)
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools", "build_backend"))
from sc_cuda_detect import cuda_plan  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    ns = {}
    with open(os.path.join(HERE, "stable_cascade_c", "_version.py")) as f:
        exec(f.read(), ns)
    return ns["__version__"]


VERSION = read_version()
SANITIZE = os.environ.get("SC_SANITIZE") == "1"
PLAN = cuda_plan()
ARCHS = os.environ.get("SC_CUDA_ARCHS", "80 86 89 90").split()

c_sources = sorted(os.path.join("csrc", f) for f in os.listdir(os.path.join(HERE, "csrc")) if f.endswith(".c"))
cu_sources = sorted(os.path.join("cuda", f) for f in os.listdir(os.path.join(HERE, "cuda")) if f.endswith(".cu"))
# A changed header rebuilds the C sources too (distutils only compares the .c files otherwise).
c_headers = sorted(os.path.join("csrc", f) for f in os.listdir(os.path.join(HERE, "csrc")) if f.endswith(".h"))

cflags = ["-std=c11", "-Wall", "-Wextra", "-fopenmp", "-fno-strict-aliasing", "-D_GNU_SOURCE"]
ldflags = ["-fopenmp"]
if SANITIZE:
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    cflags += ["-O1", "-g"] + san
    ldflags += san
else:
    cflags += ["-O3"]

macros = [("SC_VERSION", '"%s"' % VERSION)]
include_dirs = [os.path.join(HERE, "csrc"), np.get_include()]
library_dirs, libraries, extra_objects, rpaths = [], [], [], []
install_requires = ["numpy>=1.23"]

if PLAN.enabled and cu_sources:
    macros += [("SC_WITH_CUDA", "1"), ("SC_CUDA_ARCHS", '"%s"' % " ".join("sm_" + a for a in ARCHS))]
    include_dirs += PLAN.include_dirs
    library_dirs += PLAN.library_dirs
    libraries += ["cudart_static", "stdc++", "rt", "dl", "pthread"]  # the .cu objects are C++
    if PLAN.cublas_from_wheel:
        install_requires.append("nvidia-cublas>=13")
        # The wheel installs next to us in site-packages: find it relative to the extension.
        rpaths.append("$ORIGIN/../nvidia/%s/lib" % PLAN.wheel_subdir)
    # Where libcublasLt.so was found at build time: the toolkit, or the wheel for in-place builds
    # (a temporary path in an isolated build, where the $ORIGIN entry above does the work).
    rpaths += PLAN.library_dirs


class BuildExt(build_ext):
    """Compiles cuda/*.cu with nvcc first, then the C sources in parallel."""

    def build_extensions(self):
        self.parallel = os.cpu_count() or 1
        if PLAN.enabled and cu_sources:
            self._build_cuda(self.extensions[0])
        super().build_extensions()

    def _cublaslt_lib(self):
        for d in PLAN.library_dirs:
            for name in sorted(os.listdir(d)):
                if name.startswith("libcublasLt.so"):
                    return os.path.join(d, name)
        raise RuntimeError(
            "CUDA build: cuBLASLt not found (looked in %s). Install the nvidia-cublas wheel, "
            "point CUDA_HOME at a full toolkit, or build CPU-only with SC_CUDA=0." % PLAN.library_dirs
        )

    def _build_cuda(self, ext):
        out_dir = os.path.join(self.build_temp, "cuda")
        os.makedirs(out_dir, exist_ok=True)
        gencode = []
        for a in ARCHS:
            gencode += ["-gencode", "arch=compute_%s,code=sm_%s" % (a, a)]
        gencode += ["-gencode", "arch=compute_%s,code=compute_%s" % (ARCHS[-1], ARCHS[-1])]
        # Any header the CUDA sources may include makes every object stale.
        headers = [os.path.join(HERE, d, f) for d in ("cuda", "csrc") for f in os.listdir(os.path.join(HERE, d))
                   if f.endswith((".h", ".cuh"))]
        newest_header = max(os.path.getmtime(h) for h in headers)
        jobs = []
        for src in cu_sources:
            obj = os.path.join(out_dir, os.path.basename(src) + ".o")
            ext.extra_objects.append(obj)
            if (not self.force and os.path.exists(obj)
                    and os.path.getmtime(obj) >= max(os.path.getmtime(src), newest_header)):
                continue
            cmd = [PLAN.nvcc, "-c", src, "-o", obj, "-O3", "-std=c++17", "--expt-relaxed-constexpr",
                   "-Xcompiler", "-fPIC,-Wall,-Wextra", "-DSC_WITH_CUDA=1", "-I" + os.path.join(HERE, "csrc")]
            cmd += ["-I" + d for d in PLAN.include_dirs] + gencode
            jobs.append(cmd)
        # One nvcc per file, as many at once as there are cores (the files are independent).
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for cmd in jobs:
                print(" ".join(cmd))
            list(pool.map(subprocess.check_call, jobs))
        ext.extra_link_args.append(self._cublaslt_lib())


ext = Extension(
    "stable_cascade_c._C",
    sources=c_sources,
    depends=c_headers,
    include_dirs=include_dirs,
    define_macros=macros,
    library_dirs=library_dirs,
    libraries=libraries,
    extra_compile_args=cflags,
    extra_link_args=ldflags + ["-Wl,-rpath," + r for r in rpaths],
    extra_objects=extra_objects,
)

setup(version=VERSION, install_requires=install_requires, ext_modules=[ext], cmdclass={"build_ext": BuildExt})
