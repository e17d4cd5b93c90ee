"""Build facts, thread control, exact bf16/f16 conversions and zero-copy tensors."""
import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c import _C


def test_build_info_keys():
    info = sc.build_info()
    for key in ("version", "cuda_compiled", "cuda_archs", "cuda_runtime_available", "cpu_features", "threads"):
        assert key in info
    assert info["version"] == sc.__version__
    assert isinstance(info["cuda_compiled"], bool)
    assert isinstance(info["cuda_runtime_available"], bool)
    assert isinstance(info["cuda_archs"], list)
    if info["cuda_compiled"]:
        assert info["cuda_archs"] and all(a.startswith("sm_") for a in info["cuda_archs"])
    assert info["threads"] >= 1


def test_threads_roundtrip():
    old = sc.get_num_threads()
    try:
        sc.set_num_threads(1)
        assert sc.get_num_threads() == 1
        assert sc.build_info()["threads"] == 1
    finally:
        sc.set_num_threads(old)
    with pytest.raises(ValueError):
        sc.set_num_threads(0)


def _all_f32_patterns(step=1):
    return np.arange(0, 2**32, step, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _ref_bf16_bits(x):
    """Round-to-nearest-even float32 -> bfloat16 in NumPy integer arithmetic."""
    u = x.view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    quiet = ((u >> 16) | 0x40).astype(np.uint16)
    return np.where(nan, quiet, rounded)


def test_bf16_conversion_matches_rne_on_a_sweep():
    x = _all_f32_patterns(step=65537)  # ~65k patterns spread over every exponent and sign
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 1.00390625, 1.001953125, 3.4e38], np.float32)
    x = np.concatenate([x, specials])
    got = _C.f32_to_bf16_bits(x)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, _ref_bf16_bits(x))
    back = _C.bf16_bits_to_f32(got)
    # bf16 -> f32 is exact: the high 16 bits come back unchanged
    np.testing.assert_array_equal(back.view(np.uint32) >> 16, got.astype(np.uint32))
    assert np.isnan(back[np.isnan(x)]).all()


def test_bf16_ties_round_to_even():
    # 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even -> 1.0
    assert _C.f32_to_bf16_bits(np.array([1.00390625], np.float32))[0] == 0x3F80
    # 1 + 3*2^-8 is halfway between 1.0078125 (odd mantissa) and 1.015625 -> rounds up
    assert _C.f32_to_bf16_bits(np.array([1.01171875], np.float32))[0] == 0x3F82


def test_f16_conversion_matches_numpy_everywhere():
    x = _all_f32_patterns(step=4099)
    got = _C.f32_to_f16_bits(x)
    with np.errstate(over="ignore"):  # huge values become inf on both sides
        want = x.astype(np.float16).view(np.uint16)
    nan = np.isnan(x)
    np.testing.assert_array_equal(got[~nan], want[~nan])
    assert np.isnan(_C.f16_bits_to_f32(got[nan])).all()


def test_f16_to_f32_is_exact_for_every_half():
    bits = np.arange(2**16, dtype=np.uint16)
    got = _C.f16_bits_to_f32(bits)
    want = bits.view(np.float16).astype(np.float32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))
    assert np.isnan(got[nan]).all()


def test_tensor_views_are_zero_copy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    b = _C._tensor_roundtrip(a)
    assert b.shape == a.shape and b.dtype == np.float32
    assert np.shares_memory(a, b)
    del a
    assert b.sum() == sum(range(24))  # the tensor keeps the memory alive


def test_tensor_from_non_contiguous_input_copies():
    a = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]
    b = _C._tensor_roundtrip(a)
    np.testing.assert_array_equal(b, a.astype(np.float32))


def test_arena_planning_pass_holds_only_live_temporaries():
    # 10 scopes that each take and release 1000 bytes: the planning pass frees each overflow
    # block at its scope's end, so it never holds more than the planned buffer (1024 bytes,
    # 256-aligned) instead of all ten; the second pass allocates nothing.
    peak, capacity, allocations = _C._arena_scopes(10, 1000)
    assert (peak, capacity) == (1024, 1024)
    assert allocations == 11  # ten overflow blocks in the planning pass, one buffer at the reset
    assert _C._arena_scopes(0, 1000) == (0, 0, 0)


def test_count_nonfinite():
    x = np.zeros((3, 1000), np.float32)
    assert _C.count_nonfinite(x) == 0
    x[0, 5], x[1, 7], x[2, 999] = np.nan, np.inf, -np.inf
    assert _C.count_nonfinite(x) == 3
    big = np.zeros(1 << 21, np.float32)  # the multithreaded path
    big[::4096] = np.nan
    assert _C.count_nonfinite(big) == 512
    assert _C.count_nonfinite(np.zeros(0, np.float32)) == 0
