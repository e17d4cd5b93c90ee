"""StableCascadeUNet: the Stage C prior and the Stage B decoder (diffusers' class of that name).

The network runs in C (`_C.UNet`); this module reads configs, finds weight files and checks
arguments. Inputs and outputs are float32 NumPy arrays in diffusers' NCHW layout.

    unet = StableCascadeUNet.from_pretrained("stable-cascade-prior/prior")
    eps = unet(sample, timestep_ratio, clip_text_pooled, clip_text=..., clip_img=...)

    cond = unet.prepare(clip_text_pooled, clip_text=..., clip_img=...)   # once per run
    eps = unet.forward_prepared(cond, sample, timestep_ratio)            # every step
"""
from __future__ import annotations

import copy
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _C
from ._config import naming_file, read_json_object
from .devices import check_weights, resolve_device

_R, _T, _A = "SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"

#: diffusers' StableCascadeUNet.__init__ defaults.
DEFAULT_CONFIG: Dict[str, Any] = {
    "in_channels": 16,
    "out_channels": 16,
    "timestep_ratio_embedding_dim": 64,
    "patch_size": 1,
    "conditioning_dim": 2048,
    "block_out_channels": [2048, 2048],
    "num_attention_heads": [32, 32],
    "down_num_layers_per_block": [8, 24],
    "up_num_layers_per_block": [24, 8],
    "down_blocks_repeat_mappers": [1, 1],
    "up_blocks_repeat_mappers": [1, 1],
    "block_types_per_layer": [[_R, _T, _A], [_R, _T, _A]],
    "clip_text_in_channels": None,
    "clip_text_pooled_in_channels": 1280,
    "clip_image_in_channels": None,
    "clip_seq": 4,
    "effnet_in_channels": None,
    "pixel_mapper_in_channels": None,
    "kernel_size": 3,
    "dropout": [0.1, 0.1],
    "self_attn": True,
    "timestep_conditioning_type": ["sca", "crp"],
    "switch_level": None,
}

_PRIOR_COMMON = {
    "in_channels": 16, "out_channels": 16, "patch_size": 1, "clip_text_in_channels": 1280,
    "clip_image_in_channels": 768, "effnet_in_channels": None, "pixel_mapper_in_channels": None,
    "block_types_per_layer": [[_R, _T, _A], [_R, _T, _A]], "down_blocks_repeat_mappers": [1, 1],
    "up_blocks_repeat_mappers": [1, 1], "dropout": [0.1, 0.1], "timestep_conditioning_type": ["sca", "crp"],
    "switch_level": [False],
}
_DECODER_COMMON = {
    "in_channels": 4, "out_channels": 4, "patch_size": 2, "conditioning_dim": 1280, "clip_text_in_channels": None,
    "clip_image_in_channels": None, "effnet_in_channels": 16, "pixel_mapper_in_channels": 3,
    "block_types_per_layer": [[_R, _T], [_R, _T], [_R, _T, _A], [_R, _T, _A]],
    "down_blocks_repeat_mappers": [1, 1, 1, 1], "dropout": [0, 0, 0.1, 0.1], "timestep_conditioning_type": ["sca"],
    "switch_level": None,
}

#: The four published configs (spec/stage_b_c_unet.md §1.2), by the names of their Hub folders.
PRESETS: Dict[str, Dict[str, Any]] = {
    "prior": dict(_PRIOR_COMMON, conditioning_dim=2048, block_out_channels=[2048, 2048], num_attention_heads=[32, 32],
                  down_num_layers_per_block=[8, 24], up_num_layers_per_block=[24, 8]),
    "prior_lite": dict(_PRIOR_COMMON, conditioning_dim=1536, block_out_channels=[1536, 1536],
                       num_attention_heads=[24, 24], down_num_layers_per_block=[4, 12],
                       up_num_layers_per_block=[12, 4]),
    "decoder": dict(_DECODER_COMMON, block_out_channels=[320, 640, 1280, 1280], num_attention_heads=[0, 0, 20, 20],
                    down_num_layers_per_block=[2, 6, 28, 6], up_num_layers_per_block=[6, 28, 6, 2],
                    up_blocks_repeat_mappers=[3, 3, 2, 2]),
    "decoder_lite": dict(_DECODER_COMMON, block_out_channels=[320, 576, 1152, 1152], num_attention_heads=[0, 9, 18, 18],
                         down_num_layers_per_block=[2, 4, 14, 4], up_num_layers_per_block=[4, 14, 4, 2],
                         up_blocks_repeat_mappers=[2, 2, 2, 2]),
}

