"""DDPMWuerstchenScheduler against diffusers (tests/data/rng_ref.npz, written by tools/make_ref_rng.py).

What is exact and what is not (docs/rng.md):
* timesteps, the noise stream (every step draws, also the last) and the generator state after a
  whole loop are bit-exact;
* torch computes float32 cos and sqrt on the CPU with MKL's VML in high-accuracy mode, which is not
  correctly rounded (about 5 % of cosines and 0.5 % of square roots are 1 ulp off). We use
  correctly rounded cos/sqrt, so alpha_cumprod can differ by a few ulp and the per-step scalar
  coefficients by a few more. The element-wise arithmetic is the same sequence of float32 ops as
  diffusers' (checked bit for bit below on both sides), so equal coefficients give equal outputs.
"""
import json
import os
import zlib

import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c.generator import default_generator

REF = np.load(os.path.join(os.path.dirname(__file__), "data", "rng_ref.npz"))
LOOPS = [str(n) for n in REF["loops"]]


def ulp_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float32 steps (same-sign positive values here)."""
    return np.abs(a.astype(np.float32).view(np.int32).astype(np.int64) - b.astype(np.float32).view(np.int32))


def test_timesteps_bit_exact():
    sched = sc.DDPMWuerstchenScheduler()
    assert sched.timesteps is None
    for n in REF["timesteps/raw_steps"]:
        sched.set_timesteps(int(n))
        ts = sched.timesteps
        assert ts.dtype == np.float32
        assert ts.view(np.uint32).tolist() == REF[f"timesteps/{n}"].view(np.uint32).tolist(), n
    for n, crc in zip(REF["timesteps/crc_steps"], REF["timesteps/crc32"]):
        sched.set_timesteps(int(n))
        assert zlib.crc32(sched.timesteps.tobytes()) == int(crc), n


def test_timesteps_edge_cases():
    sched = sc.DDPMWuerstchenScheduler()
    sched.set_timesteps(0)
    assert sched.timesteps.tolist() == [1.0]  # torch.linspace(1, 0, 1)
    sched.set_timesteps(timesteps=[0.9, 0.5, 0.0])
    assert sched.timesteps.tolist() == [np.float32(0.9), 0.5, 0.0]
    with pytest.raises(ValueError):
        sched.set_timesteps(-1)
    with pytest.raises(ValueError):
        sched.set_timesteps()


def test_alpha_cumprod_within_ulps():
    sched = sc.DDPMWuerstchenScheduler()
    t = REF["alpha_cumprod/t"]
    ours, ref = sched.alpha_cumprod(t), REF["alpha_cumprod/value"]
    d = ulp_diff(ours, ref)
    assert d.max() <= 4  # observed 3: one ulp of cos, squared and divided
    assert np.mean(d == 0) > 0.95  # observed 97 %
    assert sched.alpha_cumprod(1.0) == np.float32(0.0001) and sched.alpha_cumprod(0.0) == np.float32(0.9999)


@pytest.mark.parametrize("name,scaler,s", [("scaler_2", 2.0, 0.008), ("scaler_half", 0.5, 0.008),
                                           ("scaler_1p5", 1.5, 0.02)])
def test_alpha_cumprod_other_scalers(name, scaler, s):
    """(1-t)**2 is a product in torch too (exact up to the cos ulp); other powers use torch's
    vectorised pow, which is not correctly rounded, and near t = 1 the schedule amplifies an ulp of
    its argument into ~1e-5 relative."""
    ours = sc.DDPMWuerstchenScheduler(scaler, s).alpha_cumprod(REF["alpha_cumprod/t"][-2000:])
    ref = REF[f"alpha_cumprod/{name}"]
    assert np.max(np.abs(ours - ref) / ref) < 3e-5


def run_loop(name: str, per_step_inputs: bool):
    """Replays a recorded diffusers loop. per_step_inputs: feed each step diffusers' own input
    (isolates one step); otherwise chain our outputs as a pipeline does."""
    scaler, s, steps = REF[f"loop/{name}/config"]
    sched = sc.DDPMWuerstchenScheduler(scaler=float(scaler), s=float(s))
    sched.set_timesteps(int(steps))
    initial = REF[f"loop/{name}/initial"]
    seed = int(REF[f"loop/{name}/seed"])
    if bool(REF[f"loop/{name}/list"]):
        gens = [sc.Generator(seed + i) for i in range(initial.shape[0])]
        gen = gens
    else:
        gen = sc.Generator(seed)
        gens = [gen]
    latents = sc.randn_tensor(initial.shape, gen)
    assert latents.view(np.uint32).tolist() == initial.view(np.uint32).tolist()
    eps_base = REF[f"loop/{name}/eps_base"]
    ref_out = REF[f"loop/{name}/prev_sample"]
    outs = []
    x = latents
    for k, ratio in enumerate(REF[f"loop/{name}/ratio"]):
        if per_step_inputs:
            x = initial if k == 0 else ref_out[k - 1]
        eps = x * np.float32(0.75) + eps_base  # the recorded model stand-in, in float32
        states = [g.get_state() for g in gens]
        y = sched.step(eps, ratio, x, generator=gen)
        assert y.dtype == np.float32 and y.shape == x.shape
        clones = [sc.Generator().set_state(st) for st in states]
        noise = sc.randn_tensor(x.shape, clones if len(clones) > 1 else clones[0])  # the step's draw
        outs.append((x, eps, noise, y))
        x = y
    for g, state in zip(gens, REF[f"loop/{name}/final_states"]):
        assert g.get_state() == state.tobytes()  # same number of draws as diffusers
    return sched, outs


def coefficients(ac_t: np.ndarray, ac_prev: np.ndarray) -> np.ndarray:
    """step()'s per-batch scalars with correctly rounded float32 ops (what the C code computes)."""
    one = np.float32(1)
    alpha = ac_t / ac_prev
    return np.stack([alpha, np.sqrt(one / alpha), np.sqrt(one - ac_t),
                     np.sqrt(((one - alpha) * (one - ac_prev)) / (one - ac_t))])


