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
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _C, memory
from ._progress import ProgressArg, make_progress
from .devices import check_weights, resolve_device
from .generator import Generator
from .params import GenerationParams, SizeError, parse_params, resolve_seed
from .scheduler import DDPMWuerstchenScheduler
from .text_encoder import CLIPTextModelWithProjection, same_model
from .tokenizer import CLIPTokenizer
from .unet import StableCascadeUNet
from .vqgan import PaellaVQModel

#: A network, or a zero-argument callable that loads it (see Pipeline.__init__).
NetArg = Union[Any, Callable[[], Any]]

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


def cfg_combine(eps_text: np.ndarray, eps_uncond: np.ndarray, w: float,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """torch.lerp(uncond, text, w) with torch's two-branch formula, in float32, into `out` (a
    float32 array of their shape, a new one when None)."""
    w32 = np.float32(w)
    diff = np.subtract(eps_text, eps_uncond, out=out)
    if abs(w) < 0.5:
        return np.add(eps_uncond, np.multiply(diff, w32, out=diff), out=diff)
    return np.subtract(eps_text, np.multiply(diff, np.float32(1.0) - w32, out=diff), out=diff)


def to_uint8_images(decoded: np.ndarray) -> List[np.ndarray]:
    """clamp(0, 1), NHWC, (x * 255).round() half-to-even, uint8 — diffusers' "pil" path."""
    x = np.clip(decoded, 0.0, 1.0).transpose(0, 2, 3, 1)
    x = np.round(x * np.float32(255.0)).astype(np.uint8)
    return [np.ascontiguousarray(img) for img in x]


class NonFiniteError(FloatingPointError):
    """NaN or Inf appeared in a stage's output (corrupt weights, or weights of another model)."""


def check_finite(x: np.ndarray, where: str) -> None:
    """Raise NonFiniteError naming `where` when float32 `x` holds NaN or Inf (instead of letting
    it turn into a silently black image). Counts in place, allocating nothing."""
    bad = _C.count_nonfinite(x)
    if bad:
        raise NonFiniteError(f"{where} produced {bad} NaN/Inf value(s) out of {x.size}; "
                             "the weights are probably corrupt or belong to another model")


def _describe_request(p: GenerationParams) -> str:
    images = "1 image" if p.num_images_per_prompt == 1 else f"{p.num_images_per_prompt} images"
    return f"{images} of {p.width}x{p.height}"


def _find_subfolders(root: str, wanted: Dict[str, Sequence[str]]) -> Dict[str, str]:
    """The first existing candidate folder for each wanted part; one FileNotFoundError naming
    every part that is missing."""
    found, missing = {}, []
    for part, names in wanted.items():
        path = next((os.path.join(root, n) for n in names if os.path.isdir(os.path.join(root, n))), None)
        if path is None:
            missing.append(" or ".join(f"{n}/" for n in names))
        found[part] = path
    if missing:
        raise FileNotFoundError(f"{root} is not laid out like the Hub repo: missing {', '.join(missing)}")
    return found


def _holding_fits(weight_bytes: Dict[str, int], shared_text_encoder: bool) -> bool:
    """low_memory="auto": can every network be held? Warns when not."""
    held = sum(weight_bytes.values()) - (weight_bytes["decoder_text_encoder"] if shared_text_encoder else 0)
    available = memory.available_memory()
    if held + memory.HOLD_HEADROOM <= available:
        return True
    warnings.warn(f"holding every network would take {memory.format_bytes(held)} of host memory and a run needs "
                  f"room on top, but {memory.format_bytes(available)} is available: each network is loaded for "
                  f"its stage instead (low_memory=True; pass low_memory=False to hold them anyway)", stacklevel=3)
    return False


class _Net:
    """One network of the pipeline: held in memory, or (low_memory) loaded for each use and
    dropped right after it, so that only the stage that runs occupies memory. A held network's
    activation workspace is freed after each use all the same: the stages then never hold their
    workspaces at once (the next run allocates each again in its first step)."""

    def __init__(self, net_or_loader: Union[Any, Callable[[], Any]], config: Optional[Dict[str, Any]] = None,
                 weight_bytes: int = 0):
        self._loader = net_or_loader if callable(net_or_loader) and not hasattr(net_or_loader, "config") else None
        self._net = None if self._loader else net_or_loader
        self._config = config
        #: host memory a load takes (loaded-per-use networks; 0 for held ones, already resident)
        self.weight_bytes = 0 if self._net is not None else weight_bytes

    @property
    def held(self) -> bool:
        return self._net is not None

    @property
    def config(self) -> Optional[Dict[str, Any]]:
        """The network's config without loading it: the held network's, else the one given with the
        loader (None when there is none)."""
        return self._net.config if self._net is not None else self._config

    @contextmanager
    def use(self) -> Iterator[Any]:
        net = self._net if self._net is not None else self._loader()
        try:
            yield net
        finally:
            if self._net is not None:
                net.free_workspace()
            del net  # the last reference in low_memory mode: the weights are freed here

    def get(self) -> Any:
        """The network itself (loaded now if it is not held)."""
        return self._net if self._net is not None else self._loader()


class Pipeline:
    """Stable Cascade text-to-image. Build it with :meth:`from_pretrained`, call it with the
    infer_stable_cascade parameter dict or keywords; returns a list of ``uint8 (H, W, 3)`` RGB arrays.

    One pipeline object runs one generation at a time: a concurrent call from another thread
    raises ``RuntimeError`` (use one pipeline per thread for parallel work). Before generating,
    the host memory the request needs is estimated from the model configs; a request that does
    not fit in the available memory raises ``MemoryError`` before anything is allocated (set
    ``check_memory = False`` to skip the check). See docs/reliability.md.

    Example::

        pipe = Pipeline.from_pretrained(prior="stable-cascade-prior", decoder="stable-cascade")
        image = pipe(prompt="a lighthouse at dusk", seed=7)[0]     # uint8 (1024, 1024, 3)
    """

    #: Refuse requests whose estimated memory exceeds what the machine has available.
    check_memory: bool = True

    def __init__(self, *, tokenizer: CLIPTokenizer, text_encoder: NetArg, prior: NetArg,
                 prior_scheduler: DDPMWuerstchenScheduler, decoder_tokenizer: CLIPTokenizer,
                 decoder_text_encoder: NetArg, decoder: NetArg, decoder_scheduler: DDPMWuerstchenScheduler,
                 vqgan: NetArg, device: str = "cpu",
                 resolution_multiple: float = PRIOR_RESOLUTION_MULTIPLE,
                 latent_dim_scale: float = DECODER_LATENT_DIM_SCALE,
                 configs: Optional[Dict[str, Dict[str, Any]]] = None,
                 weight_bytes: Optional[Dict[str, int]] = None):
        """Assemble a pipeline from components. Each network (text encoders, prior, decoder,
        vqgan) may be given as an instance (held) or as a zero-argument loader (loaded for each
        use, see ``low_memory`` in :meth:`from_pretrained`); ``configs`` gives the configs of
        loaded-per-use networks by the same names, and ``weight_bytes`` the host memory each of
        their loads takes (memory.stored_weight_bytes), for the memory estimate."""
        self.tokenizer = tokenizer
        self.prior_scheduler = prior_scheduler
        self.decoder_tokenizer = decoder_tokenizer
        self.decoder_scheduler = decoder_scheduler
        nets = {"text_encoder": text_encoder, "prior": prior, "decoder_text_encoder": decoder_text_encoder,
                "decoder": decoder, "vqgan": vqgan}
        self._nets = {name: _Net(net, (configs or {}).get(name), (weight_bytes or {}).get(name, 0))
                      for name, net in nets.items()}
        self.device = device
        self.resolution_multiple = resolution_multiple
        self.latent_dim_scale = latent_dim_scale
        self.last_seed: Optional[int] = None
        self._busy = threading.Lock()

    # The networks, for direct use (in low_memory mode each access loads it afresh).
    text_encoder = property(lambda self: self._nets["text_encoder"].get())
    prior = property(lambda self: self._nets["prior"].get())
    decoder_text_encoder = property(lambda self: self._nets["decoder_text_encoder"].get())
    decoder = property(lambda self: self._nets["decoder"].get())
    vqgan = property(lambda self: self._nets["vqgan"].get())

    @property
    def low_memory(self) -> bool:
        """True when the networks are loaded per stage instead of held."""
        return not all(net.held for net in self._nets.values())

    @classmethod
    def from_pretrained(cls, prior: str, decoder: str, device: str = "auto", lite: bool = False,
                        variant: Optional[str] = None, low_memory: Union[bool, str] = "auto",
                        weights: str = "auto") -> "Pipeline":
        """Load from folders laid out like the Hub repos ``stabilityai/stable-cascade-prior`` and
        ``stabilityai/stable-cascade``.

        Args:
            prior: folder with ``prior/`` (or ``prior_lite/``), ``text_encoder/``, ``tokenizer/``, ``scheduler/``.
            decoder: folder with ``decoder/`` (or ``decoder_lite/``), ``text_encoder/``, ``tokenizer/``,
                ``vqgan/``, ``scheduler/``.
            device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (the GPU when one is usable).
            lite: use ``prior_lite/`` and ``decoder_lite/``.
            variant: weight-file variant such as ``"bf16"`` (``diffusion_pytorch_model.bf16.safetensors``).
            low_memory: ``True``: hold only the network that runs: each stage loads its weights
                when it starts and frees them when it ends (slower per call, a fraction of the
                memory). ``False``: hold every network. ``"auto"`` (default): hold them when their
                weights (sized from the file headers) plus ``memory.HOLD_HEADROOM`` for a run's
                activations fit in the available memory, else load per stage and say so with a
                ``UserWarning``; on ``"cuda"`` it holds them.
            weights: how the CPU stores the dense weights (projections, convolutions, the token
                table). ``"auto"``: a bfloat16 checkpoint (``variant="bf16"``) stays bfloat16, half
                the memory of float32, and is widened exactly as it is used, so the images are
                those of float32 weights; a float32 one stays float32. ``"float32"``: widen at
                load. ``"bfloat16"``: round float32 checkpoints too (half the memory; the images
                change by that rounding). On ``"cuda"`` weights are always bfloat16.
        """
        for root in (prior, decoder):
            if not os.path.isdir(root):
                raise FileNotFoundError(f"model folder not found: {root}")
        if low_memory not in (True, False, "auto"):
            raise ValueError(f"low_memory must be True, False or 'auto', got {low_memory!r}")
        device = resolve_device(device)
        check_weights(weights, device)
        p_dirs = _find_subfolders(prior, {"prior": ["prior_lite", "prior"] if lite else ["prior"],
                                          "text_encoder": ["text_encoder"], "tokenizer": ["tokenizer"],
                                          "scheduler": ["scheduler"]})
        d_dirs = _find_subfolders(decoder, {"decoder": ["decoder_lite", "decoder"] if lite else ["decoder"],
                                            "text_encoder": ["text_encoder"], "tokenizer": ["tokenizer"],
                                            "scheduler": ["scheduler"], "vqgan": ["vqgan"]})
        dirs = {"text_encoder": p_dirs["text_encoder"], "prior": p_dirs["prior"],
                "decoder_text_encoder": d_dirs["text_encoder"], "decoder": d_dirs["decoder"], "vqgan": d_dirs["vqgan"]}
        classes = {"text_encoder": CLIPTextModelWithProjection, "prior": StableCascadeUNet,
                   "decoder_text_encoder": CLIPTextModelWithProjection, "decoder": StableCascadeUNet,
                   "vqgan": PaellaVQModel}

        def loader(name: str) -> Callable[[], Any]:
            return lambda: classes[name].from_pretrained(dirs[name], device=device, variant=variant, weights=weights)

        # What each network's weights take in host memory once loaded (on a GPU they go to the
        # device): for the memory check of per-stage loads and for low_memory="auto".
        stems = {"text_encoder": "model", "decoder_text_encoder": "model"}
        weight_bytes = {name: memory.stored_weight_bytes(dirs[name], stems.get(name, "diffusion_pytorch_model"),
                                                         variant, weights)
                        for name in dirs} if device == "cpu" and low_memory is not False else None
        # The two repos normally ship the same text encoder (2.8 GB in float32): hold one copy then.
        shared_text_encoder = low_memory is not True and same_model(dirs["text_encoder"],
                                                                     dirs["decoder_text_encoder"], variant)
        if low_memory == "auto":
            low_memory = weight_bytes is not None and not _holding_fits(weight_bytes, shared_text_encoder)
        nets = {name: loader(name) if low_memory else loader(name)() for name in dirs if name != "decoder_text_encoder"}
        if not low_memory and shared_text_encoder:
            nets["decoder_text_encoder"] = nets["text_encoder"]
        else:
            nets["decoder_text_encoder"] = loader("decoder_text_encoder") if low_memory else loader(
                "decoder_text_encoder")()
        configs = {name: classes[name].load_config(dirs[name]) for name in dirs} if low_memory else None
        return cls(
            tokenizer=CLIPTokenizer.from_pretrained(p_dirs["tokenizer"]),
            prior_scheduler=DDPMWuerstchenScheduler.from_pretrained(p_dirs["scheduler"]),
            decoder_tokenizer=CLIPTokenizer.from_pretrained(d_dirs["tokenizer"]),
            decoder_scheduler=DDPMWuerstchenScheduler.from_pretrained(d_dirs["scheduler"]),
            device=device,
            resolution_multiple=_model_index_value(prior, "resolution_multiple", PRIOR_RESOLUTION_MULTIPLE),
            latent_dim_scale=_model_index_value(decoder, "latent_dim_scale", DECODER_LATENT_DIM_SCALE),
            configs=configs,
            weight_bytes=weight_bytes,
            **nets,
        )

    # -- the call -----------------------------------------------------------------------------

    def __call__(self, params: Optional[Mapping[str, Any]] = None, /, *, progress: ProgressArg = True,
                 _stages: Optional[Dict[str, np.ndarray]] = None, **kwargs: Any) -> List[np.ndarray]:
        """Generate images.

        Args:
            params: the infer_stable_cascade dict (values as strings or native types).
            progress: ``True`` (default) draws a progress bar per stage on stderr (tqdm when it is
                installed), ``False`` is silent, a callable ``(stage, done, total)`` is called
                after every step instead.
            _stages: if a dict is given, the intermediate results are stored in it
                (``image_embeddings``, ``decoder_latents``); used by the parity tests.
            **kwargs: the same parameters as keywords (they override ``params``).

        Returns:
            ``num_images_per_prompt`` arrays of dtype uint8 and shape ``(height, width, 3)``, RGB.

        Raises:
            ValueError: a parameter is invalid (the message names it and its allowed range; a too
                large width/height also says how much memory it would need).
            MemoryError: the request needs more host memory than is available (nothing was allocated).
            RuntimeError: the pipeline is already generating in another thread.
            KeyboardInterrupt: interrupted; the run stops between steps and the pipeline stays usable.
        """
        try:
            p = parse_params(params, **kwargs)
        except SizeError as exc:
            sides_countable = all(1 <= side <= 2**53 for side in (exc.params.width, exc.params.height))
            need = self.memory_estimate(exc.params) if sides_countable else None
            if need is None:
                raise  # no meaningful figure for sizes like 0 or a 5000-digit number
            raise SizeError(f"{exc}; {_describe_request(exc.params)} would need {need.describe()}",
                            exc.params) from None
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("this Pipeline is already generating in another thread; "
                               "use one Pipeline per thread")
        reporter = None
        try:
            need = self.memory_estimate(p)
            if self.check_memory and need is not None:
                self._check_memory(p, need)
            reporter = make_progress(progress)
            return self._generate(p, reporter, _stages)
        finally:
            if reporter:
                reporter.close()
            self._busy.release()

    # -- memory --------------------------------------------------------------------------------

    def memory_estimate(self, params: GenerationParams) -> Optional[memory.MemoryEstimate]:
        """Upper bound of the host memory a request allocates, per stage (stable_cascade_c.memory):
        activations, and the weights of networks loaded per stage; None when a network's config
        is unknown (a loader given without its config)."""
        cfg = {name: net.config for name, net in self._nets.items()}
        w = {name: net.weight_bytes for name, net in self._nets.items()}
        if any(c is None for c in cfg.values()):
            return None
        n = params.num_images_per_prompt
        prior_batch = n * (2 if params.prior_guidance_scale > 1.0 else 1)
        decoder_batch = n * (2 if params.guidance_scale > 1.0 else 1)
        prior_hw = prior_latent_size(params.height, params.width, self.resolution_multiple)
        decoder_hw = decoder_latent_size(prior_hw, self.latent_dim_scale)
        tokens = self.tokenizer.model_max_length
        # Conditioning tokens: the prior sees the text tokens plus clip_seq tokens each for the pooled
        # text and the (zero) image embedding; the decoder only the pooled text's.
        prior_tokens = tokens + 2 * cfg["prior"]["clip_seq"]
        return memory.MemoryEstimate(
            text_encoders=max(memory.text_encoder_bytes(cfg["text_encoder"], 2, tokens) + w["text_encoder"],
                              memory.text_encoder_bytes(cfg["decoder_text_encoder"], 2, tokens)
                              + w["decoder_text_encoder"]),
            prior=memory.unet_bytes(cfg["prior"], prior_batch, *prior_hw, clip_tokens=prior_tokens) + w["prior"],
            decoder=memory.unet_bytes(cfg["decoder"], decoder_batch, *decoder_hw, clip_tokens=cfg["decoder"]["clip_seq"])
            + w["decoder"],
            stage_a=memory.vqgan_decode_bytes(cfg["vqgan"], n, *decoder_hw) + w["vqgan"],
        )

    def _check_memory(self, p: GenerationParams, need: memory.MemoryEstimate) -> None:
        # Every stage frees its activations when it ends (held networks their workspace, low_memory
        # the whole network), so a run needs its largest stage at a time.
        new = max(need.stages().values())
        available = memory.available_memory()
        if new > available:
            raise MemoryError(
                f"{_describe_request(p)} needs {need.describe()}, {memory.format_bytes(new)} of it at once "
                f"(the largest stage), but only {memory.format_bytes(available)} is available; use a smaller "
                f"width/height or fewer images per prompt")

    @staticmethod
    def _encode(tokenizer: CLIPTokenizer, encoder: CLIPTextModelWithProjection, texts: List[str]):
        tokens = tokenizer(texts)
        out = encoder(tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return out.hidden_states, out.text_embeds[:, None, :]

    @staticmethod
    def _denoise(unet: StableCascadeUNet, scheduler: DDPMWuerstchenScheduler, generator: Generator,
                 shape: Tuple[int, ...], steps: int, guidance: float, cond: Dict[str, np.ndarray],
                 progress, stage: str) -> np.ndarray:
        """The shared denoising loop of both stages; `cond` holds the (CFG-batched) conditioning.
        Every array the steps use is allocated here, before the first step: the network writes
        into `eps_in`, the guidance mix into `eps`, the sampler updates `latents` in place (and
        the C side allocates nothing after the first step either)."""
        cfg = guidance > 1.0
        scheduler.set_timesteps(steps)
        latents = generator.randn(shape)
        prepared = unet.prepare(**cond)
        timesteps = scheduler.timesteps[:-1]
        b = shape[0]
        batch = 2 * b if cfg else b
        model_in = np.empty((batch, *shape[1:]), np.float32) if cfg else latents
        ratio = np.empty(batch, np.float32)
        eps_in = np.empty((batch, unet.config["out_channels"], *shape[2:]), np.float32)
        eps = np.empty((b, *eps_in.shape[1:]), np.float32) if cfg else eps_in
        if progress:
            progress(stage, 0, len(timesteps))
        for i, t in enumerate(timesteps):
            ratio.fill(t)
            if cfg:
                model_in[:b] = latents
                model_in[b:] = latents
            unet.forward_prepared(prepared, model_in, ratio, out=eps_in)
            if cfg:
                cfg_combine(eps_in[:b], eps_in[b:], guidance, out=eps)
            scheduler.step(eps, ratio[:b], latents, generator=generator, out=latents)
            check_finite(latents, f"{stage} step {i + 1}/{len(timesteps)}")
            if progress:
                progress(stage, i + 1, len(timesteps))
        return latents

    def _generate(self, p: GenerationParams, progress, stages: Optional[Dict[str, np.ndarray]]) -> List[np.ndarray]:
        seed = resolve_seed(p.seed)
        self.last_seed = seed
        generator = Generator(seed)
        n = p.num_images_per_prompt
        nets = self._nets

        # Stage C: text conditioning (positive first, negative second under CFG), then the prior loop.
        prior_cfg = p.prior_guidance_scale > 1.0
        # A `with` target outlives its block: each is deleted after it so that low_memory mode
        # really frees the network before the next one loads.
        with nets["text_encoder"].use() as text_encoder:
            hidden, pooled = self._encode(self.tokenizer, text_encoder,
                                          [p.prompt, p.negative_prompt] if prior_cfg else [p.prompt])
        del text_encoder
        check_finite(hidden, "the prior's text encoder")
        hidden = np.repeat(hidden, n, axis=0)
        pooled = np.repeat(pooled, n, axis=0)
        prior_hw = prior_latent_size(p.height, p.width, self.resolution_multiple)
        with nets["prior"].use() as prior:
            clip_img = np.zeros((hidden.shape[0], 1, prior.config.get("clip_image_in_channels") or 768), np.float32)
            image_embeddings = self._denoise(
                prior, self.prior_scheduler, generator, (n, prior.config["in_channels"]) + prior_hw,
                p.prior_num_inference_steps, p.prior_guidance_scale,
                dict(clip_text_pooled=pooled, clip_text=hidden, clip_img=clip_img), progress, "prior")
        del prior

        # Stage B: the decoder re-encodes the prompt and keeps only the pooled embedding.
        dec_cfg = p.guidance_scale > 1.0
        with nets["decoder_text_encoder"].use() as text_encoder:
            _, dec_pooled = self._encode(self.decoder_tokenizer, text_encoder,
                                         [p.prompt, p.negative_prompt] if dec_cfg else [p.prompt])
        del text_encoder
        check_finite(dec_pooled, "the decoder's text encoder")
        dec_pooled = np.repeat(dec_pooled, n, axis=0)
        effnet = image_embeddings
        if dec_cfg:
            effnet = np.concatenate([image_embeddings, np.zeros_like(image_embeddings)])
        dec_hw = decoder_latent_size(prior_hw, self.latent_dim_scale)
        with nets["decoder"].use() as decoder:
            latents = self._denoise(
                decoder, self.decoder_scheduler, generator, (n, decoder.config["in_channels"]) + dec_hw,
                p.num_inference_steps, p.guidance_scale, dict(clip_text_pooled=dec_pooled, effnet=effnet),
                progress, "decoder")
        del decoder

        if stages is not None:
            stages["image_embeddings"] = image_embeddings
            stages["decoder_latents"] = latents
        # Stage A.
        with nets["vqgan"].use() as vqgan:
            decoded = vqgan.decode(latents * np.float32(vqgan.scale_factor))
        del vqgan
        check_finite(decoded, "Stage A (vqgan)")
        return to_uint8_images(decoded)
