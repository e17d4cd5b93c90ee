"""Reading safetensors files with the validating C reader (no torch, no `safetensors` package).

Every file is checked like the reference Rust parser does (docs/safetensors.md lists the
rules) and memory-mapped read-only; a malformed file raises ``ValueError`` naming the file and
the problem, a missing one ``FileNotFoundError``.

    >>> from stable_cascade_c.safetensors import load_file, safe_open, open_weights
    >>> tensors = load_file("vqgan/diffusion_pytorch_model.safetensors")
    >>> with safe_open("stage_a.safetensors") as f:
    ...     w = f.get_tensor("vquantizer.codebook.weight")
    >>> with open_weights("prior", "diffusion_pytorch_model", variant="bf16") as w:  # shards too
    ...     names = w.keys()
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from . import _C

PathLike = Union[str, "os.PathLike[str]"]

#: ``_C.Weights``: a validated, memory-mapped file or weight set. Methods: ``keys()``,
#: ``info(name) -> (dtype, shape)``, ``get(name, dtype=None) -> ndarray``, ``file_of(name)``,
#: ``close()``; properties ``metadata``, ``files``, ``closed``; usable as a context manager.
Weights = _C.Weights

__all__ = ["Weights", "load_file", "open_weights", "safe_open", "validate_bytes"]


def load_file(path: PathLike, dtype: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Read every tensor of one safetensors file into NumPy arrays (copies), in file order.

    ``dtype=None`` keeps each tensor's type (F32 -> float32, F16 -> float16, I64 -> int64;
    BF16, which NumPy lacks, widens exactly to float32). ``"float32"``/``"float16"`` convert
    floats (round to nearest even), ``"bfloat16"`` returns uint16 bit patterns. Files holding
    other dtypes (I32, U8, F64, ...) raise ValueError: only F32/BF16/F16/I64 are readable.
    """
    with Weights(path) as w:
        return {name: w.get(name, dtype) for name in w.keys()}


def open_weights(folder: PathLike, stem: str, variant: Optional[str] = None) -> "_C.Weights":
    """Open the weights ``<stem>[.<variant>].safetensors`` in ``folder``, or the shards that
    ``<stem>[.<variant>].safetensors.index.json`` (also spelled ``<stem>.safetensors.index.<variant>.json``)
    lists. The index is validated: every listed tensor must be in the shard it names and no
    tensor may be in two shards."""
    return Weights.open_dir(folder, stem, variant)


class safe_open:
    """A context manager shaped like ``safetensors.safe_open(path, framework="numpy")``.

    ``keys()`` is sorted (as in the reference); ``get_tensor(name)`` returns a NumPy array
    (BF16 widened to float32); ``metadata()`` the ``__metadata__`` dict (empty when absent).
    """

    def __init__(self, path: PathLike, framework: str = "numpy") -> None:
        if framework not in ("numpy", "np"):
            raise ValueError("only framework='numpy' is supported, not %r" % (framework,))
        self._weights = Weights(path)

    def __enter__(self) -> "safe_open":
        return self

    def __exit__(self, *exc: object) -> None:
        self._weights.close()

    def keys(self) -> List[str]:
        """Tensor names, sorted."""
        return sorted(self._weights.keys())

    def metadata(self) -> Dict[str, str]:
        """The file's ``__metadata__`` (string -> string)."""
        return self._weights.metadata

    def info(self, name: str) -> Tuple[str, Tuple[int, ...]]:
        """``(dtype, shape)`` of a tensor as written in the file (dtype e.g. ``"BF16"``)."""
        return self._weights.info(name)

    def get_tensor(self, name: str, dtype: Optional[str] = None) -> np.ndarray:
        """A copy of one tensor; ``dtype`` as in :func:`load_file`."""
        return self._weights.get(name, dtype)


def validate_bytes(data: bytes) -> Tuple[Dict[str, Tuple[str, Tuple[int, ...], Tuple[int, int]]], Dict[str, str]]:
    """Validate a whole safetensors file held in memory.

    Returns ``({name: (dtype, shape, (begin, end))}, metadata)`` or raises ValueError
    describing the first problem. This is the entry point the fuzz tests drive.
    """
    return _C.safetensors_validate_bytes(data)