def elementwise_step(coef: np.ndarray, x: np.ndarray, eps: np.ndarray, noise: np.ndarray, last: bool) -> np.ndarray:
    """diffusers' element-wise float32 arithmetic of step() given its per-batch scalars."""
    alpha, mean_scale, eps_scale, sigma = (c.reshape((-1,) + (1,) * (x.ndim - 1)) for c in coef)
    mu = mean_scale * (x - ((np.float32(1) - alpha) * eps) / eps_scale)
    return mu + (sigma * noise) * np.float32(0.0 if last else 1.0)


@pytest.mark.parametrize("name", LOOPS)
def test_step_matches_diffusers(name):
    sched, outs = run_loop(name, per_step_inputs=True)
    ref_out = REF[f"loop/{name}/prev_sample"]
    for k, (x, eps, noise, y) in enumerate(outs):
        ratio = REF[f"loop/{name}/ratio"][k]
        last = k == len(outs) - 1
        ac_t = sched.alpha_cumprod(ratio)
        ac_prev = sched.alpha_cumprod(sched.previous_timestep(ratio))
        assert ulp_diff(ac_t, REF[f"loop/{name}/ac_t"][k]).max() <= 4
        assert ulp_diff(ac_prev, REF[f"loop/{name}/ac_prev"][k]).max() <= 4
        # 1. diffusers' output is this element-wise arithmetic on its scalars, bit for bit ...
        ref_coef = REF[f"loop/{name}/coef"][k]
        assert elementwise_step(ref_coef, x, eps, noise, last).view(np.uint32).tolist() == \
            ref_out[k].view(np.uint32).tolist(), k
        # 2. ... and ours is the same arithmetic on our scalars, bit for bit (so equal scalars give
        #    equal outputs: most steps are bit-exact) ...
        coef = coefficients(ac_t, ac_prev)
        assert elementwise_step(coef, x, eps, noise, last).view(np.uint32).tolist() == y.view(np.uint32).tolist(), k
        # 3. ... where the scalars differ by the ulps of cos/sqrt. 1 - alpha cancels (alpha -> 1 near
        #    the end), which turns 3 ulp of alpha into ~30 ulp of sigma: observed up to 1.4e-6 of the
        #    magnitudes that make up the result.
        _, mean_scale, _, sigma = (c.reshape((-1,) + (1,) * (x.ndim - 1)) for c in coef)
        terms = mean_scale * (np.abs(x) + np.abs(eps)) + sigma * np.abs(noise)
        assert np.all(np.abs(y - ref_out[k]) <= 1e-5 * terms), k


@pytest.mark.parametrize("name", LOOPS)
def test_chained_loop_close_to_diffusers(name):
    _, outs = run_loop(name, per_step_inputs=False)
    final, ref = outs[-1][3], REF[f"loop/{name}/prev_sample"][-1]
    assert np.max(np.abs(final - ref)) <= 1e-5 * np.max(np.abs(ref))  # observed <= 4e-7


def test_last_step_is_the_posterior_mean_and_still_draws():
    sched = sc.DDPMWuerstchenScheduler()
    sched.set_timesteps(4)
    t = sched.timesteps[-2]
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 2, 4, 4)
    eps = np.full_like(x, 0.5)
    g1, g2 = sc.Generator(1), sc.Generator(2)
    assert np.array_equal(sched.step(eps, t, x, generator=g1), sched.step(eps, t, x, generator=g2))
    drew = sc.Generator(1)
    drew.randn(32)
    assert g1.get_state() == drew.get_state()


def test_add_noise_matches_diffusers():
    sched = sc.DDPMWuerstchenScheduler()
    out = sched.add_noise(REF["add_noise/x0"], REF["add_noise/noise"], REF["add_noise/t"])
    ref = REF["add_noise/out"]
    assert np.max(np.abs(out - ref)) <= 4e-7 * np.max(np.abs(ref))


