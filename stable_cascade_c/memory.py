"""Host memory a generation needs, estimated from the model configs before anything is allocated.

The estimate is an upper bound on the activation memory of each stage at a given image size and
batch: the CLIP text encoders, the Stage C prior and Stage B decoder UNets (their arenas, the
per-run conditioning, the latents the Python loop keeps) and Stage A (its arena and the image
arrays), plus, for a network loaded per stage (``low_memory``), its weights, counted from the
weight files' headers (`stored_weight_bytes`). Each stage frees its activations when it ends, so a generation needs its largest stage
at a time (`total` is what the stages would hold together). The formulas follow the allocation plans of
csrc/model_unet.c and csrc/model_paella_vq.c; tests/test_memory.py checks them against the
resident memory that real calls add.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

#: Bytes per activation value: the CPU backend computes in float32.
VALUE_BYTES = 4
#: Values Stage A's MLP processes at once (SC_PAELLA_MLP_TILE in csrc/model_paella_vq.h).
PAELLA_MLP_TILE = 8192 * 1536
#: Room low_memory="auto" leaves beside the held weights for a run's activations (a 1024x1024
#: image needs about 0.9 GiB at its largest stage with the published models: docs/reliability.md).
HOLD_HEADROOM = 2 << 30
#: Latent-sized arrays the denoising loop holds at once: latents, the CFG-doubled input and
#: output, the combined eps, the scheduler's noise and result.
LOOP_ARRAYS = 6


@dataclass(frozen=True)
class MemoryEstimate:
    """Upper bounds, in bytes, of the host memory each stage of one generation allocates."""

    text_encoders: int
    prior: int
    decoder: int
    stage_a: int

    @property
    def total(self) -> int:
        return self.text_encoders + self.prior + self.decoder + self.stage_a

    def stages(self) -> Dict[str, int]:
        return {"text encoders": self.text_encoders, "prior": self.prior, "decoder": self.decoder,
                "Stage A": self.stage_a}

    def describe(self) -> str:
        parts = ", ".join(f"{name} {format_bytes(n)}" for name, n in self.stages().items())
        return f"about {format_bytes(self.total)} of host memory ({parts})"


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _level_sizes(cfg: Dict[str, Any], h: int, w: int) -> Sequence[tuple]:
    """(h, w) of every UNet level: the stride-2 down-scalers floor, a switch_level False keeps the size."""
    sizes = [(h, w)]
    switch = cfg.get("switch_level")
    for i in range(1, len(cfg["block_out_channels"])):
        halves = switch is None or bool(switch[i - 1])
        h, w = (h // 2, w // 2) if halves else (h, w)
        sizes.append((h, w))
    return sizes


def unet_bytes(cfg: Dict[str, Any], batch: int, height: int, width: int, clip_tokens: int) -> int:
    """A StableCascadeUNet run on [batch, in_channels, height, width] latents with `clip_tokens`
    conditioning tokens: the arena of one forward pass, the attention keys/values and stem terms
    prepared once per run, and the latent-sized arrays of the denoising loop."""
    p = cfg["patch_size"]
    channels = cfg["block_out_channels"]
    sizes = _level_sizes(cfg, height // p, width // p)
    level = [c * h * w for c, (h, w) in zip(channels, sizes)]
    down = [max(r, 1) for r in cfg["down_blocks_repeat_mappers"]]
    up = [max(r, 1) for r in reversed(cfg["up_blocks_repeat_mappers"])]
    pixels = height * width
    # Level outputs and repeat-mapper results stay in the arena for the whole pass (the down path's
    # are the skips; one more per level for the up-scaler's output or a skip-size resize); the
    # widest block (ResBlock: 1 + 2 + 4 level sizes with a skip; attention: about 7) comes on top.
    arena = sum((d + u + 1) * n for d, u, n in zip(down, up, level)) + 8 * max(level)
    arena += 2 * cfg["in_channels"] * pixels + 2 * cfg["out_channels"] * pixels  # stem input, head output
    # Prepared once per run: every attention block's keys and values of the conditioning tokens,
    # and the effnet and pixels terms at the stem's size.
    types = cfg["block_types_per_layer"]
    attention = sum(layers * t.count("SDCascadeAttnBlock") * c for layers, t, c in zip(
        cfg["down_num_layers_per_block"] + cfg["up_num_layers_per_block"], types + types[::-1],
        channels + channels[::-1]))
    prepared = 2 * attention * clip_tokens + 2 * level[0]
    loop = LOOP_ARRAYS * max(cfg["in_channels"], cfg["out_channels"]) * pixels
    return VALUE_BYTES * batch * (arena + prepared + loop)


def vqgan_decode_bytes(cfg: Dict[str, Any], batch: int, height: int, width: int) -> int:
    """PaellaVQModel.decode of [batch, latent_channels, height, width] plus the pipeline's conversion
    of the image to uint8: the arena's two level buffers and MLP tile, the head's three image-sized
    tensors, the returned array and the float copies the uint8 conversion makes."""
    levels, embed, s = cfg["levels"], cfg["embed_dim"], cfg["up_down_scale_factor"]
    max_level = max_hidden = 0
    for i in range(levels):
        c, rows = embed >> i, batch * (height << (levels - 1 - i)) * (width << (levels - 1 - i))
        max_level = max(max_level, rows * c)
        max_hidden = max(max_hidden, min(max(PAELLA_MLP_TILE // (4 * c), 1), rows) * 4 * c)
    image = batch * cfg["out_channels"] * (height << (levels - 1)) * (width << (levels - 1)) * s * s
    latents = 2 * batch * cfg["latent_channels"] * height * width
    return VALUE_BYTES * (2 * max_level + max_hidden + latents + 3 * image + 4 * image) + image


def text_encoder_bytes(cfg: Dict[str, Any], batch: int, tokens: int) -> int:
    """One CLIP text forward: hidden-sized activations (embeddings, residual, q/k/v, attention output,
    the returned hidden states and last hidden state), the MLP hidden and the attention scores."""
    hidden = 10 * cfg["hidden_size"] + 2 * cfg["intermediate_size"] + 2 * cfg["num_attention_heads"] * tokens
    return VALUE_BYTES * batch * tokens * hidden


def stored_weight_bytes(folder: str, stem: str, variant: Optional[str], weights: str) -> int:
    """Upper bound of the host memory the CPU loader gives the weights ``<stem>[.<variant>]`` of
    `folder` under the storage policy `weights` ("auto", "float32", "bfloat16"; devices.check_weights):
    dense weights (2-D and up with two leading dims above 1: projections, convolutions, the token
    table; the position embedding excepted) take 2 bytes where they stay or become bfloat16, every
    other value 4. Read from the file headers only; tensors the loader skips count as well."""
    from .safetensors import open_weights

    total = 0
    with open_weights(folder, stem, variant) as files:
        for name in files.keys():
            dtype, shape = files.info(name)
            numel = 1
            for d in shape:
                numel *= d
            dense = len(shape) >= 2 and shape[0] > 1 and shape[1] > 1 and "position_embedding" not in name
            compact = weights == "bfloat16" or (weights == "auto" and dtype == "BF16")
            total += numel * (2 if dense and compact else 4)
    return total


def available_memory() -> int:
    """Bytes of host memory a new allocation can get without swapping: MemAvailable of
    /proc/meminfo (else the free pages sysconf reports), capped by a cgroup memory limit."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limit = _cgroup_headroom()
    return available if limit is None else min(available, limit)


def _cgroup_headroom() -> Optional[int]:
    """limit - usage of this process's cgroup (v2, else v1), or None without a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = f.read().strip()
            with open(usage_file, encoding="ascii") as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 1 << 60:  # v1 reports "no limit" as a huge number
            return None
        return max(0, int(limit) - usage)
    return None
