"""The text-to-image pipeline: tokenizer -> CLIP text encoder -> Stage C prior (CFG) ->
Stage B decoder -> Stage A -> uint8 RGB images.

The arithmetic is diffusers' ``StableCascadePriorPipeline`` followed by
``StableCascadeDecoderPipeline`` with ONE ``torch.Generator("cpu")`` shared by both stages, as
Ikomia's infer_stable_cascade runs them; every network, the sampler and the RNG run in the C
extension. This module only sequences the calls.
"""
from __future__ import annotations

import json
import math
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import memory
from ._progress import ProgressArg, make_progress
from .devices import resolve_device
from .generator import Generator
from .params import GenerationParams, SizeError, parse_params, resolve_seed
from .scheduler import DDPMWuerstchenScheduler
from .text_encoder import CLIPTextModelWithProjection
from .tokenizer import CLIPTokenizer
from .unet import StableCascadeUNet
from .vqgan import PaellaVQModel

#: Stage C latent side = ceil(image side / 42.67); Stage B latent side = int(stage C side * 10.67).
#: Both come from the repos' model_index.json (these are diffusers' defaults).
PRIOR_RESOLUTION_MULTIPLE = 42.67
DECODER_LATENT_DIM_SCALE = 10.67


def prior_latent_size(height: int, width: int, multiple: float = PRIOR_RESOLUTION_MULTIPLE) -> Tuple[int, int]:
    return math.ceil(height / multiple), math.ceil(width / multiple)


def decoder_latent_size(prior_hw: Tuple[int, int], scale: float = DECODER_LATENT_DIM_SCALE) -> Tuple[int, int]:
    return int(prior_hw[0] * scale), int(prior_hw[1] * scale)


def _model_index_value(root: str, key: str, default: float) -> float:
    path = os.path.join(root, "model_index.json")
    if not os.path.isfile(path):
        return default
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f).get(key, default)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable model_index.json ({exc})") from None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{path}: {key} must be a positive number, got {value!r}")
    return float(value)


def cfg_combine(eps_text: np.ndarray, eps_uncond: np.ndarray, w: float) -> np.ndarray:
    """torch.lerp(uncond, text, w) with torch's two-branch formula, in float32."""
    w32 = np.float32(w)
    diff = eps_text - eps_uncond
    if abs(w) < 0.5:
        return eps_uncond + w32 * diff
    return eps_text - diff * (np.float32(1.0) - w32)


def to_uint8_images(decoded: np.ndarray) -> List[np.ndarray]:
    """clamp(0, 1), NHWC, (x * 255).round() half-to-even, uint8 — diffusers' "pil" path."""
    x = np.clip(decoded, 0.0, 1.0).transpose(0, 2, 3, 1)
    x = np.round(x * np.float32(255.0)).astype(np.uint8)
    return [np.ascontiguousarray(img) for img in x]


def _find_subfolder(root: str, names: Sequence[str], what: str) -> str:
    for name in names:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            return path
    raise FileNotFoundError(f"{root}: no {what} folder (looked for {', '.join(names)})")


