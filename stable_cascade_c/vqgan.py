"""Stage A: the Paella VQGAN decoder (diffusers' ``PaellaVQModel``), image = decode(latents).

Loads a diffusers ``vqgan/`` folder (``config.json`` + ``diffusion_pytorch_model[.<variant>].safetensors``)
or the original single file ``stage_a.safetensors``. Computation is in the C extension.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _C
from ._config import naming_file, read_json_object
from .devices import check_weights, resolve_device

#: diffusers' PaellaVQModel constructor defaults (= stabilityai/stable-cascade vqgan/config.json).
DEFAULT_CONFIG: Dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "up_down_scale_factor": 2,
    "levels": 2,
    "bottleneck_blocks": 12,
    "embed_dim": 384,
    "latent_channels": 4,
    "num_vq_embeddings": 8192,
    "scale_factor": 0.3764,
}


def _merge_config(values: Dict[str, Any], where: str) -> Dict[str, Any]:
    """Defaults overridden by `values`; keys starting with '_' (diffusers metadata) and unknown
    keys are ignored, as diffusers does. Type errors name `where` and the key."""
    cls = values.get("_class_name")
    if cls is not None and cls != "PaellaVQModel":
        raise ValueError("%s describes a %s, not a PaellaVQModel" % (where, cls))
    config = dict(DEFAULT_CONFIG)
    for key in DEFAULT_CONFIG:
        if key not in values:
            continue
        v = values[key]
        if key == "scale_factor":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        else:
            ok = isinstance(v, int) and not isinstance(v, bool)
        if not ok:
            raise ValueError("%s: %r must be a number%s, got %r"
                             % (where, key, "" if key == "scale_factor" else " (integer)", v))
        config[key] = float(v) if key == "scale_factor" else v
    return config


class PaellaVQModel:
    """Stage A decoder. ``decode(latents)`` equals diffusers' ``PaellaVQModel.decode(latents).sample``:
    no quantization, no ``scale_factor`` multiplication and no clamp (the pipeline does those)."""

    def __init__(self, impl: "_C.PaellaVQ", config: Dict[str, Any], device: str) -> None:
        self._impl = impl
        self._config = config
        self.device = device

    @classmethod
    def from_pretrained(cls, folder: str, device: str = "cpu", variant: Optional[str] = None,
                        weights: str = "auto") -> "PaellaVQModel":
        """Load a diffusers ``vqgan/`` folder. ``variant`` picks e.g.
        ``diffusion_pytorch_model.bf16.safetensors``; sharded weights (``*.safetensors.index.json``) work too.
        On device "cuda" (or "auto" with a usable GPU) the weights are bfloat16 on the GPU; ``decode``
        still takes and returns float32 arrays. ``weights`` (``"auto"``, ``"float32"``, ``"bfloat16"``)
        is how the CPU stores them (devices.check_weights): by default a bf16 checkpoint stays bf16
        in memory, with float32 results."""
        device = resolve_device(device)
        check_weights(weights, device)
        config = cls.load_config(folder)
        impl = _C.PaellaVQ(config, os.fspath(folder), variant, device=device, weights=weights)
        return cls(impl, config, device)

    @staticmethod
    def load_config(folder: str) -> Dict[str, Any]:
        """The config of a diffusers ``vqgan/`` folder's config.json, defaults filled in and checked
        before any weight is read: a bad value is a ValueError that names the file."""
        path = os.path.join(os.fspath(folder), "config.json")
        config = _merge_config(read_json_object(path, "PaellaVQModel config (e.g. stable-cascade/vqgan/config.json)"),
                               path)
        with naming_file(path):
            _C.paella_vq_expected_keys(config, "diffusers")  # runs the C loader's config checks
        return config

    @classmethod
    def from_single_file(cls, path: str, device: str = "cpu", config: Optional[Dict[str, Any]] = None,
                         weights: str = "auto") -> "PaellaVQModel":
        """Load one safetensors file, e.g. the original ``stage_a.safetensors`` (codebook named
        ``vquantizer.codebook.weight``; the diffusers name is accepted too). ``config`` overrides
        the default config, e.g. ``{"scale_factor": 0.43}`` to match the original code's scaling;
        ``weights`` as in from_pretrained."""
        device = resolve_device(device)
        check_weights(weights, device)
        merged = _merge_config(dict(config or {}), "config")
        impl = _C.PaellaVQ(merged, os.fspath(path), None, True, device=device, weights=weights)
        return cls(impl, merged, device)

    @property
    def config(self) -> Dict[str, Any]:
        """The model's config (diffusers' keys), a copy."""
        return dict(self._config)

    @property
    def scale_factor(self) -> float:
        """The factor the pipeline multiplies Stage B latents by before ``decode``."""
        return float(self._config["scale_factor"])

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """float32 latents ``[B, latent_channels, h, w]`` -> float32 image ``[B, out_channels, 4h, 4w]``
        (for the default config). The GIL is released while decoding."""
        return self._impl.decode(latents)

    @staticmethod
    def expected_keys(config: Optional[Dict[str, Any]] = None,
                      naming: str = "diffusers") -> List[Tuple[str, Tuple[int, ...], str]]:
        """``(name, shape, dtype)`` of every tensor a checkpoint of ``config`` (default: the default
        config) holds, in state-dict order; ``naming`` is ``"diffusers"`` or ``"original"``."""
        merged = _merge_config(dict(config or {}), "config")
        return _C.paella_vq_expected_keys(merged, naming)

    @property
    def param_bytes(self) -> int:
        """Bytes the loaded weights take on the device."""
        return self._impl.param_bytes()

    def free_workspace(self) -> None:
        """Free the activation memory kept between decodes (the next decode allocates it again, once)."""
        self._impl.free_workspace()

    def _arena_alloc_count(self) -> int:
        return self._impl.arena_alloc_count()

    def __repr__(self) -> str:
        return "PaellaVQModel(%s, device=%r)" % (
            ", ".join("%s=%r" % kv for kv in self._config.items()), self.device)
