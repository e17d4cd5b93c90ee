"""PEP 517 backend: setuptools, plus nvidia-cublas when a CUDA build needs its headers.

The decision mirrors setup.py's: CUDA is built when SC_CUDA=1, or when SC_CUDA is unset
and nvcc is found. cuBLASLt then comes from the toolkit when it has it, else from the
`nvidia-cublas` wheel, which only then becomes a build (and run-time) requirement.
"""
import os
import sys

from setuptools import build_meta as _orig
from setuptools.build_meta import *  # noqa: F401,F403  (re-export the standard hooks)

sys.path.insert(0, os.path.dirname(__file__))
from sc_cuda_detect import cuda_plan  # noqa: E402


def _extra():
    plan = cuda_plan()
    return ["nvidia-cublas>=13"] if plan.enabled and plan.cublas_from_wheel else []


def get_requires_for_build_wheel(config_settings=None):
    return _orig.get_requires_for_build_wheel(config_settings) + _extra()


def get_requires_for_build_editable(config_settings=None):
    return _orig.get_requires_for_build_editable(config_settings) + _extra()


__all__ = [n for n in dir(_orig) if n.startswith(("build_", "get_requires", "prepare_"))]