class Pipeline:
    """Stable Cascade text-to-image. Build it with :meth:`from_pretrained`, call it with the
    infer_stable_cascade parameter dict or keywords; returns a list of ``uint8 (H, W, 3)`` RGB arrays.

    One pipeline object runs one generation at a time: a concurrent call from another thread
    raises ``RuntimeError`` (use one pipeline per thread for parallel work). Before generating,
    the host memory the request needs is estimated from the model configs; a request that does
    not fit in the available memory raises ``MemoryError`` before anything is allocated (set
    ``check_memory = False`` to skip the check). See docs/reliability.md.
    """

    #: Refuse requests whose estimated memory exceeds what the machine has available.
    check_memory: bool = True

    def __init__(self, *, tokenizer: CLIPTokenizer, text_encoder: CLIPTextModelWithProjection,
                 prior: StableCascadeUNet, prior_scheduler: DDPMWuerstchenScheduler,
                 decoder_tokenizer: CLIPTokenizer, decoder_text_encoder: CLIPTextModelWithProjection,
                 decoder: StableCascadeUNet, decoder_scheduler: DDPMWuerstchenScheduler,
                 vqgan: PaellaVQModel, device: str = "cpu",
                 resolution_multiple: float = PRIOR_RESOLUTION_MULTIPLE,
                 latent_dim_scale: float = DECODER_LATENT_DIM_SCALE):
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.prior = prior
        self.prior_scheduler = prior_scheduler
        self.decoder_tokenizer = decoder_tokenizer
        self.decoder_text_encoder = decoder_text_encoder
        self.decoder = decoder
        self.decoder_scheduler = decoder_scheduler
        self.vqgan = vqgan
        self.device = device
        self.resolution_multiple = resolution_multiple
        self.latent_dim_scale = latent_dim_scale
        self.last_seed: Optional[int] = None
        self._busy = threading.Lock()
        # What the stages' arenas hold after the largest request so far (they keep their size).
        self._held: Optional[memory.MemoryEstimate] = None

    @classmethod
    def from_pretrained(cls, prior: str, decoder: str, device: str = "auto", lite: bool = False,
                        variant: Optional[str] = None) -> "Pipeline":
        """Load from folders laid out like the Hub repos ``stabilityai/stable-cascade-prior`` and
        ``stabilityai/stable-cascade``.

        Args:
            prior: folder with ``prior/`` (or ``prior_lite/``), ``text_encoder/``, ``tokenizer/``, ``scheduler/``.
            decoder: folder with ``decoder/`` (or ``decoder_lite/``), ``text_encoder/``, ``tokenizer/``,
                ``vqgan/``, ``scheduler/``.
            device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (the GPU when one is usable).
            lite: use ``prior_lite/`` and ``decoder_lite/``.
            variant: weight-file variant such as ``"bf16"`` (``diffusion_pytorch_model.bf16.safetensors``).
        """
        for root in (prior, decoder):
            if not os.path.isdir(root):
                raise FileNotFoundError(f"model folder not found: {root}")
        device = resolve_device(device)
        prior_unet_dir = _find_subfolder(prior, ["prior_lite", "prior"] if lite else ["prior"], "prior")
        decoder_unet_dir = _find_subfolder(decoder, ["decoder_lite", "decoder"] if lite else ["decoder"], "decoder")
        return cls(
            tokenizer=CLIPTokenizer.from_pretrained(_find_subfolder(prior, ["tokenizer"], "tokenizer")),
            text_encoder=CLIPTextModelWithProjection.from_pretrained(
                _find_subfolder(prior, ["text_encoder"], "text_encoder"), device=device, variant=variant),
            prior=StableCascadeUNet.from_pretrained(prior_unet_dir, device=device, variant=variant),
            prior_scheduler=DDPMWuerstchenScheduler.from_pretrained(_find_subfolder(prior, ["scheduler"], "scheduler")),
            decoder_tokenizer=CLIPTokenizer.from_pretrained(_find_subfolder(decoder, ["tokenizer"], "tokenizer")),
            decoder_text_encoder=CLIPTextModelWithProjection.from_pretrained(
                _find_subfolder(decoder, ["text_encoder"], "text_encoder"), device=device, variant=variant),
            decoder=StableCascadeUNet.from_pretrained(decoder_unet_dir, device=device, variant=variant),
            decoder_scheduler=DDPMWuerstchenScheduler.from_pretrained(
                _find_subfolder(decoder, ["scheduler"], "scheduler")),
            vqgan=PaellaVQModel.from_pretrained(_find_subfolder(decoder, ["vqgan"], "vqgan"), device=device,
                                                variant=variant),
            device=device,
            resolution_multiple=_model_index_value(prior, "resolution_multiple", PRIOR_RESOLUTION_MULTIPLE),
            latent_dim_scale=_model_index_value(decoder, "latent_dim_scale", DECODER_LATENT_DIM_SCALE),
        )

    # -- the call -----------------------------------------------------------------------------

    def __call__(self, params: Optional[Mapping[str, Any]] = None, /, *, progress: ProgressArg = False,
                 _stages: Optional[Dict[str, np.ndarray]] = None, **kwargs: Any) -> List[np.ndarray]:
        """Generate images.

        Args:
            params: the infer_stable_cascade dict (values as strings or native types).
            progress: ``True`` for a progress bar on stderr, or a callable ``(stage, done, total)``.
            _stages: if a dict is given, the intermediate results are stored in it
                (``image_embeddings``, ``decoder_latents``); used by the parity tests.
            **kwargs: the same parameters as keywords (they override ``params``).

        Returns:
            ``num_images_per_prompt`` arrays of dtype uint8 and shape ``(height, width, 3)``, RGB.
        """
        try:
            p = parse_params(params, **kwargs)
        except SizeError as exc:
            if not (1 <= exc.params.width <= 2**53 and 1 <= exc.params.height <= 2**53):
                raise  # no meaningful memory figure for sizes like 0 or a 5000-digit number
            raise SizeError(f"{exc}; {self._describe_request(exc.params)} would need "
                            f"{self.memory_estimate(exc.params).describe()}", exc.params) from None
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("this Pipeline is already generating in another thread; "
                               "use one Pipeline per thread")
        try:
            need = self.memory_estimate(p)
            if self.check_memory:
                self._check_memory(p, need)
            try:
                return self._generate(p, make_progress(progress), _stages)
            finally:
                self._held = need if self._held is None else memory.MemoryEstimate(
                    *(max(a, b) for a, b in zip(need.stages().values(), self._held.stages().values())))
        finally:
            self._busy.release()

    # -- memory --------------------------------------------------------------------------------

    def memory_estimate(self, params: GenerationParams) -> memory.MemoryEstimate:
        """Upper bound of the host memory a request allocates, per stage (stable_cascade_c.memory)."""
        n = params.num_images_per_prompt
        prior_batch = n * (2 if params.prior_guidance_scale > 1.0 else 1)
        decoder_batch = n * (2 if params.guidance_scale > 1.0 else 1)
        prior_hw = prior_latent_size(params.height, params.width, self.resolution_multiple)
        decoder_hw = decoder_latent_size(prior_hw, self.latent_dim_scale)
        tokens = self.tokenizer.model_max_length
        prior_cfg, decoder_cfg = self.prior.config, self.decoder.config
        # Conditioning tokens: the prior sees the text tokens plus clip_seq tokens each for the pooled
        # text and the (zero) image embedding; the decoder only the pooled text's.
        prior_tokens = tokens + 2 * prior_cfg["clip_seq"]
        return memory.MemoryEstimate(
            text_encoders=max(memory.text_encoder_bytes(self.text_encoder.config, 2, tokens),
                              memory.text_encoder_bytes(self.decoder_text_encoder.config, 2, tokens)),
            prior=memory.unet_bytes(prior_cfg, prior_batch, *prior_hw, clip_tokens=prior_tokens),
            decoder=memory.unet_bytes(decoder_cfg, decoder_batch, *decoder_hw, clip_tokens=decoder_cfg["clip_seq"]),
            stage_a=memory.vqgan_decode_bytes(self.vqgan.config, n, *decoder_hw),
        )

    @staticmethod
    def _describe_request(p: GenerationParams) -> str:
        images = "1 image" if p.num_images_per_prompt == 1 else f"{p.num_images_per_prompt} images"
        return f"{images} of {p.width}x{p.height}"

    def _check_memory(self, p: GenerationParams, need: memory.MemoryEstimate) -> None:
        new = need.exceeding(self._held)
        available = memory.available_memory()
        if new > available:
            raise MemoryError(
                f"{self._describe_request(p)} needs {need.describe()}, {memory.format_bytes(new)} of it not yet "
                f"allocated, but only {memory.format_bytes(available)} is available; use a smaller width/height "
                f"or fewer images per prompt")

    def _encode(self, tokenizer: CLIPTokenizer, encoder: CLIPTextModelWithProjection, texts: List[str]):
        tokens = tokenizer(texts)
        out = encoder(tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return out.hidden_states, out.text_embeds[:, None, :]

    def _denoise(self, unet: StableCascadeUNet, scheduler: DDPMWuerstchenScheduler, generator: Generator,
                 shape: Tuple[int, ...], steps: int, guidance: float, cond: Dict[str, np.ndarray],
                 progress, stage: str) -> np.ndarray:
        """The shared denoising loop of both stages; `cond` holds the (CFG-batched) conditioning."""
        cfg = guidance > 1.0
        scheduler.set_timesteps(steps)
        latents = generator.randn(shape)
        prepared = unet.prepare(**cond)
        timesteps = scheduler.timesteps[:-1]
        if progress:
            progress(stage, 0, len(timesteps))
        for i, t in enumerate(timesteps):
            ratio = np.full((shape[0],), t, dtype=np.float32)
            if cfg:
                eps_both = unet.forward_prepared(prepared, np.concatenate([latents, latents]),
                                                 np.concatenate([ratio, ratio]))
                eps = cfg_combine(eps_both[: shape[0]], eps_both[shape[0]:], guidance)
            else:
                eps = unet.forward_prepared(prepared, latents, ratio)
            latents = scheduler.step(eps, ratio, latents, generator=generator)
            if progress:
                progress(stage, i + 1, len(timesteps))
        return latents

    def _generate(self, p: GenerationParams, progress, stages: Optional[Dict[str, np.ndarray]]) -> List[np.ndarray]:
        seed = resolve_seed(p.seed)
        self.last_seed = seed
        generator = Generator(seed)
        n = p.num_images_per_prompt

        # Stage C: text conditioning (positive first, negative second under CFG), then the prior loop.
        prior_cfg = p.prior_guidance_scale > 1.0
        texts = [p.prompt, p.negative_prompt] if prior_cfg else [p.prompt]
        hidden, pooled = self._encode(self.tokenizer, self.text_encoder, texts)
        hidden = np.repeat(hidden, n, axis=0)
        pooled = np.repeat(pooled, n, axis=0)
        clip_img = np.zeros((hidden.shape[0], 1, self.prior.config.get("clip_image_in_channels") or 768),
                            np.float32)
        prior_hw = prior_latent_size(p.height, p.width, self.resolution_multiple)
        prior_channels = self.prior.config["in_channels"]
        image_embeddings = self._denoise(
            self.prior, self.prior_scheduler, generator, (n, prior_channels) + prior_hw,
            p.prior_num_inference_steps, p.prior_guidance_scale,
            dict(clip_text_pooled=pooled, clip_text=hidden, clip_img=clip_img), progress, "prior")

        # Stage B: the decoder re-encodes the prompt and keeps only the pooled embedding.
        dec_cfg = p.guidance_scale > 1.0
        texts = [p.prompt, p.negative_prompt] if dec_cfg else [p.prompt]
        _, dec_pooled = self._encode(self.decoder_tokenizer, self.decoder_text_encoder, texts)
        dec_pooled = np.repeat(dec_pooled, n, axis=0)
        effnet = image_embeddings
        if dec_cfg:
            effnet = np.concatenate([image_embeddings, np.zeros_like(image_embeddings)])
        dec_hw = decoder_latent_size(prior_hw, self.latent_dim_scale)
        latents = self._denoise(
            self.decoder, self.decoder_scheduler, generator, (n, self.decoder.config["in_channels"]) + dec_hw,
            p.num_inference_steps, p.guidance_scale, dict(clip_text_pooled=dec_pooled, effnet=effnet),
            progress, "decoder")

        if stages is not None:
            stages["image_embeddings"] = image_embeddings
            stages["decoder_latents"] = latents
        # Stage A.
        decoded = self.vqgan.decode(latents * np.float32(self.vqgan.scale_factor))
        return to_uint8_images(decoded)
