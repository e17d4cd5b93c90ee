"""Ctrl-C: a KeyboardInterrupt during any stage ends the call within one step and leaves the
pipeline usable (the next call gives the reference image).

Two ways in: a progress callback that raises KeyboardInterrupt, and a real SIGINT (os.kill from
another thread, and _thread.interrupt_main) that arrives while the main thread is inside a C
call with the GIL released. Python runs the SIGINT handler when that call returns, so the
interrupted call finishes its one step and nothing after it runs."""
import _thread
import json
import os
import signal
import sys
import threading

import numpy as np
import pytest

from test_pipeline import REF

CASE = "cfg_both_two_images"  # CFG in both stages, two images: every code path of a run
PARAMS = json.loads(str(REF[f"{CASE}/params"]))
STEPS = {"prior": PARAMS["prior_num_inference_steps"], "decoder": PARAMS["num_inference_steps"]}


def assert_reference_images(pipe):
    images = pipe(PARAMS, progress=False)
    for got, want in zip(images, REF[f"{CASE}/images"]):
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 2


PROGRESS_POINTS = [(stage, done) for stage in ("prior", "decoder") for done in range(STEPS[stage] + 1)]


@pytest.mark.parametrize("stage,done", PROGRESS_POINTS)
def test_keyboard_interrupt_from_the_progress_callback(pipe, stage, done, one_kernel_thread):
    seen = []

    def progress(s, d, total):
        seen.append((s, d))
        if (s, d) == (stage, done):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipe(PARAMS, progress=progress)
    assert seen[-1] == (stage, done), "nothing ran after the interrupt"
    assert_reference_images(pipe)


METHODS = {"text_encoder": "__call__", "decoder_text_encoder": "__call__", "prior": "forward_prepared",
           "decoder": "forward_prepared", "vqgan": "decode"}


class Stage:
    """Counts the calls of what one stage runs once per step (a text encoder, the prior's or the
    decoder's forward, Stage A's decode): the method of the network's class is wrapped for the
    duration of the test, counting only calls on this pipeline's network."""

    def __init__(self, pipe, name, monkeypatch):
        net, method = getattr(pipe, name), METHODS[name]
        original = getattr(type(net), method)
        self.calls, self.before_call, self.sent_during = 0, None, None
        stage = self

        def counted(this, *args, **kwargs):
            if this is net:
                stage.calls += 1
                if stage.before_call:
                    stage.before_call(stage.calls)
            return original(this, *args, **kwargs)

        monkeypatch.setattr(type(net), method, counted)


STAGE_CALLS = {"text_encoder": 1, "prior": STEPS["prior"], "decoder_text_encoder": 1, "decoder": STEPS["decoder"],
               "vqgan": 1}
SIGNAL_POINTS = [(stage, n) for stage, calls in STAGE_CALLS.items() for n in sorted({1, calls})]


class InterruptInsideCall:
    """Runs `send()` in another thread while the main thread is inside call `n` of `stage`: with a
    long switch interval the main thread keeps the GIL in Python code, so the helper, woken just
    before the call, gets the GIL only once the call releases it to compute."""

    def __init__(self, stage, n, send):
        self.woken, self.cancelled = threading.Event(), False
        stage.before_call = lambda calls: calls == n and self.woken.set()

        def helper():
            self.woken.wait()
            if not self.cancelled:
                stage.sent_during = stage.calls
                send()

        self.thread = threading.Thread(target=helper)
        self.thread.start()

    def finish(self):
        """Stop a helper whose call never came (it must not interrupt a later test)."""
        self.cancelled = not self.woken.is_set()
        self.woken.set()
        self.thread.join()


@pytest.mark.parametrize("how", ["os.kill", "interrupt_main"])
@pytest.mark.parametrize("stage_name,n", SIGNAL_POINTS)
def test_sigint_during_a_stage(pipe, stage_name, n, how, request, monkeypatch):
    if how == "os.kill":  # with every kernel thread: the signal may land on an OpenMP worker
        send = lambda: os.kill(os.getpid(), signal.SIGINT)  # noqa: E731
    else:
        request.getfixturevalue("one_kernel_thread")
        send = _thread.interrupt_main
    stage = Stage(pipe, stage_name, monkeypatch)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    interrupt = InterruptInsideCall(stage, n, send)
    try:
        with pytest.raises(KeyboardInterrupt):
            pipe(PARAMS, progress=False)
    finally:
        interrupt.finish()
        sys.setswitchinterval(interval)
        monkeypatch.undo()
    # The helper is woken as call n starts and sends once the main thread releases the GIL: nearly
    # always inside call n's computation; on a loaded machine the main thread may finish that call
    # before the helper runs and the signal lands in a later one. Either way the stage stops there.
    assert stage.sent_during is not None and stage.sent_during >= n
    assert stage.calls == stage.sent_during, "no step of the stage started after the signal"
    assert_reference_images(pipe)


def test_sigint_handler_is_python_default():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
