"""Parameter parsing and validation of the infer_stable_cascade dict."""
import math
import warnings

import pytest

from stable_cascade_c.params import RANDOM_SEED_MAX, GenerationParams, parse_params, resolve_seed


def test_defaults_are_infer_stable_cascade_defaults():
    p = parse_params()
    assert p == GenerationParams()
    assert (p.prior_num_inference_steps, p.prior_guidance_scale, p.num_inference_steps, p.guidance_scale) == (
        20, 4.0, 30, 0.0)
    assert (p.width, p.height, p.num_images_per_prompt, p.seed) == (1024, 1024, 1, -1)
    assert p.prompt == "Anthropomorphic cat dressed as a pilot" and p.negative_prompt == ""


def test_strings_and_native_values_agree():
    strings = parse_params({"prior_num_inference_steps": "7", "prior_guidance_scale": "4", "seed": " 42 ",
                            "width": "768", "guidance_scale": "1.5"})
    native = parse_params(prior_num_inference_steps=7, prior_guidance_scale=4.0, seed=42, width=768,
                          guidance_scale=1.5)
    assert strings == native


def test_keywords_override_the_dict():
    assert parse_params({"seed": "1"}, seed=2).seed == 2


@pytest.mark.parametrize("key,value", [
    ("prior_num_inference_steps", "30.0"), ("num_inference_steps", "abc"), ("seed", "1e3"),
    ("width", None), ("height", True), ("num_images_per_prompt", 2.5), ("prior_guidance_scale", "nan"),
    ("guidance_scale", float("inf")), ("guidance_scale", "four"), ("prompt", None), ("prompt", 3),
    ("negative_prompt", b"x"), ("seed", []),
])
def test_bad_values_name_the_parameter(key, value):
    with pytest.raises(ValueError, match=key):
        parse_params({key: value})


@pytest.mark.parametrize("key,value", [
    ("prior_num_inference_steps", 0), ("num_inference_steps", -3), ("num_inference_steps", 10**6),
    ("width", 64), ("height", 0), ("width", 10**9), ("num_images_per_prompt", 0), ("num_images_per_prompt", 999),
    ("seed", -2), ("seed", 2**64), ("prior_guidance_scale", -1.0),
])
def test_out_of_range_values_say_the_range(key, value):
    with pytest.raises(ValueError, match=rf"{key} must be between"):
        parse_params({key: value})


def test_unknown_key_warns_and_is_ignored():
    with pytest.warns(UserWarning, match="unknown parameter 'steps' ignored"):
        p = parse_params({"steps": 3})
    assert p == GenerationParams()


def test_sizes_floor_to_multiples_of_128_with_a_message():
    with pytest.warns(UserWarning, match="Updating width to 896 to be a multiple of 128"):
        p = parse_params(width="1000")
    assert p.width == 896
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_params(height=512).height == 512


def test_unicode_prompt_is_kept():
    assert parse_params(prompt="夕焼けの猫 🐱").prompt == "夕焼けの猫 🐱"


def test_seed_minus_one_draws_in_the_ikomia_range():
    seeds = {resolve_seed(-1) for _ in range(50)}
    assert all(0 <= s <= RANDOM_SEED_MAX for s in seeds) and len(seeds) > 1
    assert resolve_seed(5) == 5


def test_as_strings_round_trip():
    p = parse_params(seed=9, prior_guidance_scale=4)
    s = p.as_strings()
    assert s["prior_guidance_scale"] == "4.0" and s["seed"] == "9"
    assert parse_params(s) == p
    assert not math.isnan(float(s["guidance_scale"]))