_PER_LEVEL = ("down_num_layers_per_block", "up_num_layers_per_block", "down_blocks_repeat_mappers",
              "up_blocks_repeat_mappers", "block_types_per_layer")

ConfigLike = Union[str, Dict[str, Any]]


def normalize_config(config: ConfigLike) -> Dict[str, Any]:
    """A complete config dict: diffusers' defaults for absent fields, lists for tuples, `self_attn`
    and `dropout` broadcast per level, diffusers' length checks. `config` is a dict (config.json
    content; keys starting with "_" are ignored) or the name of a published config
    ("prior", "prior_lite", "decoder", "decoder_lite")."""
    if isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(f"unknown UNet config name {config!r}; known: {', '.join(PRESETS)}")
        config = PRESETS[config]
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict or a config name, got {type(config).__name__}")
    unknown = sorted(k for k in config if not k.startswith("_") and k not in DEFAULT_CONFIG)
    if unknown:
        raise ValueError(f"UNet config: unknown field(s) {', '.join(unknown)}")
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    cfg.update({k: copy.deepcopy(v) for k, v in config.items() if not k.startswith("_")})
    for key, value in cfg.items():
        if isinstance(value, tuple):
            cfg[key] = list(value)
    for key in ("block_out_channels",) + _PER_LEVEL:
        if not isinstance(cfg[key], list):
            raise ValueError(f"UNet config: `{key}` must be a list, got {cfg[key]!r}")
    if not all(isinstance(t, (list, tuple)) for t in cfg["block_types_per_layer"]):
        raise ValueError(f"UNet config: `block_types_per_layer` must be a list of lists of block names, "
                         f"got {cfg['block_types_per_layer']!r}")
    cfg["block_types_per_layer"] = [list(t) for t in cfg["block_types_per_layer"]]
    levels = len(cfg["block_out_channels"])
    for key in _PER_LEVEL:
        if len(cfg[key]) != levels:
            raise ValueError(f"Number of elements in `{key}` must match the length of `block_out_channels`: {levels}")
    if isinstance(cfg["dropout"], (int, float)):
        cfg["dropout"] = [cfg["dropout"]] * levels
    if isinstance(cfg["self_attn"], bool):
        cfg["self_attn"] = [cfg["self_attn"]] * levels
    return cfg


def _f32(x: Any) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _opt(x: Any) -> Optional[np.ndarray]:
    return None if x is None else _f32(x)