def test_previous_timestep():
    sched = sc.DDPMWuerstchenScheduler()
    sched.set_timesteps(20)
    assert sched.previous_timestep([1.0, 1.0]).tolist() == [np.float32(0.95)] * 2
    # a bfloat16-rounded ratio still finds its own timestep
    assert sched.previous_timestep(np.float32(0.94921875)).tolist() == [np.float32(0.9)]
    with pytest.raises(ValueError, match="last timestep"):
        sched.previous_timestep(0.0)
    with pytest.raises(ValueError, match="finite"):
        sched.previous_timestep(float("nan"))


def test_step_errors_leave_generator_untouched():
    sched = sc.DDPMWuerstchenScheduler()
    x = np.zeros((2, 16), np.float32)
    g = sc.Generator(4)
    state = g.get_state()
    with pytest.raises(ValueError, match="set_timesteps"):
        sched.step(x, 1.0, x, generator=g)
    sched.set_timesteps(5)
    with pytest.raises(ValueError, match="last timestep"):
        sched.step(x, 0.0, x, generator=g)
    with pytest.raises(ValueError, match="3 timesteps for a batch of 2"):
        sched.step(x, [1.0, 1.0, 1.0], x, generator=g)
    with pytest.raises(ValueError):
        sched.step(x, 1.0, np.zeros((2, 8), np.float32), generator=g)
    with pytest.raises(ValueError, match="list of 3 generators"):
        sched.step(x, 1.0, x, generator=[g, sc.Generator(1), sc.Generator(2)])
    with pytest.raises(TypeError):
        sched.step(x, 1.0, x, generator="seed")
    assert g.get_state() == state


def test_step_default_generator_and_per_batch_timesteps():
    sched = sc.DDPMWuerstchenScheduler()
    sched.set_timesteps(10)
    x = np.ones((2, 16), np.float32)
    state = default_generator.get_state()
    a = sched.step(x, 1.0, x)
    b = sched.step(x, [1.0, 1.0], x, generator=sc.Generator().set_state(state))
    assert np.array_equal(a, b)
    assert np.array_equal(x, np.ones((2, 16), np.float32))  # inputs untouched


def test_config_loading(tmp_path):
    cfg = {"_class_name": "DDPMWuerstchenScheduler", "_diffusers_version": "0.27.0", "scaler": 1.0, "s": 0.008}
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps(cfg))
    a = sc.DDPMWuerstchenScheduler.from_pretrained(tmp_path / "scheduler")
    b = sc.DDPMWuerstchenScheduler.from_pretrained(tmp_path, subfolder="scheduler")
    assert a.config == b.config == {"scaler": 1.0, "s": 0.008}
    assert a.s == float(np.float32(0.008)) and a.scaler == 1.0
    c = sc.DDPMWuerstchenScheduler.from_config({"scaler": 2, "s": 0.02})
    assert c.config == {"scaler": 2.0, "s": 0.02}
    with pytest.raises(FileNotFoundError):
        sc.DDPMWuerstchenScheduler.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="only DDPMWuerstchenScheduler"):
        sc.DDPMWuerstchenScheduler.from_config({"_class_name": "DDPMScheduler"})
    with pytest.raises(ValueError, match="must be a number"):
        sc.DDPMWuerstchenScheduler.from_config({"s": "0.008"})
    with pytest.raises(ValueError, match="finite"):
        sc.DDPMWuerstchenScheduler(scaler=float("inf"))
    (tmp_path / "scheduler_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        sc.DDPMWuerstchenScheduler.from_pretrained(tmp_path)


def test_step_into_out_and_in_place():
    """`out=` receives the step (a new array otherwise), may be the sample itself (the pipeline
    updates its latents in place), and is checked."""
    sched = sc.DDPMWuerstchenScheduler()
    sched.set_timesteps(6)
    t = sched.timesteps[1]
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 2, 4, 4)
    eps = np.cos(x)
    want = sched.step(eps, t, x, generator=sc.Generator(5))
    out = np.empty_like(x)
    assert sched.step(eps, t, x, generator=sc.Generator(5), out=out) is out
    assert np.array_equal(out, want)
    inplace = x.copy()
    assert sched.step(eps, t, inplace, generator=sc.Generator(5), out=inplace) is inplace
    assert np.array_equal(inplace, want)
    with pytest.raises(ValueError, match=r"out must have shape \(2, 2, 4, 4\)"):
        sched.step(eps, t, x, generator=sc.Generator(5), out=out[:1])
    with pytest.raises(ValueError, match="sample itself or share no memory"):
        sched.step(eps, t, x, generator=sc.Generator(5), out=eps)
    buf = np.zeros(96, np.float32)  # a sample and an out that share half their memory
    buf[:64] = x.reshape(-1)
    with pytest.raises(ValueError, match="sample itself or share no memory"):
        sched.step(eps, t, buf[:64].reshape(x.shape), generator=sc.Generator(5), out=buf[32:].reshape(x.shape))
    with pytest.raises(TypeError, match="float32"):
        sched.step(eps, t, x, generator=sc.Generator(5), out=out.astype(np.float64))
