"""Where the model weights come from.

Order of resolution for each of the two Hub repos (``stabilityai/stable-cascade-prior`` and
``stabilityai/stable-cascade``):

1. an explicit argument (a folder, or a Hub repo id);
2. the environment: ``STABLE_CASCADE_PRIOR`` / ``STABLE_CASCADE_DECODER`` (folder or repo id);
3. the Hugging Face cache, offline: ``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or
   ``~/.cache/huggingface/hub``, at ``models--<org>--<name>/snapshots/<revision>/``.

A repo id that is not in the cache is downloaded with ``huggingface_hub`` when it is installed,
fetching only the files the chosen variant needs. Anything else is a ``FileNotFoundError``
that says exactly what to download and where to put it.
"""
from __future__ import annotations

import os
from typing import List, Optional

PRIOR_REPO = "stabilityai/stable-cascade-prior"
DECODER_REPO = "stabilityai/stable-cascade"
ENV_PRIOR = "STABLE_CASCADE_PRIOR"
ENV_DECODER = "STABLE_CASCADE_DECODER"
ENV_DEVICE = "STABLE_CASCADE_DEVICE"

# What each repo must provide for text-to-image (the image encoder is never used).
_PRIOR_PARTS = ("tokenizer", "text_encoder", "scheduler")
_DECODER_PARTS = ("tokenizer", "text_encoder", "scheduler", "vqgan")


def hub_cache_dir() -> str:
    """The Hugging Face hub cache folder, following huggingface_hub's environment variables."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def _looks_like_repo_id(value: str) -> bool:
    return value.count("/") == 1 and not os.path.exists(value) and not value.startswith((".", "/", "~"))


def cached_snapshot(repo_id: str, cache_dir: Optional[str] = None) -> Optional[str]:
    """The newest complete snapshot folder of `repo_id` in the cache, or None."""
    root = os.path.join(cache_dir or hub_cache_dir(), "models--" + repo_id.replace("/", "--"))
    snapshots = os.path.join(root, "snapshots")
    if not os.path.isdir(snapshots):
        return None
    ref = os.path.join(root, "refs", "main")
    if os.path.isfile(ref):
        with open(ref) as f:
            rev = f.read().strip()
        if os.path.isdir(os.path.join(snapshots, rev)):
            return os.path.join(snapshots, rev)
    revs = sorted((os.path.join(snapshots, r) for r in os.listdir(snapshots)), key=os.path.getmtime, reverse=True)
    return revs[0] if revs else None


def allow_patterns(stage: str, lite: bool = False, variant: Optional[str] = None) -> List[str]:
    """The files of a repo that text-to-image needs, for huggingface_hub's ``allow_patterns``."""
    unet = ("prior" if stage == "prior" else "decoder") + ("_lite" if lite else "")
    parts = (_PRIOR_PARTS if stage == "prior" else _DECODER_PARTS) + (unet,)
    suffix = f".{variant}.safetensors" if variant else ".safetensors"
    pats = ["model_index.json"]
    for part in parts:
        pats += [f"{part}/*.json", f"{part}/*.txt"]
        if part not in ("tokenizer", "scheduler"):
            pats += [f"{part}/*{suffix}", f"{part}/*{suffix}.index.json"]
    return pats


def _download(repo_id: str, patterns: List[str], cache_dir: Optional[str]) -> str:
    try:
        from huggingface_hub import snapshot_download  # optional dependency
    except ImportError:
        raise FileNotFoundError(_missing_message(repo_id, cache_dir, "huggingface_hub is not installed")) from None
    return snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache_dir)


def _missing_message(repo_id: str, cache_dir: Optional[str], why: str) -> str:
    env = ENV_PRIOR if repo_id == PRIOR_REPO else ENV_DECODER
    return (f"Stable Cascade weights not found ({why}). Download the Hub repo '{repo_id}' "
            f"(e.g. `huggingface-cli download {repo_id}`; the .bf16 variant files halve the size), which puts "
            f"it under {os.path.join(cache_dir or hub_cache_dir(), 'models--' + repo_id.replace('/', '--'))}, "
            f"or set {env} to a local folder laid out like that repo.")


def resolve_repo(value: Optional[str], stage: str, lite: bool = False, variant: Optional[str] = None,
                 cache_dir: Optional[str] = None, allow_download: bool = True) -> str:
    """A local folder for the prior (``stage="prior"``) or decoder repo."""
    default_repo = PRIOR_REPO if stage == "prior" else DECODER_REPO
    value = value or os.environ.get(ENV_PRIOR if stage == "prior" else ENV_DECODER) or default_repo
    value = os.path.expanduser(value)
    if os.path.isdir(value):
        return value
    if not _looks_like_repo_id(value):
        raise FileNotFoundError(f"model folder not found: {value}")
    snap = cached_snapshot(value, cache_dir)
    if snap:
        return snap
    if not allow_download:
        raise FileNotFoundError(_missing_message(value, cache_dir, "not in the Hugging Face cache"))
    return _download(value, allow_patterns(stage, lite, variant), cache_dir)


def default_device() -> str:
    """``STABLE_CASCADE_DEVICE`` (auto/cpu/cuda), default ``auto``."""
    return os.environ.get(ENV_DEVICE, "auto").strip().lower() or "auto"
