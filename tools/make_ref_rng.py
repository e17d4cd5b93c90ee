"""Reference data for tests/test_rng.py and tests/test_scheduler.py (run with torch + diffusers).

Records torch.randn float32 draws (fresh generators and chained draws of mixed sizes, including
sizes below 16, exactly 16, non-multiples of 16 and large ones), torch generator state blobs,
diffusers' randn_tensor with a list of generators, DDPMWuerstchenScheduler timesteps,
alpha_cumprod values and whole denoising loops of DDPMWuerstchenScheduler.step, into
tests/data/rng_ref.npz. Big draws are stored as SHA-256 digests plus a few raw values.

    /work/refenv/bin/python tools/make_ref_rng.py
"""
import hashlib
import os
import zlib

import numpy as np
import torch
from diffusers import DDPMWuerstchenScheduler
from diffusers.utils.torch_utils import randn_tensor

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "rng_ref.npz")

SEEDS = [0, 1, 42, 142753564, 2**32 - 1, 2**63 - 1, -1, 2**32 + 7]
SMALL_SIZES = list(range(1, 41)) + [100, 577]
BIG_SIZES = [9216, 18432, 262144, 1000003]
BIG_SEEDS = [0, 42, 142753564]
CHAINS = {
    "spec_a": [5, 7, 16, 33, 1, 3, 1000, 15],
    "spec_b": [5, 16, 3, 20, 1, 1],
    "mixed": [1, 1, 1, 17, 2, 15, 16, 31, 32, 33, 577, 9216, 3, 1, 40],
    "odd_small": [3, 16, 1, 5, 2, 9216, 1],
}
CHAIN_SEED = 142753564
# (name, shape, steps, scaler, s, timestep dtype, list of generators)
LOOPS = [
    ("prior_like", (2, 16, 6, 6), 20, 1.0, 0.008, "float32", False),
    ("decoder_like", (1, 4, 16, 16), 10, 1.0, 0.008, "float32", False),
    ("odd_size", (1, 3, 5, 7), 12, 1.0, 0.008, "float32", False),
    ("tiny", (1, 1, 1, 3), 6, 1.0, 0.008, "float32", False),
    ("bf16_ratio", (2, 16, 6, 6), 20, 1.0, 0.008, "bfloat16", False),
    ("generator_list", (2, 4, 4, 4), 5, 1.0, 0.008, "float32", True),
    ("many_steps", (1, 16, 2, 2), 60, 1.0, 0.008, "float32", False),
    ("scaler_2", (1, 16, 4, 4), 5, 2.0, 0.008, "float32", False),
    ("scaler_half", (1, 16, 4, 4), 5, 0.5, 0.008, "float32", False),
    ("scaler_1p5", (1, 16, 4, 4), 5, 1.5, 0.02, "float32", False),
]
TIMESTEP_RAW = [1, 2, 3, 5, 10, 12, 20, 30, 60, 100, 1000]
TIMESTEP_CRC = list(range(1, 1001)) + [2000, 5000]


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()


def state_bytes(g: torch.Generator) -> np.ndarray:
    return g.get_state().numpy().copy()


def rng_data(d: dict) -> None:
    d["seeds"] = np.array([str(s) for s in SEEDS])
    d["small_sizes"] = np.array(SMALL_SIZES)
    for s in SEEDS:
        for n in SMALL_SIZES:
            d[f"small/{s}/{n}"] = torch.randn(n, generator=torch.Generator().manual_seed(s)).numpy()
    d["big_sizes"] = np.array(BIG_SIZES)
    d["big_seeds"] = np.array(BIG_SEEDS)
    for s in BIG_SEEDS:
        for n in BIG_SIZES:
            x = torch.randn(n, generator=torch.Generator().manual_seed(s)).numpy()
            d[f"big/{s}/{n}/sha256"] = np.array(sha(x))
            d[f"big/{s}/{n}/head"] = x[:32].copy()
            d[f"big/{s}/{n}/tail"] = x[-32:].copy()
    d["chain_seed"] = np.array(str(CHAIN_SEED))
    for name, sizes in CHAINS.items():
        g = torch.Generator().manual_seed(CHAIN_SEED)
        d[f"chain/{name}/sizes"] = np.array(sizes)
        d[f"chain/{name}/values"] = np.concatenate([torch.randn(n, generator=g).numpy() for n in sizes])
        d[f"chain/{name}/state"] = state_bytes(g)
    # State blobs: fresh, with a cached double-path normal, and after a fill draw that keeps it.
    g = torch.Generator().manual_seed(CHAIN_SEED)
    d["state/fresh"] = state_bytes(g)
    torch.randn(3, generator=g)
    d["state/cached"] = state_bytes(g)
    torch.randn(20, generator=g)
    d["state/cached_after_fill"] = state_bytes(g)
    d["state/next_after_cached_after_fill"] = torch.randn(5, generator=g).numpy()
    # diffusers' randn_tensor: one generator for the batch vs one generator per batch entry.
    d["randn_tensor/single"] = randn_tensor((2, 3, 4, 4), generator=torch.Generator().manual_seed(5)).numpy()
    gens = [torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)]
    d["randn_tensor/list"] = randn_tensor((2, 3, 4, 4), generator=gens).numpy()
    one = [torch.Generator().manual_seed(5)]
    d["randn_tensor/list_of_one"] = randn_tensor((2, 3, 4, 4), generator=one).numpy()


