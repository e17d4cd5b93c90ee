"""Shared pytest configuration: the tiny-model pipeline and single-thread fixtures, and the
`cuda` marker, which skips cleanly without a usable GPU."""
import os

import pytest

import stable_cascade_c as sc

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="module")
def pipe():
    """The end-to-end pipeline on the tiny reference models (tests/data/pipeline), one per module."""
    return sc.Pipeline.from_pretrained(prior=os.path.join(DATA, "pipeline", "stable-cascade-prior"),
                                       decoder=os.path.join(DATA, "pipeline", "stable-cascade"), device="cpu")


@pytest.fixture
def one_kernel_thread():
    """Run the test with single-threaded kernels (fast on a loaded machine, and it leaves the
    second core to a Python thread where a test needs one); restores the thread count after."""
    before = sc.get_num_threads()
    sc.set_num_threads(1)
    yield
    sc.set_num_threads(before)


def pytest_collection_modifyitems(config, items):
    if sc.build_info()["cuda_runtime_available"]:
        return
    skip = pytest.mark.skip(reason="no usable CUDA GPU on this machine")
    for item in items:
        if item.get_closest_marker("cuda"):  # not item.keywords: those hold path parts too
            item.add_marker(skip)
