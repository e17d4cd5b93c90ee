"""How the OpenMP worker threads of the C kernels wait between parallel regions.

GNU OpenMP (libgomp, what the extension is built with) lets an idle worker spin for 300,000
iterations (several milliseconds) before it sleeps. On a machine whose cores are busy with other
work, those spinning threads take CPU time from the threads that still have work, and every
parallel region waits for a descheduled thread: a 2-thread forward pass measured 2x slower than
with short spins (docs/cpu_performance.md). libgomp reads its settings once, when it is loaded,
so the default is put in the environment only while the extension loads.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

#: Spins before an idle worker sleeps (about 50 microseconds): long enough to catch the next
#: parallel region of the same forward pass, short enough not to matter on a busy machine.
SPIN_COUNT = "1000"

#: Variables through which a user chooses the wait policy; when one is set we change nothing.
USER_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


@contextlib.contextmanager
def wait_policy_defaults() -> Iterator[None]:
    """Load the extension inside this block: GOMP_SPINCOUNT is SPIN_COUNT while it loads (unless
    the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT) and is removed again afterwards, so that other
    OpenMP runtimes loaded later (torch's own libgomp, for one) keep their defaults. No effect
    when libgomp was already loaded by another module."""
    if any(name in os.environ for name in USER_SETTINGS):
        yield
        return
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    try:
        yield
    finally:
        os.environ.pop("GOMP_SPINCOUNT", None)
