"""Threads: compute releases the GIL, pipelines in different threads do not disturb each other,
and a second concurrent call on one pipeline is refused with a clear RuntimeError."""
import json
import sys
import threading
import time

import numpy as np
import pytest

import stable_cascade_c as sc
from test_pipeline import DECODER, PRIOR, REF

NO_CFG = json.loads(str(REF["no_cfg/params"]))
TWO_IMAGES = json.loads(str(REF["cfg_both_two_images/params"]))


def python_ticks_during(call):
    """How often a Python thread advanced a counter while `call()` ran in another thread.

    The worker reads the counter just before and just after the call. A call that kept the GIL
    would let the counting thread run at most once or twice (at a switch-interval boundary); a
    call that releases it lets the thread count on, about once per millisecond."""
    state = {"ticks": 0, "done": False}
    seen = {}

    def count():
        while not state["done"]:
            state["ticks"] += 1
            time.sleep(0.001)

    def work():
        seen["before"] = state["ticks"]
        t0 = time.perf_counter()
        call()
        seen["seconds"] = time.perf_counter() - t0
        seen["after"] = state["ticks"]

    counter = threading.Thread(target=count)
    counter.start()
    try:
        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
    finally:
        state["done"] = True
        counter.join()
    return seen["after"] - seen["before"], seen["seconds"]


def network_calls(pipe):
    """One slow-enough (tens of ms) call of each network binding."""
    ids = np.full((512, 77), 320, dtype=np.int64)
    prior_cond = pipe.prior.prepare(np.zeros((2, 1, 16), np.float32), clip_text=np.zeros((2, 77, 16), np.float32),
                                    clip_img=np.zeros((2, 1, 8), np.float32))
    decoder_cond = pipe.decoder.prepare(np.zeros((1, 1, 16), np.float32), effnet=np.zeros((1, 16, 24, 24), np.float32))
    return {
        "text_encoder": lambda: pipe.text_encoder(ids),
        "prior": lambda: pipe.prior.forward_prepared(prior_cond, np.zeros((2, 16, 24, 24), np.float32), [0.5, 0.5]),
        "decoder": lambda: pipe.decoder.forward_prepared(decoder_cond, np.zeros((1, 4, 256, 256), np.float32), [0.5]),
        "stage_a": lambda: pipe.vqgan.decode(np.zeros((1, 4, 128, 128), np.float32)),
    }


@pytest.mark.parametrize("network", ["text_encoder", "prior", "decoder", "stage_a"])
def test_gil_is_released_while_a_network_computes(pipe, network, one_kernel_thread):
    call = network_calls(pipe)[network]
    call()  # first pass sizes the arena
    ticks, seconds = python_ticks_during(call)
    assert seconds > 0.02, f"the call took only {seconds * 1000:.1f} ms: too short to tell"
    assert ticks >= 5, f"the Python thread advanced {ticks} times during a {seconds * 1000:.0f} ms call"


def test_gil_is_released_during_a_whole_generation(pipe, one_kernel_thread):
    ticks, seconds = python_ticks_during(lambda: pipe(NO_CFG, progress=False, width=512, height=512))
    assert ticks >= 0.3 * seconds * 1000, (ticks, seconds)


def test_two_pipelines_in_two_threads_give_the_sequential_results():
    a = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu")
    b = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu")
    sequential = {"a": a(NO_CFG, progress=False), "b": b(TWO_IMAGES, progress=False)}
    results = {"a": [], "b": []}
    errors = []

    def run(name, pipe, params):
        try:
            for _ in range(3):
                results[name].append(pipe(params, progress=False))
        except BaseException as exc:  # reported below: a failing thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=("a", a, NO_CFG)), threading.Thread(target=run, args=("b", b, TWO_IMAGES))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for name in ("a", "b"):
        for images in results[name]:
            assert len(images) == len(sequential[name])
            for got, want in zip(images, sequential[name]):
                np.testing.assert_array_equal(got, want)
    for got, want in zip(sequential["b"], REF["cfg_both_two_images/images"]):
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 2


def test_a_concurrent_call_on_one_pipeline_is_refused(pipe):
    inside, release = threading.Event(), threading.Event()
    result, errors = [], []

    def hold(stage, done, total):
        if stage == "decoder" and done == 1:
            inside.set()
            release.wait(30)

    def first():
        try:
            result.extend(pipe(NO_CFG, progress=hold))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(30)
        with pytest.raises(RuntimeError, match="already generating in another thread; use one Pipeline per thread"):
            pipe(NO_CFG, progress=False)
    finally:
        release.set()
        thread.join()
    assert not errors, errors
    want = REF["no_cfg/images"][0]
    assert np.abs(result[0].astype(int) - want.astype(int)).max() <= 2
    np.testing.assert_array_equal(pipe(NO_CFG, progress=False)[0], result[0])


def test_switch_interval_is_untouched():
    assert sys.getswitchinterval() == pytest.approx(0.005)


@pytest.mark.parametrize("network", ["prior", "decoder", "stage_a", "text_encoder"])
def test_one_network_shared_by_threads(pipe, network):
    """Below the pipeline, a network used from several threads at once either serializes the
    calls (the UNets and Stage A hold a lock around their arena) or refuses the second one (the
    text encoder: RuntimeError); every result that comes back equals the sequential one."""
    call = network_calls(pipe)[network]
    want = call()
    results, errors = [], []

    def run():
        for _ in range(3):
            try:
                results.append(call())
            except RuntimeError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) + len(errors) == 9
    if network != "text_encoder":
        assert not errors
    assert all("already running a forward pass in another thread" in str(e) for e in errors)
    def arrays(result):  # the text encoder returns a dataclass of arrays
        return [result.hidden_states, result.last_hidden_state, result.text_embeds] if network == "text_encoder" \
            else [result]

    for got in results:
        for g, w in zip(arrays(got), arrays(want)):
            np.testing.assert_array_equal(g, w)
