"""Bad requests to a Pipeline: each is a clear exception raised before any compute, and the same
pipeline then still produces the reference image. The bad values are test_params.BAD_VALUES
(every parameter x wrong type, empty/non-numeric strings, None, negative, zero, NaN/inf, huge,
Unicode)."""
import json

import numpy as np
import pytest

from test_params import BAD_VALUES
from test_pipeline import REF

PARAMS = json.loads(str(REF["no_cfg/params"]))
WANT = REF["no_cfg/images"][0]


def assert_reference_image(pipe):
    image = pipe(PARAMS, progress=False)[0]
    assert np.abs(image.astype(int) - WANT.astype(int)).max() <= 2


def test_every_bad_value_is_rejected_and_the_pipeline_stays_usable(pipe):
    for name, value, _ in BAD_VALUES:
        with pytest.raises(ValueError, match=f"^{name} "):
            pipe(PARAMS, progress=False, **{name: value})
        assert pipe._busy.acquire(blocking=False), "the pipeline lock was left taken"
        pipe._busy.release()
    assert_reference_image(pipe)


@pytest.mark.parametrize("params", [["prompt", "x"], "prompt", 42])
def test_parameters_that_are_not_a_dict(pipe, params):
    with pytest.raises(TypeError, match="dict"):
        pipe(params, progress=False)


def test_unknown_and_misspelled_parameters_warn_and_are_ignored(pipe):
    with pytest.warns(UserWarning, match="unknown parameter 'steps' ignored"):
        first = pipe(PARAMS, progress=False, steps=3)
    with pytest.warns(UserWarning, match="unknown parameter 'Seed' ignored"):
        pipe(dict(PARAMS, Seed=1), progress=False)
    assert np.abs(first[0].astype(int) - WANT.astype(int)).max() <= 2


@pytest.mark.parametrize("prompt", ["", "\x00", "a cat\x00 on a mat", "夕焼けの猫 🐱" * 50, "e\u0301" * 300,
                                    "\u202e\u200d\ufeff\U0010ffff", "x" * 200_000])
def test_unusual_prompts_generate(pipe, prompt):
    images = pipe(PARAMS, progress=False, prompt=prompt, negative_prompt=prompt[::-1])
    assert len(images) == 1 and images[0].shape == WANT.shape


def test_largest_seed_and_a_seed_string(pipe):
    a = pipe(PARAMS, progress=False, seed=2**63 - 1)[0]
    b = pipe(PARAMS, progress=False, seed=str(2**63 - 1))[0]
    np.testing.assert_array_equal(a, b)
    assert pipe.last_seed == 2**63 - 1
