"""The CLIP text encoder with projection (transformers' CLIPTextModelWithProjection) on the C core.

Stable Cascade's `text_encoder/` is the OpenCLIP ViT-bigG-14 text tower. The prior consumes
``hidden_states`` (the last layer's output before the final LayerNorm) and the pooled, projected
``text_embeds``; the decoder only ``text_embeds``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _C
from ._config import naming_file, read_json_object
from .devices import check_weights, resolve_device
from .safetensors import open_weights

# transformers' CLIPTextConfig defaults (v5), used for keys a config.json leaves out.
CONFIG_DEFAULTS: Dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 512,
    "intermediate_size": 2048,
    "projection_dim": 512,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "eos_token_id": 49407,
}


def load_config(folder: str) -> Dict[str, Any]:
    """The text-encoder fields of ``<folder>/config.json`` with transformers' defaults filled in,
    checked before any weight is read: a bad value is a ValueError that names the file."""
    path = os.path.join(folder, "config.json")
    raw = read_json_object(path, "CLIP text encoder config")
    config = {key: raw.get(key, default) for key, default in CONFIG_DEFAULTS.items()}
    with naming_file(path):
        _C.clip_text_expected_keys(config)  # runs the C loader's config checks
    return config


# A Hugging Face cache blob is named by the hash of its content (git SHA-1, or SHA-256 for LFS files).
_HUB_BLOB = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _same_bytes(a: str, b: str, chunk: int = 1 << 24) -> bool:
    """Whether two files hold the same bytes. The same file, or two Hub cache blobs of the same
    name, answer without reading; otherwise the files are compared in full (early exit at the
    first difference; about 4.6 GB/s from the page cache on the benchmark machine)."""
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    if os.path.samefile(a, b):
        return True
    ra, rb = os.path.realpath(a), os.path.realpath(b)
    if (os.path.basename(os.path.dirname(ra)) == os.path.basename(os.path.dirname(rb)) == "blobs"
            and _HUB_BLOB.match(os.path.basename(ra)) and os.path.basename(ra) == os.path.basename(rb)):
        return True
    with open(a, "rb", buffering=0) as fa, open(b, "rb", buffering=0) as fb:
        buf_a, buf_b = bytearray(chunk), bytearray(chunk)
        while True:
            na, nb = fa.readinto(buf_a), fb.readinto(buf_b)
            if na != nb:
                return False
            if na < chunk:
                return buf_a[:na] == buf_b[:nb]
            if buf_a != buf_b:
                return False


def same_model(folder_a: str, folder_b: str, variant: Optional[str] = None) -> bool:
    """Whether two text-encoder folders hold the same model: equal configs (after defaults) and
    byte-identical weight files. The prior and decoder repos of Stable Cascade each ship one;
    the pipeline loads a single copy when they agree."""
    if load_config(folder_a) != load_config(folder_b):
        return False
    with open_weights(folder_a, "model", variant) as wa, open_weights(folder_b, "model", variant) as wb:
        files_a, files_b = wa.files, wb.files
    return len(files_a) == len(files_b) and all(_same_bytes(a, b) for a, b in zip(files_a, files_b))


@dataclass
class CLIPTextModelOutput:
    """Outputs of one forward pass (float32 NumPy arrays)."""

    hidden_states: np.ndarray
    """[B, T, hidden]: transformers' ``hidden_states[-1]``, before the final LayerNorm."""
    last_hidden_state: np.ndarray
    """[B, T, hidden]: after the final LayerNorm."""
    text_embeds: np.ndarray
    """[B, projection_dim]: the pooled row of ``last_hidden_state``, projected (not normalized)."""


def _as_token_array(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError("%s must hold integers, got dtype %s" % (what, a.dtype))
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError("%s must have shape [batch, tokens], got %s" % (what, a.shape))
    return np.ascontiguousarray(a, dtype=np.int64)


class CLIPTextModelWithProjection:
    """CLIP text encoder + projection, numerically equal to transformers' class in float32.

    >>> te = CLIPTextModelWithProjection.from_pretrained("stable-cascade-prior/text_encoder")
    >>> out = te(enc["input_ids"], attention_mask=enc["attention_mask"])
    >>> out.hidden_states.shape, out.text_embeds.shape
    ((1, 77, 1280), (1, 1280))
    """

    def __init__(self, model: "_C.ClipTextModel", config: Dict[str, Any], device: str) -> None:
        self._model = model
        self.config = config
        self.device = device

    @classmethod
    def from_pretrained(cls, folder: str, device: str = "cpu", variant: Optional[str] = None,
                        weights: str = "auto") -> "CLIPTextModelWithProjection":
        """Load ``config.json`` and ``model[.<variant>].safetensors`` (or its shards) from `folder`.

        Raises FileNotFoundError for a missing folder/file, ValueError naming file and tensor for
        missing, mis-shaped or unexpected tensors, RuntimeError for device="cuda" without a usable
        GPU. On "cuda" the weights are bfloat16 on the GPU; outputs are float32 arrays either way.
        `weights` ("auto", "float32", "bfloat16") is how the CPU stores them (devices.check_weights):
        by default a bf16 checkpoint stays bf16 in memory, with float32 results.
        """
        device = resolve_device(device)
        check_weights(weights, device)
        folder = os.fspath(folder)
        if not os.path.isdir(folder):
            raise FileNotFoundError("CLIP text encoder folder not found: %s" % folder)
        config = load_config(folder)
        return cls(_C.ClipTextModel(folder, variant, config, device, weights), config, device)

    load_config = staticmethod(load_config)

    @staticmethod
    def expected_keys(config: Dict[str, Any]) -> List[Tuple[str, Tuple[int, ...]]]:
        """(name, torch shape) of every tensor the loader requires for `config`, in state-dict order.

        `config` holds config.json fields; missing ones take transformers' defaults.
        """
        return _C.clip_text_expected_keys(dict(CONFIG_DEFAULTS, **config))

    def __call__(self, input_ids: Any, attention_mask: Any = None) -> CLIPTextModelOutput:
        """Encode token ids [B, T] (T <= max_position_embeddings; a 1-D row is a batch of one).

        `attention_mask` [B, T] (1 = token, 0 = padding) masks padded keys on top of the causal
        mask, as diffusers passes it; None attends to every earlier position. Rows whose keys are
        all masked (a mask starting with 0) have no meaning and follow the attention op.
        """
        ids = _as_token_array(input_ids, "input_ids")
        mask = None
        if attention_mask is not None:
            mask = _as_token_array(attention_mask, "attention_mask")
            if mask.shape != ids.shape:
                raise ValueError("attention_mask has shape %s, input_ids %s" % (mask.shape, ids.shape))
        hidden, last, embeds = self._model.forward(ids, mask)
        return CLIPTextModelOutput(hidden_states=hidden, last_hidden_state=last, text_embeds=embeds)

    @property
    def param_bytes(self) -> int:
        """Bytes the loaded weights take on the device."""
        return self._model.param_bytes()

    def free_workspace(self) -> None:
        """Free the activation memory kept between calls (the next call allocates it again, once)."""
        self._model.free_workspace()

    def _arena_alloc_count(self) -> int:
        """Activation-arena allocations so far (steady-state passes add none)."""
        return self._model.arena_alloc_count()