def scheduler_data(d: dict) -> None:
    sched = DDPMWuerstchenScheduler()
    d["timesteps/raw_steps"] = np.array(TIMESTEP_RAW)
    for n in TIMESTEP_RAW:
        sched.set_timesteps(n)
        d[f"timesteps/{n}"] = sched.timesteps.numpy()
    crcs = []
    for n in TIMESTEP_CRC:
        sched.set_timesteps(n)
        crcs.append(zlib.crc32(sched.timesteps.numpy().astype(np.float32).tobytes()))
    d["timesteps/crc_steps"] = np.array(TIMESTEP_CRC)
    d["timesteps/crc32"] = np.array(crcs, dtype=np.uint32)

    # alpha_cumprod at every bfloat16 value in [0, 1], at linspace timesteps, at random float32 t.
    bf16 = torch.arange(0, 0x3F81, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).float()
    rs = np.random.RandomState(0)
    ts = [bf16.numpy(), rs.uniform(0, 1, 8000).astype(np.float32)]
    for n in (10, 12, 20, 30, 60, 100):
        sched.set_timesteps(n)
        ts.append(sched.timesteps.numpy())
    t = np.concatenate(ts)
    d["alpha_cumprod/t"] = t
    d["alpha_cumprod/value"] = sched._alpha_cumprod(torch.from_numpy(t), "cpu").numpy()
    for name, scaler, s in (("scaler_2", 2.0, 0.008), ("scaler_half", 0.5, 0.008), ("scaler_1p5", 1.5, 0.02)):
        other = DDPMWuerstchenScheduler(scaler=scaler, s=s)
        d[f"alpha_cumprod/{name}"] = other._alpha_cumprod(torch.from_numpy(t[-2000:]), "cpu").numpy()

    d["loops"] = np.array([c[0] for c in LOOPS])
    for name, shape, steps, scaler, s, tdtype, use_list in LOOPS:
        sched = DDPMWuerstchenScheduler(scaler=scaler, s=s)
        sched.set_timesteps(steps)
        seed = 1000 + len(name)
        if use_list:
            gen = [torch.Generator().manual_seed(seed + i) for i in range(shape[0])]
        else:
            gen = torch.Generator().manual_seed(seed)
        latents = randn_tensor(shape, generator=gen, dtype=torch.float32)
        eps_base = torch.from_numpy(np.random.RandomState(seed).standard_normal(shape).astype(np.float32))
        outputs, ratios, ac_t, ac_prev, coefs = [], [], [], [], []
        d[f"loop/{name}/initial"] = latents.numpy()
        for t in sched.timesteps[:-1]:
            ratio = t.expand(shape[0]).to(getattr(torch, tdtype))
            # a model stand-in whose float32 arithmetic numpy reproduces exactly
            eps = latents * 0.75 + eps_base
            out = sched.step(eps, ratio, latents, generator=gen).prev_sample
            ratios.append(ratio.float().numpy())
            a_t = sched._alpha_cumprod(ratio, "cpu")
            a_p = sched._alpha_cumprod(sched.previous_timestep(ratio), "cpu")
            ac_t.append(a_t.numpy())
            ac_prev.append(a_p.numpy())
            # step()'s per-batch scalars, written as step() writes them
            alpha = a_t / a_p
            coefs.append(torch.stack([alpha, (1.0 / alpha).sqrt(), (1 - a_t).sqrt(),
                                      ((1 - alpha) * (1.0 - a_p) / (1.0 - a_t)).sqrt()]).numpy())
            outputs.append(out.numpy())
            latents = out
        d[f"loop/{name}/config"] = np.array([scaler, s, steps])
        d[f"loop/{name}/list"] = np.array(use_list)
        d[f"loop/{name}/seed"] = np.array(seed)
        d[f"loop/{name}/eps_base"] = eps_base.numpy()
        d[f"loop/{name}/ratio"] = np.stack(ratios)
        d[f"loop/{name}/prev_sample"] = np.stack(outputs)
        d[f"loop/{name}/ac_t"] = np.stack(ac_t)
        d[f"loop/{name}/ac_prev"] = np.stack(ac_prev)
        d[f"loop/{name}/coef"] = np.stack(coefs)
        gens = gen if use_list else [gen]
        d[f"loop/{name}/final_states"] = np.stack([state_bytes(g) for g in gens])

    sched = DDPMWuerstchenScheduler()
    x0 = torch.from_numpy(np.random.RandomState(3).standard_normal((2, 4, 3, 3)).astype(np.float32))
    noise = torch.from_numpy(np.random.RandomState(4).standard_normal((2, 4, 3, 3)).astype(np.float32))
    tt = torch.tensor([0.25, 0.8])
    d["add_noise/x0"] = x0.numpy()
    d["add_noise/noise"] = noise.numpy()
    d["add_noise/t"] = tt.numpy()
    d["add_noise/out"] = sched.add_noise(x0, noise, tt).numpy()


def main() -> None:
    torch.set_num_threads(1)
    d = {"torch_version": np.array(torch.__version__),
         "cpu_capability": np.array(torch.backends.cpu.get_cpu_capability())}
    rng_data(d)
    scheduler_data(d)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, **d)
    print(f"wrote {OUT} ({os.path.getsize(OUT) / 1e6:.2f} MB, {len(d)} arrays)")


if __name__ == "__main__":
    main()
