"""Parameter parsing and validation of the infer_stable_cascade dict."""
import math
import warnings

import numpy as np
import pytest

from stable_cascade_c.params import PARAM_NAMES, RANDOM_SEED_MAX, GenerationParams, SizeError, parse_params, resolve_seed


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


# ---- every parameter x every kind of bad value ------------------------------------------------
# Shared with tests/test_pipeline_errors.py, which sends the same values through a Pipeline.

INT_PARAMS = ("prior_num_inference_steps", "num_inference_steps", "seed", "width", "height",
              "num_images_per_prompt")
FLOAT_PARAMS = ("prior_guidance_scale", "guidance_scale")
STR_PARAMS = ("prompt", "negative_prompt")
NUMBER_PARAMS = INT_PARAMS + FLOAT_PARAMS

WRONG_TYPES = [None, [], [20], {}, (), {20}, b"20", bytearray(b"20"), 2j, object(), True, False, np.bool_(True)]
NOT_A_NUMBER = ["", " ", "\t\n", "abc", "twenty", "1 2", "--1", "+-1", "0x10", "1,5", "1_", "½", "²", "\u22121",
                "\x00", "1\x00", "20abc", "١٢x", "🐱", "1" * 5000]
NOT_AN_INTEGER = ["1.5", "30.0", "1e3", "nan", "inf", "-inf", 2.5, -0.5, 1e-300]
NON_FINITE = [math.nan, -math.nan, math.inf, -math.inf, "nan", "NaN", "inf", "-Infinity", "1e999", np.float32("nan"),
              np.float64("inf")]
# Outside every range, in both directions, also as strings and as 5000-digit integers.
OUT_OF_RANGE = {
    "prior_num_inference_steps": [-1, 0, "0", "-5", 1001, 10**30, 2**64, -(10**5000), 10**5000, 1e308],
    "num_inference_steps": [-1, 0, " 0 ", 1001, "1001", 10**30, -(2**63), 10**5000],
    "seed": [-2, "-2", -(2**63), 2**63, "9223372036854775808", 10**30, 10**5000, -(10**5000), 1e300],
    "width": [-128, -1, 0, "0", 64, 127, 4097, 8192, 10**30, 10**5000, -(10**5000)],
    "height": [-128, 0, 127, "127", 4097, 2**31, 10**5000],
    "num_images_per_prompt": [-1, 0, "0", 17, 999, 2**31, 10**30, 10**5000],
    "prior_guidance_scale": [-1e-9, -1, "-0.5", 100.001, "1e308", 1e308, -1e308, 10**30, 10**5000],
    "guidance_scale": [-0.1, 100.5, "1000", 1e300, -(10**5000)],
}


def bad_values():
    """(parameter, value, what is wrong) for every parameter and kind of bad value."""
    for name in NUMBER_PARAMS:
        yield from ((name, v, "type") for v in WRONG_TYPES)
        yield from ((name, v, "not a number") for v in NOT_A_NUMBER)
        yield from ((name, v, "range") for v in OUT_OF_RANGE[name])
    for name in INT_PARAMS:
        yield from ((name, v, "not an integer") for v in NOT_AN_INTEGER + NON_FINITE)
    for name in FLOAT_PARAMS:
        yield from ((name, v, "not finite") for v in NON_FINITE)
    for name in STR_PARAMS:
        yield from ((name, v, "type") for v in [None, 3, 2.5, b"cat", ["cat"], True, object()])
        yield from ((name, v, "surrogate") for v in ["\ud800", "a cat \udfff", "\udc80" * 3])


BAD_VALUES = list(bad_values())


def test_bad_value_matrix_covers_every_parameter():
    assert {n for n, _, _ in BAD_VALUES} == set(PARAM_NAMES)


@pytest.mark.parametrize("name,value,what", BAD_VALUES, ids=[f"{n}-{w}-{i}" for i, (n, _, w) in enumerate(BAD_VALUES)])
def test_every_bad_value_is_a_value_error_naming_the_parameter(name, value, what):
    with pytest.raises(ValueError) as info:
        parse_params({name: value})
    message = str(info.value)
    assert message.startswith(name + " "), message
    assert len(message) < 300, "messages stay readable for huge values"


@pytest.mark.parametrize("name", INT_PARAMS)
def test_integers_accept_ints_integral_floats_numpy_and_padded_strings(name):
    value = {"seed": 7, "width": 512, "height": 768}.get(name, 3)
    for given in (value, float(value), np.int64(value), np.int32(value), np.float32(value), str(value),
                  f"  {value}\n", f"+{value}"):
        assert getattr(parse_params({name: given}), name) == value, given


@pytest.mark.parametrize("name", FLOAT_PARAMS)
def test_floats_accept_numbers_numpy_and_strings(name):
    for given, want in ((4, 4.0), (4.5, 4.5), (np.float32(0.25), 0.25), (np.int16(3), 3.0), ("1e1", 10.0),
                        (" 2.5 ", 2.5), ("0", 0.0), (100, 100.0)):
        assert getattr(parse_params({name: given}), name) == want, given


def test_boundary_values_are_accepted():
    p = parse_params(prior_num_inference_steps=1, num_inference_steps=1000, seed=2**63 - 1, width=128, height=4096,
                     num_images_per_prompt=16, prior_guidance_scale=0.0, guidance_scale=100.0)
    assert (p.seed, p.width, p.height, p.num_images_per_prompt) == (2**63 - 1, 128, 4096, 16)
    assert parse_params(seed=0).seed == 0 and parse_params(seed="-1").seed == -1


def test_unicode_digits_parse_as_python_int_does():
    # Ikomia parses with int()/float(), which read any Unicode decimal digits: kept for compatibility.
    assert parse_params(width="\uff15\uff11\uff12").width == 512          # fullwidth ５１２
    assert parse_params(num_inference_steps="\u0662\u0660").num_inference_steps == 20  # Arabic-Indic ٢٠
    assert parse_params(guidance_scale="\u0663.\u0665").guidance_scale == 3.5


@pytest.mark.parametrize("text", ["", " ", "\x00", "a\x00b", "夕焼けの猫 🐱", "e\u0301" * 100, "\u202e\u200d\ufeff",
                                  "👩‍👩‍👧‍👦", "\U0010ffff", "x" * 100_000])
def test_any_valid_unicode_prompt_is_kept(text):
    p = parse_params(prompt=text, negative_prompt=text)
    assert p.prompt == text and p.negative_prompt == text


def test_parameters_must_come_as_a_mapping():
    for values in (["seed", 1], "seed=1", 3):
        with pytest.raises(TypeError, match="dict"):
            parse_params(values)
    with pytest.warns(UserWarning, match="unknown parameter 1 ignored"):
        parse_params({1: 2})


def test_too_large_sizes_are_size_errors_carrying_the_request():
    with pytest.raises(SizeError, match="width must be between 128 and 4096") as info:
        parse_params(width=10**6, height=512, num_images_per_prompt=3)
    assert (info.value.params.width, info.value.params.height, info.value.params.num_images_per_prompt) == (
        10**6, 512, 3)


def test_a_rejected_size_prints_no_flooring_message():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SizeError, match="height"):
            parse_params(width=1000, height=10**6)
