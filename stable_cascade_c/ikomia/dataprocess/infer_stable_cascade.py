"""The ``infer_stable_cascade`` task on stable_cascade_c."""
from __future__ import annotations

import threading
import time
from typing import Dict, Optional, Tuple

from ... import weights
from ...devices import resolve_device
from ...params import GenerationParams, parse_params
from ...pipeline import Pipeline
from ..core import CWorkflowTask
from ..utils import strtobool
from . import CImageIO

TASK_NAME = "infer_stable_cascade"
_INT_KEYS = ("prior_num_inference_steps", "num_inference_steps", "seed", "width", "height",
             "num_images_per_prompt")
_FLOAT_KEYS = ("prior_guidance_scale", "guidance_scale")

# Pipelines are cached per process, keyed by (prior folder, decoder folder, device): a new
# Workflow or task does not reload gigabytes of weights.
_PIPELINES: Dict[Tuple[str, str, str], Pipeline] = {}
_PIPELINES_LOCK = threading.Lock()


def get_pipeline(device: str) -> Pipeline:
    prior = weights.resolve_repo(None, "prior")
    decoder = weights.resolve_repo(None, "decoder")
    key = (prior, decoder, device)
    with _PIPELINES_LOCK:
        if key not in _PIPELINES:
            _PIPELINES[key] = Pipeline.from_pretrained(prior=prior, decoder=decoder, device=device)
        return _PIPELINES[key]


class InferStableCascadeParam:
    """The parameter object: attributes as Ikomia's ``InferStableCascadeParam`` has them."""

    def __init__(self):
        d = GenerationParams()
        for key, value in vars(d).items():
            setattr(self, key, value)
        self.cuda = True

    def get_values(self) -> Dict[str, str]:
        values = {k: str(getattr(self, k)) for k in vars(GenerationParams())}
        values["cuda"] = str(self.cuda)
        return values

    def set_values(self, values: Dict[str, str]) -> None:
        """Ikomia's parsing (int()/float()/strtobool, 128-flooring of sizes) plus range checks."""
        native = {}
        for key, value in values.items():
            try:
                if key in _INT_KEYS:
                    native[key] = int(value)
                elif key in _FLOAT_KEYS:
                    native[key] = float(value)
                elif key == "cuda":
                    cuda = strtobool(value)
                else:
                    native[key] = str(value)
            except ValueError as exc:
                raise ValueError(f"{key}={value!r}: {exc}") from None
        for key in ("width", "height"):
            floored = native[key] // 128 * 128
            if floored != native[key]:
                print(f"Updating {key} to {floored} to be a multiple of 128")
                native[key] = floored
        checked = parse_params(native)
        for key, value in vars(checked).items():
            setattr(self, key, value)
        self.cuda = cuda


class InferStableCascade(CWorkflowTask):
    """The task: ``set_parameters``, ``get_parameters``, ``run``, ``get_output(i).get_image()``."""

    def __init__(self, name: str = TASK_NAME):
        super().__init__(name)
        self._param = InferStableCascadeParam()
        self.seed: Optional[int] = None

    def get_param_object(self) -> InferStableCascadeParam:
        return self._param

    def set_param_object(self, param: InferStableCascadeParam) -> None:
        self._param = param

    def get_parameters(self) -> Dict[str, str]:
        """Every parameter as a string (11 keys)."""
        return self._param.get_values()

    def set_parameters(self, values: Dict[str, str]) -> None:
        """Merge `values` over the current ones; unknown keys are ignored, as in Ikomia.

        Raises:
            RuntimeError: a value does not parse or is out of range (nothing is changed then).
        """
        if not isinstance(values, dict):
            raise TypeError(f"set_parameters expects a dict, got {type(values).__name__}")
        merged = self._param.get_values()
        for key, value in values.items():
            if not isinstance(key, str):
                raise TypeError(f"parameter names must be strings, got {key!r}")
            if key in merged:
                merged[key] = value if isinstance(value, str) else str(value)
        try:
            self._param.set_values(merged)
        except ValueError as exc:
            raise RuntimeError(f"{self.name}: invalid parameter value: {exc}") from exc

    def run(self) -> None:
        """Generate the images; output i holds image i (exactly num_images_per_prompt outputs)."""
        start = time.perf_counter()
        p = self._param
        device = weights.default_device()
        if not p.cuda:
            device = "cpu"
        pipe = get_pipeline(resolve_device(device))
        params = {k: getattr(p, k) for k in vars(GenerationParams())}
        images = pipe(params)
        self.seed = pipe.last_seed
        print(f"Prompt:\t{p.prompt}\nSeed:\t{self.seed}")
        self._outputs = [CImageIO(img) for img in images]
        self._elapsed_ms = (time.perf_counter() - start) * 1000.0

    def __repr__(self) -> str:
        params = "\n".join(f"{k}:{v}" for k, v in self.get_parameters().items())
        return f"NAME: {self.name}\nPARAMETERS:\n{params}\nOUTPUTS: {self.get_output_count()}"
