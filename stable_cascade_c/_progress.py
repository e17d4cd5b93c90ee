"""Progress reporting for the denoising loops: a bar per stage on stderr (tqdm when it is
installed, else a plain one-line bar), and/or a user callback ``(stage, done, total)``."""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, Union

ProgressArg = Union[bool, Callable[[str, int, int], None], None]


class _PlainBar:
    """One line on stderr, redrawn in place."""

    def __init__(self, stage: str, total: int):
        self.stage, self.total, self.t0 = stage, total, time.perf_counter()
        self.update(0)

    def update(self, done: int) -> None:
        width = 30
        filled = width * done // max(self.total, 1)
        rate = f" {(time.perf_counter() - self.t0) / done:.2f}s/step" if done else ""
        sys.stderr.write(f"\r{self.stage:<8} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}{rate}")
        if done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def close(self) -> None:
        pass


class _TqdmBar:
    def __init__(self, tqdm, stage: str, total: int):
        self.bar, self.done = tqdm(total=total, desc=stage, file=sys.stderr, leave=True), 0

    def update(self, done: int) -> None:
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        self.bar.close()


def _bar(stage: str, total: int):
    try:
        from tqdm.auto import tqdm  # optional: nicer bars, notebook widgets
    except ImportError:
        return _PlainBar(stage, total)
    return _TqdmBar(tqdm, stage, total)


class Progress:
    """Reports ``(stage, done, total)`` to a user callback, or draws a bar per stage."""

    def __init__(self, spec: ProgressArg):
        self._callback = spec if callable(spec) else None
        self._draw = spec is True
        self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._callback is not None:
            self._callback(stage, done, total)
        if not self._draw:
            return
        if done == 0:
            self.close()
            self._bar = _bar(stage, total)
        elif self._bar is not None:
            self._bar.update(done)
            if done == total:
                self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(spec: ProgressArg) -> Optional[Progress]:
    return Progress(spec) if spec else None