class StableCascadeUNet:
    """A loaded StableCascadeUNet (prior or decoder) with diffusers' forward semantics."""

    def __init__(self, handle: "_C.UNet", config: Dict[str, Any], device: str = "cpu") -> None:
        self._unet = handle
        self._config = config
        self.device = device

    @classmethod
    def from_pretrained(cls, folder: str, device: str = "cpu", variant: Optional[str] = None,
                        weights: str = "auto") -> "StableCascadeUNet":
        """Load a diffusers-format folder: config.json plus diffusion_pytorch_model[.<variant>].safetensors,
        or its shards listed in the matching .safetensors.index.json. On device "cuda" (or "auto" with
        a usable GPU) the weights are bfloat16 on the GPU; arrays in and out stay float32. `weights`
        ("auto", "float32", "bfloat16") is how the CPU stores them (devices.check_weights): by
        default a bf16 checkpoint stays bf16 in memory, with float32 results."""
        device = resolve_device(device)
        check_weights(weights, device)
        cfg = cls.load_config(folder)
        return cls(_C.UNet(cfg, folder, variant=variant, single_file=False, naming="diffusers", device=device,
                           weights=weights), cfg, device)

    @staticmethod
    def load_config(folder: str) -> Dict[str, Any]:
        """The normalised config of a diffusers folder's config.json, checked before any weight is
        read: a bad value is a ValueError that names the file."""
        path = os.path.join(os.fspath(folder), "config.json")
        raw = read_json_object(path, "UNet config")
        with naming_file(path):
            cfg = normalize_config(raw)
            _C.unet_expected_keys(cfg, "diffusers")  # runs the C loader's config checks
        return cfg

    @classmethod
    def from_single_file(cls, path: str, config: Optional[ConfigLike] = None, device: str = "cpu",
                         naming: str = "auto", weights: str = "auto") -> "StableCascadeUNet":
        """Load one .safetensors file: an original Stability-AI checkpoint (stage_c.safetensors,
        stage_c_bf16, stage_c_lite*, stage_b*) or a diffusers state dict. `config` is a config dict,
        "prior", "prior_lite", "decoder", "decoder_lite", or None to tell the published config from
        the tensors (detect_config); `naming` is "auto" (detected from the file), "original" or
        "diffusers"; `weights` as in from_pretrained."""
        device = resolve_device(device)
        check_weights(weights, device)
        cfg = normalize_config(cls.detect_config(path) if config is None else config)
        return cls(_C.UNet(cfg, path, single_file=True, naming=naming, device=device, weights=weights), cfg, device)

    @staticmethod
    def detect_config(path: str) -> str:
        """Which published config a single-file checkpoint holds, told apart as diffusers' single-file
        loader does: Stage C by the width of clip_txt_mapper, Stage B by the input width of
        down_blocks.1.0.channelwise.0."""
        from .safetensors import Weights

        with Weights(path) as w:
            keys = set(w.keys())
            if "clip_txt_mapper.weight" in keys:
                found = {2048: "prior", 1536: "prior_lite"}.get(w.info("clip_txt_mapper.weight")[1][0])
            elif "down_blocks.1.0.channelwise.0.weight" in keys:
                found = {640: "decoder", 576: "decoder_lite"}.get(w.info("down_blocks.1.0.channelwise.0.weight")[1][-1])
            else:
                found = None
        if found is None:
            raise ValueError(f"{path}: not one of the published Stage B/C checkpoints; pass config= "
                             f"(a config dict or one of {', '.join(PRESETS)})")
        return found

    @property
    def config(self) -> Dict[str, Any]:
        """The full (normalised) diffusers config."""
        return copy.deepcopy(self._config)

    @property
    def param_bytes(self) -> int:
        """Bytes the loaded weights take on the device."""
        return self._unet.param_bytes

    @property
    def arena_alloc_count(self) -> int:
        """Device allocations of the activation arena so far (constant after the first forward)."""
        return self._unet.arena_alloc_count

    def __call__(self, sample: np.ndarray, timestep_ratio: Union[float, Sequence[float], np.ndarray],
                 clip_text_pooled: np.ndarray, clip_text: Optional[np.ndarray] = None,
                 clip_img: Optional[np.ndarray] = None, effnet: Optional[np.ndarray] = None,
                 pixels: Optional[np.ndarray] = None) -> np.ndarray:
        """diffusers' StableCascadeUNet.forward(...).sample as float32 [B, out_channels, H, W].

        sample [B, in_channels, H, W]; timestep_ratio [B] (or one value for all); clip_text_pooled
        [B, S, C]; clip_text [B, T, C] and clip_img [B, S_i, C] are used only together; effnet
        [B, C, He, We] and pixels [B, C, Hp, Wp] (default zeros 8x8) for models with those mappers."""
        return self._unet(_f32(sample), _f32(timestep_ratio), _f32(clip_text_pooled), _opt(clip_text),
                          _opt(clip_img), _opt(effnet), _opt(pixels))

    def prepare(self, clip_text_pooled: np.ndarray, clip_text: Optional[np.ndarray] = None,
                clip_img: Optional[np.ndarray] = None, effnet: Optional[np.ndarray] = None,
                pixels: Optional[np.ndarray] = None) -> "_C.UNetConditioning":
        """The conditioning of a run, computed once: CLIP tokens mapped and projected to every
        attention block's keys/values, effnet and pixels mapper terms."""
        return self._unet.prepare(_f32(clip_text_pooled), _opt(clip_text), _opt(clip_img), _opt(effnet),
                                  _opt(pixels))

    def forward_prepared(self, cond: "_C.UNetConditioning", sample: np.ndarray,
                         timestep_ratio: Union[float, Sequence[float], np.ndarray],
                         out: Optional[np.ndarray] = None) -> np.ndarray:
        """The same result as calling the model with the inputs `cond` was prepared from; into
        `out` (a C-contiguous float32 array of the output's shape) when given."""
        return self._unet.forward_prepared(cond, _f32(sample), _f32(timestep_ratio), out)

    def free_workspace(self) -> None:
        """Free the activation memory kept between forwards (the next forward allocates it again,
        once); the pipeline calls it when a stage ends."""
        self._unet.free_workspace()

    @staticmethod
    def expected_keys(config: ConfigLike, naming: str = "diffusers") -> List[Tuple[str, Tuple[int, ...]]]:
        """Every tensor a checkpoint of `config` holds, (name, torch shape) in state_dict order, in
        diffusers' naming or the original single-file naming ("original")."""
        return _C.unet_expected_keys(normalize_config(config), naming)


__all__ = ["StableCascadeUNet", "PRESETS", "DEFAULT_CONFIG", "normalize_config"]
