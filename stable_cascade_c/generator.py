"""torch-compatible random numbers: ``Generator`` and diffusers' ``randn_tensor``.

``Generator(seed).randn(shape)`` is bit-equal to
``torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))`` (float32, x86 CPU with
AVX2 or AVX-512), and successive draws continue one stream exactly as successive torch calls do.
How it works and what was verified: docs/rng.md.
"""
from math import prod
from typing import Sequence, Tuple, Union

import numpy as np

from . import _C

#: The seed of a generator nobody seeded (torch's ``default_rng_seed_val``).
TORCH_DEFAULT_SEED: int = _C.TORCH_DEFAULT_SEED

ShapeLike = Union[int, Sequence[int]]


def _shape(args: Tuple) -> Tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` like torch."""
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        args = tuple(args[0])
    shape = tuple(int(d) for d in args)
    if any(d < 0 for d in shape):
        raise ValueError(f"shape must not have negative sizes, got {shape}")
    return shape


class Generator(_C.Generator):
    """A random generator with the semantics of ``torch.Generator("cpu")``.

    Args:
        seed: as for ``torch.Generator.manual_seed``: any integer in ``[-2**63, 2**64 - 1]``
            (negative seeds are taken as their two's complement; only the low 32 bits seed the
            MT19937 engine, as in torch). Defaults to torch's default seed.

    ``manual_seed(seed)`` and ``set_state(state)`` return the generator itself, as in torch;
    ``get_state()`` returns the 5056-byte state in torch's layout, so states can be exchanged with
    ``torch.Generator.get_state().numpy().tobytes()`` in both directions.
    """

    def __init__(self, seed: int = TORCH_DEFAULT_SEED) -> None:
        super().__init__(seed)

    def randn(self, *shape: ShapeLike) -> np.ndarray:
        """Standard normal float32 values of the given shape, as ``torch.randn(shape, generator=self)``."""
        dims = _shape(shape)
        return self._randn(prod(dims)).reshape(dims)

    def __repr__(self) -> str:
        return f"Generator(initial_seed={self.initial_seed()})"


#: Used when no generator is passed, like torch's global default generator.
default_generator = Generator()


def randn_tensor(shape: Sequence[int],
                 generator: Union[Generator, Sequence[Generator], None] = None) -> np.ndarray:
    """diffusers' ``randn_tensor`` on a CPU generator, in float32.

    One generator draws the whole tensor at once; a list of ``shape[0]`` generators draws one batch
    entry each (a list of one counts as one generator). ``None`` uses ``default_generator``.
    """
    dims = _shape((shape,))
    if not dims:
        raise ValueError("randn_tensor needs a shape with a batch dimension")
    gen = default_generator if generator is None else generator
    per_item = prod(dims[1:])
    return _C.randn_tensor(gen, dims[0], per_item).reshape(dims)


__all__ = ["Generator", "TORCH_DEFAULT_SEED", "default_generator", "randn_tensor"]
