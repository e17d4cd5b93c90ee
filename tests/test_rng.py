"""Generator / randn against torch: bit-exact float32 values, streams, states (tests/data/rng_ref.npz,
written by tools/make_ref_rng.py with torch on an AVX-512 CPU, which runs torch's AVX2 sampler)."""
import hashlib
import os

import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c.generator import TORCH_DEFAULT_SEED, default_generator

REF = np.load(os.path.join(os.path.dirname(__file__), "data", "rng_ref.npz"))


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == np.float32
    assert a.shape == b.shape
    mismatch = np.flatnonzero(bits(a).ravel() != bits(b).ravel())
    assert mismatch.size == 0, f"{mismatch.size} values differ, first at {mismatch[:5]}"


# spec/torch_rng.md §5.6: (seed, shape, first values printed with %.9g, float64 sum of the values)
SPEC_VECTORS = [
    (0, (1,), "1.54099607", 1.540996075),
    (0, (5,), "1.54099607 -0.293428898 -2.17878938 0.568431258 -1.08452237", -1.447313309),
    (0, (15,), "1.54099607 -0.293428898 -2.17878938 0.568431258 -1.08452237 -1.39859545 0.403346837 0.838026345",
     -3.968993366),
    (0, (16,), "-1.12583983 -1.1523602 -0.250578582 -0.433878809 0.848710358 0.692009151 -0.31601277 -2.11521935",
     -1.909114309),
    (0, (17,), "-1.12583983 -1.6959312 0.566650629 0.793508351 0.598839462 -1.55509508 -0.34136039 1.85300612",
     2.996606693),
    (1, (100,), "-1.5255959 -0.750231802 -0.653980911 -1.60948479 -0.100167178 -0.609188914 -0.97977227 -1.60909629",
     -20.268558195),
    (42, (16, 24, 24), "1.92691529 1.48728406 0.900717199 -2.10552096 0.678418458 -1.23454487 -0.0430674776 "
     "-1.60466695", 49.617572297),
    (42, (1, 16, 24, 24), "1.92691529 1.48728406 0.900717199 -2.10552096 0.678418458 -1.23454487 -0.0430674776 "
     "-1.60466695", 49.617572297),
    (42, (2, 16, 24, 24), "1.92691529 1.48728406 0.900717199 -2.10552096 0.678418458 -1.23454487 -0.0430674776 "
     "-1.60466695", 123.369140305),
    (0, (4, 256, 256), "-1.12583983 -1.1523602 -0.250578582 -0.433878809 0.848710358 0.692009151 -0.31601277 "
     "-2.11521935", -888.920499963),
    (1, (1, 4, 256, 256), "-1.5255959 -0.750231802 -0.653980911 -1.60948479 -0.100167178 -0.609188914 -0.97977227 "
     "-1.60909629", 405.023303964),
    (2**32 + 7, (33,), "-0.820134521 0.395631164 0.898908496 -1.38840389 -0.166996017 0.285149962 -0.641091526 "
     "-0.893655419", -0.431339031),
    (-1, (3,), "1.21976304 -0.392979473 1.0230751", 1.849858671),
]


@pytest.mark.parametrize("seed,shape,first,total", SPEC_VECTORS)
def test_spec_vectors(seed, shape, first, total):
    x = sc.Generator(seed).randn(shape)
    assert x.shape == shape and x.dtype == np.float32
    want = np.array([np.float32(v) for v in first.split()], dtype=np.float32)  # %.9g round-trips float32
    assert_bits_equal(x.ravel()[: want.size], want)
    assert abs(float(x.astype(np.float64).sum()) - total) < 2e-9


@pytest.mark.parametrize("seed", [str(s) for s in REF["seeds"]])
def test_fresh_draws_every_small_size(seed):
    """n = 1..40, 100, 577 from a fresh generator: the double path (< 16), exactly one block (16),
    and the fill path with its redrawn tail (non-multiples of 16)."""
    for n in REF["small_sizes"]:
        assert_bits_equal(sc.Generator(int(seed)).randn(int(n)), REF[f"small/{seed}/{n}"])


@pytest.mark.parametrize("seed", [int(s) for s in REF["big_seeds"]])
def test_fresh_draws_big(seed):
    for n in REF["big_sizes"]:
        x = sc.Generator(seed).randn(int(n))
        assert_bits_equal(x[:32], REF[f"big/{seed}/{n}/head"])
        assert_bits_equal(x[-32:], REF[f"big/{seed}/{n}/tail"])
        assert hashlib.sha256(x.tobytes()).hexdigest() == str(REF[f"big/{seed}/{n}/sha256"])


