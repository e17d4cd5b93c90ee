"""A dependency-free progress bar for the denoising loops (stderr, one line, redrawn in place)."""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, Union

ProgressArg = Union[bool, Callable[[str, int, int], None], None]


class Progress:
    """Reports ``(stage, done, total)``: to a user callback, to a bar on stderr, or nowhere."""

    def __init__(self, spec: ProgressArg):
        self._callback = spec if callable(spec) else None
        self._draw = spec is True
        self._t0 = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._callback is not None:
            self._callback(stage, done, total)
        if not self._draw:
            return
        if done == 0:
            self._t0 = time.perf_counter()
        width = 30
        filled = width * done // max(total, 1)
        elapsed = time.perf_counter() - self._t0
        rate = f"{elapsed / done:.2f}s/step" if done else ""
        sys.stderr.write(f"\r{stage:<8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def make_progress(spec: ProgressArg) -> Optional[Progress]:
    return Progress(spec) if spec else None
