"""Shared pytest configuration: the `cuda` marker skips cleanly without a usable GPU."""
import os

import pytest

import stable_cascade_c as sc

DATA = os.path.join(os.path.dirname(__file__), "data")


def pytest_collection_modifyitems(config, items):
    if sc.build_info()["cuda_runtime_available"]:
        return
    skip = pytest.mark.skip(reason="no usable CUDA GPU on this machine")
    for item in items:
        if item.get_closest_marker("cuda"):  # not item.keywords: those hold path parts too
            item.add_marker(skip)