@pytest.mark.parametrize("name", ["spec_a", "spec_b", "mixed", "odd_small"])
def test_chained_draws_continue_one_stream(name):
    """Successive draws of mixed sizes on one generator, including the cached normal of the double
    path surviving fill-path draws; the final state equals torch's byte for byte."""
    g = sc.Generator(int(str(REF["chain_seed"])))
    values = np.concatenate([g.randn(int(n)) for n in REF[f"chain/{name}/sizes"]])
    assert_bits_equal(values, REF[f"chain/{name}/values"])
    assert np.frombuffer(g.get_state(), np.uint8).tolist() == REF[f"chain/{name}/state"].tolist()


def test_state_blobs_match_torch():
    seed = int(str(REF["chain_seed"]))
    g = sc.Generator(seed)
    assert g.get_state() == REF["state/fresh"].tobytes()
    g.randn(3)
    assert g.get_state() == REF["state/cached"].tobytes()
    g.randn(20)
    assert g.get_state() == REF["state/cached_after_fill"].tobytes()


def test_set_state_from_torch_continues_torch_stream():
    g = sc.Generator(0)
    assert g.set_state(REF["state/cached_after_fill"].tobytes()) is g
    assert g.initial_seed() == int(str(REF["chain_seed"]))
    assert_bits_equal(g.randn(5), REF["state/next_after_cached_after_fill"])


def test_state_round_trip():
    g = sc.Generator(123)
    g.randn(7)
    state = g.get_state()
    first = g.randn(40)
    h = sc.Generator().set_state(bytearray(state))
    assert_bits_equal(h.randn(40), first)
    assert h.get_state() == g.get_state()


def test_set_state_rejects_bad_blobs():
    g = sc.Generator(5)
    before = g.get_state()
    with pytest.raises(ValueError, match="5056 bytes"):
        g.set_state(b"\0" * 100)
    bad = bytearray(before)
    bad[8:12] = (0).to_bytes(4, "little")  # left = 0: torch rejects it too
    with pytest.raises(ValueError, match="invalid generator state"):
        g.set_state(bytes(bad))
    bad = bytearray(before)
    bad[12:16] = (0).to_bytes(4, "little")  # not seeded
    with pytest.raises(ValueError, match="invalid generator state"):
        g.set_state(bytes(bad))
    assert g.get_state() == before
    with pytest.raises(TypeError):
        g.set_state("not bytes")


def test_seed_semantics():
    assert sc.Generator().initial_seed() == TORCH_DEFAULT_SEED == 67280421310721
    assert sc.Generator(-1).initial_seed() == 2**64 - 1
    assert_bits_equal(sc.Generator(-1).randn(20), sc.Generator(2**64 - 1).randn(20))
    # only the low 32 bits seed MT19937
    assert_bits_equal(sc.Generator(7).randn(20), sc.Generator(7 + 2**32).randn(20))
    assert sc.Generator(np.int64(9)).initial_seed() == 9
    for bad in (2**64, -(2**63) - 1):
        with pytest.raises(ValueError, match="seed"):
            sc.Generator(bad)
    with pytest.raises(TypeError):
        sc.Generator(1.5)


def test_manual_seed_resets_stream_and_cache():
    g = sc.Generator(3)
    g.randn(3)  # leaves a cached normal
    assert g.manual_seed(3) is g
    assert_bits_equal(g.randn(3), sc.Generator(3).randn(3))


def test_shapes_and_empty_draws():
    g = sc.Generator(11)
    assert g.randn(2, 3).shape == (2, 3)
    assert g.randn((2, 3)).shape == (2, 3)
    assert g.randn([4]).shape == (4,)
    assert g.randn(()).shape == ()
    state = g.get_state()
    assert g.randn(0, 5).shape == (0, 5)
    assert g.get_state() == state  # nothing drawn
    with pytest.raises(ValueError):
        g.randn(-1)


def test_randn_tensor_matches_diffusers():
    assert_bits_equal(sc.randn_tensor((2, 3, 4, 4), sc.Generator(5)), REF["randn_tensor/single"])
    assert_bits_equal(sc.randn_tensor((2, 3, 4, 4), [sc.Generator(5), sc.Generator(6)]), REF["randn_tensor/list"])
    assert_bits_equal(sc.randn_tensor((2, 3, 4, 4), [sc.Generator(5)]), REF["randn_tensor/list_of_one"])


def test_randn_tensor_errors_and_default():
    with pytest.raises(ValueError, match="list of 3 generators for a batch of 2"):
        sc.randn_tensor((2, 4), [sc.Generator(1), sc.Generator(2), sc.Generator(3)])
    with pytest.raises(TypeError, match="not a Generator"):
        sc.randn_tensor((2, 4), [sc.Generator(1), 5])
    with pytest.raises(TypeError):
        sc.randn_tensor((2, 4), 5)
    with pytest.raises(ValueError, match="batch dimension"):
        sc.randn_tensor((), sc.Generator(1))
    state = default_generator.get_state()
    x = sc.randn_tensor((1, 20))
    assert_bits_equal(x.ravel(), sc.Generator().set_state(state).randn(20))
