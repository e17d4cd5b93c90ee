"""The infer_stable_cascade parameter set: defaults, parsing and validation.

Values may be native Python values or strings (Ikomia style). Strings are parsed the way
Ikomia's ``InferStableCascadeParam.set_values`` parses them (Python ``int()``/``float()``), then
every value is range-checked so that a bad parameter is a ``ValueError`` naming the parameter
and the allowed range, before any memory is touched.
"""
from __future__ import annotations

import math
import random
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Mapping, Optional

import numpy as np

#: Upper bound (inclusive) of the random seed drawn for ``seed=-1``, as infer_stable_cascade does.
RANDOM_SEED_MAX = 191965535
#: Largest side accepted for width/height. 4096 px is 16 MPix: the decoder latent alone is
#: already 4x1024x1024 per image; larger sizes were never trained and only burn memory.
MAX_SIDE = 4096
MAX_STEPS = 1000
MAX_IMAGES = 16
SIZE_MULTIPLE = 128


@dataclass
class GenerationParams:
    """One generation request, with infer_stable_cascade's defaults."""

    prompt: str = "Anthropomorphic cat dressed as a pilot"
    negative_prompt: str = ""
    prior_num_inference_steps: int = 20
    prior_guidance_scale: float = 4.0
    num_inference_steps: int = 30
    guidance_scale: float = 0.0
    seed: int = -1
    width: int = 1024
    height: int = 1024
    num_images_per_prompt: int = 1

    def as_strings(self) -> Dict[str, str]:
        """The parameters as Ikomia returns them (every value a string)."""
        return {k: str(v) for k, v in asdict(self).items()}


PARAM_NAMES = tuple(f.name for f in fields(GenerationParams))


class SizeError(ValueError):
    """width or height outside [SIZE_MULTIPLE, MAX_SIDE]. ``params`` holds the request as parsed
    (every other value valid), so that a caller that knows the models can say what it would cost."""

    def __init__(self, message: str, params: GenerationParams):
        super().__init__(message)
        self.params = params


def _show(value: Any) -> str:
    """repr() for error messages, shortened: a 100 kB prompt or a 5000-digit integer must not fill
    the terminal (and str() of an int beyond 4300 digits raises)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-12:]}"


def _parse_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got the boolean {value}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{name} must be an integer, got {_show(value)}")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be an integer string such as '20', got {_show(value)}") from None
    raise ValueError(f"{name} must be an integer, got {type(value).__name__}")


def _parse_float(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number, got the boolean {value}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        try:
            out = float(value)
        except OverflowError:  # an int beyond the float range
            raise ValueError(f"{name} is too large, got {_show(value)}") from None
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be a number such as '4.0', got {_show(value)}") from None
    else:
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {_show(value)}")
    return out


def _parse_str(name: str, value: Any) -> str:
    if value is None:
        raise ValueError(f"{name} must be a string, got None")
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not valid Unicode text: lone surrogate {value[exc.start]!r} at position "
                         f"{exc.start}") from None
    return value


def _check_range(name: str, value, lo, hi) -> None:
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {_show(value)}")


def floor_size(name: str, value: int) -> int:
    """Floor a side to a multiple of 128 as infer_stable_cascade does (with its message)."""
    floored = value // SIZE_MULTIPLE * SIZE_MULTIPLE
    if floored != value:
        warnings.warn(f"Updating {name} to {floored} to be a multiple of {SIZE_MULTIPLE}", stacklevel=3)
    return floored


def parse_params(values: Optional[Mapping[str, Any]] = None, base: Optional[GenerationParams] = None,
                 **kwargs: Any) -> GenerationParams:
    """Merge ``values`` and ``kwargs`` over ``base`` (default: the defaults), parse and validate.

    Unknown keys are ignored with a warning that lists the known ones (a dict written for a
    newer infer_stable_cascade still runs, and a typo does not go unnoticed).
    """
    if values is not None and not isinstance(values, Mapping):
        raise TypeError(f"parameters must be a dict of name -> value, got {type(values).__name__}")
    merged: Dict[str, Any] = asdict(base or GenerationParams())
    for source in (values or {}, kwargs):
        for key, value in source.items():
            if key not in merged:
                warnings.warn(f"unknown parameter {_show(key)} ignored; known: {', '.join(PARAM_NAMES)}", stacklevel=2)
                continue
            merged[key] = value
    p = GenerationParams(
        prompt=_parse_str("prompt", merged["prompt"]),
        negative_prompt=_parse_str("negative_prompt", merged["negative_prompt"]),
        prior_num_inference_steps=_parse_int("prior_num_inference_steps", merged["prior_num_inference_steps"]),
        prior_guidance_scale=_parse_float("prior_guidance_scale", merged["prior_guidance_scale"]),
        num_inference_steps=_parse_int("num_inference_steps", merged["num_inference_steps"]),
        guidance_scale=_parse_float("guidance_scale", merged["guidance_scale"]),
        seed=_parse_int("seed", merged["seed"]),
        width=_parse_int("width", merged["width"]),
        height=_parse_int("height", merged["height"]),
        num_images_per_prompt=_parse_int("num_images_per_prompt", merged["num_images_per_prompt"]),
    )
    _check_range("prior_num_inference_steps", p.prior_num_inference_steps, 1, MAX_STEPS)
    _check_range("num_inference_steps", p.num_inference_steps, 1, MAX_STEPS)
    _check_range("prior_guidance_scale", p.prior_guidance_scale, 0.0, 100.0)
    _check_range("guidance_scale", p.guidance_scale, 0.0, 100.0)
    _check_range("num_images_per_prompt", p.num_images_per_prompt, 1, MAX_IMAGES)
    if p.seed != -1:
        _check_range("seed", p.seed, 0, 2**63 - 1)
    for name in ("width", "height"):
        try:
            _check_range(name, getattr(p, name), SIZE_MULTIPLE, MAX_SIDE)
        except ValueError as exc:
            raise SizeError(str(exc), p) from None
    for name in ("width", "height"):
        setattr(p, name, floor_size(name, getattr(p, name)))
    return p


def resolve_seed(seed: int, rng: Optional[random.Random] = None) -> int:
    """-1 means a random seed in [0, 191965535], as infer_stable_cascade draws it."""
    if seed != -1:
        return seed
    return (rng or random).randint(0, RANDOM_SEED_MAX)
