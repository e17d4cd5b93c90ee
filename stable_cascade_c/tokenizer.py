"""The CLIP tokenizer of Stable Cascade's pipelines, in C.

Gives the same ids and attention masks as transformers' ``CLIPTokenizer`` (the
tokenizers-backed "fast" tokenizer, ``CLIPTokenizerFast``) called the way the diffusers
pipelines call it: ``tokenizer(prompts, padding="max_length", max_length=77, truncation=True)``.
See docs/tokenizer.md.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from . import _C

__all__ = ["CLIPTokenizer"]


class CLIPTokenizer:
    """CLIP byte-level BPE tokenizer loaded from a Hugging Face tokenizer folder.

    The folder holds ``vocab.json`` + ``merges.txt`` or ``tokenizer.json`` (preferred when
    present, as transformers does), and optionally ``tokenizer_config.json`` /
    ``special_tokens_map.json`` for the special tokens, ``model_max_length`` (default 77) and
    the padding / truncation sides. Thread-safe: tokenizing releases the GIL.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        """Load the tokenizer in ``folder`` (see :meth:`from_pretrained`)."""
        folder = os.fspath(folder)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"tokenizer folder not found: {folder}")
        self._tok = _C.Tokenizer(folder)
        info = self._tok.info()
        self.folder = folder
        self.vocab_size: int = info["vocab_size"]
        self.model_max_length: int = info["model_max_length"]
        self.bos_token: str = info["bos_token"]
        self.eos_token: str = info["eos_token"]
        self.pad_token: str = info["pad_token"]
        self.unk_token: str | None = info["unk_token"]
        self.bos_token_id: int = info["bos_token_id"]
        self.eos_token_id: int = info["eos_token_id"]
        self.pad_token_id: int = info["pad_token_id"]
        self.unk_token_id: int | None = info["unk_token_id"] if info["unk_token_id"] >= 0 else None

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "CLIPTokenizer":
        """Load a tokenizer folder (e.g. the ``tokenizer/`` folder of stabilityai/stable-cascade).

        Raises FileNotFoundError when the folder or its vocabulary files are missing and
        ValueError (naming the file) when a file is malformed.
        """
        return cls(folder)

    def __call__(self, texts: str | Sequence[str], max_length: int | None = None) -> dict[str, np.ndarray]:
        """Tokenize one text or a batch, padded and truncated to ``max_length`` tokens.

        ``max_length`` defaults to ``model_max_length`` (77). Returns ``{"input_ids": int64
        [B, max_length], "attention_mask": int64 [B, max_length]}`` (B = 1 for a single str):
        start token, at most ``max_length - 2`` text tokens, end token, then the pad token with
        mask 0.
        """
        batch = [texts] if isinstance(texts, str) else list(texts)
        length = self.model_max_length if max_length is None else int(max_length)
        if length < 2:
            raise ValueError(f"max_length must be at least 2 (start and end tokens), got {length}")
        ids, mask = self._tok.encode_batch(batch, length)
        return {"input_ids": ids, "attention_mask": mask}

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without start/end tokens, truncation or padding."""
        return self._tok.encode(text)

    def __len__(self) -> int:
        """Number of ids (vocabulary plus added tokens), like ``len()`` of a transformers tokenizer."""
        return self.vocab_size

    def __repr__(self) -> str:
        return (f"CLIPTokenizer(folder={self.folder!r}, vocab_size={self.vocab_size}, "
                f"model_max_length={self.model_max_length}, pad_token={self.pad_token!r})")
