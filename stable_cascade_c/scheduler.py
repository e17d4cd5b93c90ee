"""diffusers' ``DDPMWuerstchenScheduler`` (the sampler of both Stable Cascade stages), in C.

Same formulas, defaults and float32 operation order as diffusers on the CPU; the noise of each
step comes from a torch-compatible ``Generator``. Differences and what was verified: docs/rng.md.
"""
import os
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from . import _C
from ._config import naming_file, read_json_object
from .generator import Generator, default_generator

CONFIG_NAME = "scheduler_config.json"
_CLASS_NAME = "DDPMWuerstchenScheduler"

ArrayLike = Union[float, Sequence[float], np.ndarray]
GeneratorArg = Union[Generator, Sequence[Generator], None]


def _config_number(config: Dict[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{_CLASS_NAME} config: {key!r} must be a number, got {value!r}")
    return float(value)


def _timestep_array(timestep: ArrayLike) -> np.ndarray:
    return np.asarray(timestep, dtype=np.float32).reshape(-1)


class DDPMWuerstchenScheduler(_C.DDPMWuerstchenScheduler):
    """The DDPM ancestral sampler of Wuerstchen / Stable Cascade with the cosine schedule.

    Args:
        scaler: warps t before the schedule (1.0, the published value, leaves it alone).
        s: offset of the cosine schedule (kept in float32, as diffusers keeps it in a tensor).
    """

    init_noise_sigma: float = 1.0

    def __init__(self, scaler: float = 1.0, s: float = 0.008) -> None:
        super().__init__(scaler, s)
        self.config: Dict[str, float] = {"scaler": float(scaler), "s": float(s)}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "DDPMWuerstchenScheduler":
        """Build from a diffusers config dict (the contents of ``scheduler_config.json``)."""
        if not isinstance(config, dict):
            raise ValueError(f"{_CLASS_NAME} config must be a dict, got {type(config).__name__}")
        class_name = config.get("_class_name", _CLASS_NAME)
        if class_name != _CLASS_NAME:
            raise ValueError(f"scheduler config is for {class_name!r}; only {_CLASS_NAME} is implemented")
        return cls(scaler=_config_number(config, "scaler", 1.0), s=_config_number(config, "s", 0.008))

    @classmethod
    def from_pretrained(cls, folder: Union[str, os.PathLike],
                        subfolder: Optional[str] = None) -> "DDPMWuerstchenScheduler":
        """Read ``scheduler_config.json`` from ``folder`` (or ``folder/subfolder``), as diffusers does."""
        path = os.path.join(os.fspath(folder), subfolder or "", CONFIG_NAME)
        config = read_json_object(path, CONFIG_NAME)
        with naming_file(path):
            return cls.from_config(config)

    def set_timesteps(self, num_inference_steps: Optional[int] = None,
                      timesteps: Optional[Sequence[float]] = None) -> None:
        """``timesteps = linspace(1, 0, num_inference_steps + 1)`` (float32), or the given ones.

        The pipelines run the model at ``timesteps[:-1]``; the last entry (0.0) is only the final
        step's previous timestep.
        """
        if timesteps is not None:
            self._set_custom_timesteps(np.asarray(timesteps, dtype=np.float32).reshape(-1))
        elif num_inference_steps is None:
            raise ValueError("set_timesteps needs num_inference_steps or timesteps")
        else:
            self._set_timesteps(int(num_inference_steps))

    @property
    def timesteps(self) -> Optional[np.ndarray]:
        """The float32 timesteps (a copy), or None before ``set_timesteps``."""
        return self._timesteps()

    def scale_model_input(self, sample: np.ndarray, timestep: Optional[ArrayLike] = None) -> np.ndarray:
        """The identity, as in diffusers."""
        return sample

    def alpha_cumprod(self, t: ArrayLike) -> np.ndarray:
        """``clamp(cos((t + s)/(1 + s) * pi/2)^2 / cos(s/(1 + s) * pi/2)^2, 1e-4, 0.9999)``, float32."""
        return self._alpha_cumprod(np.asarray(t, dtype=np.float32))

    def previous_timestep(self, timestep: ArrayLike) -> np.ndarray:
        """The timestep after the one nearest to ``timestep[0]``, repeated to ``len(timestep)``."""
        t = _timestep_array(timestep)
        if t.size == 0:
            raise ValueError("previous_timestep needs at least one timestep")
        return np.full(t.shape, self._previous_timestep(float(t[0])), dtype=np.float32)

    def step(self, model_output: np.ndarray, timestep: ArrayLike, sample: np.ndarray,
             generator: GeneratorArg = None, out: Optional[np.ndarray] = None) -> np.ndarray:
        """One ancestral step; returns ``prev_sample`` (float32, the shape of ``sample``).

        ``timestep`` is the ratio the model saw (a scalar, or one value per batch entry: pass the
        model dtype's rounding of it, as the pipelines do). Fresh noise of the sample's shape is
        drawn from ``generator`` at every step, also at the last one where it is multiplied by 0.
        A list of generators draws one batch entry each; None uses ``default_generator``.
        ``out`` (a C-contiguous float32 array of the sample's shape, which may be ``sample``
        itself) receives the result instead of a new array.
        """
        gen = default_generator if generator is None else generator
        return self._step(model_output, _timestep_array(timestep), sample, gen, out)

    def add_noise(self, original_samples: np.ndarray, noise: np.ndarray, timesteps: ArrayLike) -> np.ndarray:
        """``sqrt(ac(t)) * original_samples + sqrt(1 - ac(t)) * noise`` (float32)."""
        return self._add_noise(original_samples, noise, _timestep_array(timesteps))

    def __repr__(self) -> str:
        return f"{_CLASS_NAME}(scaler={self.config['scaler']}, s={self.config['s']})"


__all__ = ["DDPMWuerstchenScheduler"]
