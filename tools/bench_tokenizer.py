"""Speed of our CLIPTokenizer against transformers' (tokenizers backend, the "fast" one), both
loaded from tests/data/tokenizer/clip, on 10,000 prompts drawn like the test corpus (plain
English mostly, plus punctuation, digits, whitespace, Unicode, emoji, long prompts).

Both are called as the pipelines call them: padding="max_length", max_length=77,
truncation=True, NumPy output. Reports the best of several runs for the whole batch, the
first (cold-memo) batch, and one-prompt-at-a-time latency; the ids are checked equal.

    SC_CUDA=0 python3 setup.py build_ext --inplace -q
    PYTHONPATH=. /work/refenv/bin/python tools/bench_tokenizer.py
"""
import os
import random
import sys
import time

import numpy as np
import tokenizers
import transformers
from transformers import CLIPTokenizer as HFCLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
from make_ref_tokenizer import general_prompts  # noqa: E402
from tokenizer_folders import CLIP_DIR  # noqa: E402

from stable_cascade_c import CLIPTokenizer  # noqa: E402

N_PROMPTS = 10_000
REPEATS = 5
N_SINGLE = 2_000


def make_prompts():
    prompts, seed = [], 1
    while len(prompts) < N_PROMPTS:
        prompts += general_prompts(random.Random(seed))
        seed += 1
    return prompts[:N_PROMPTS]


def best_of(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    prompts = make_prompts()
    n_tokens = None

    t0 = time.perf_counter()
    ours = CLIPTokenizer.from_pretrained(CLIP_DIR)
    load_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = HFCLIPTokenizer.from_pretrained(CLIP_DIR)
    load_ref = time.perf_counter() - t0

    def run_ours():
        return ours(prompts)

    def run_ref():
        return ref(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="np")

    t0 = time.perf_counter()
    a = run_ours()
    cold_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = run_ref()
    cold_ref = time.perf_counter() - t0
    if not (np.array_equal(a["input_ids"], b["input_ids"]) and np.array_equal(a["attention_mask"], b["attention_mask"])):
        sys.exit("ids differ between the two tokenizers")
    n_tokens = int(a["attention_mask"].sum())

    warm_ours = best_of(run_ours)
    warm_ref = best_of(run_ref)
    single = prompts[:N_SINGLE]
    one_ours = best_of(lambda: [ours(p) for p in single], 3) / N_SINGLE
    one_ref = best_of(lambda: [ref(p, padding="max_length", max_length=77, truncation=True, return_tensors="np")
                               for p in single], 3) / N_SINGLE

    print(f"reference: transformers {transformers.__version__}, tokenizers {tokenizers.__version__} "
          f"(TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM', 'unset')}, {os.cpu_count()} CPUs)")
    print(f"{N_PROMPTS} prompts, {n_tokens} tokens incl. start/end, ids identical")
    print(f"{'':28s} {'ours':>10s} {'transformers':>13s} {'speed-up':>9s}")
    rows = [("load folder (s)", load_ours, load_ref), ("batch, first call (s)", cold_ours, cold_ref),
            (f"batch, best of {REPEATS} (s)", warm_ours, warm_ref), ("one prompt per call (us)", one_ours * 1e6, one_ref * 1e6)]
    for name, x, y in rows:
        print(f"{name:28s} {x:10.4f} {y:13.4f} {y / x:8.1f}x")
    print(f"ratio transformers/ours on the 10,000-prompt batch: {warm_ref / warm_ours:.1f}")
    if warm_ours > warm_ref:
        sys.exit("ours is slower than transformers")


if __name__ == "__main__":
    main()
