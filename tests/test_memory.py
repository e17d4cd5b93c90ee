"""The host-memory estimate of a request (stable_cascade_c.memory) and the Pipeline's check of it.

The estimate must be an upper bound of what a call really allocates and not wildly above it:
measured as the peak resident set size a first call adds (the kernel's peak RSS, VmHWM, reset
just before the call, minus the RSS then), in a fresh process, on the tiny models at sizes where
the activations (tens of MB) dwarf the allocator's noise (a few MB).
"""
import json
import os
import warnings

import pytest

import stable_cascade_c as sc
from stable_cascade_c import memory
from stable_cascade_c.params import SizeError, parse_params
from stable_cascade_c.unet import normalize_config
from stable_cascade_c.vqgan import DEFAULT_CONFIG
from procutil import run_python
from test_pipeline import DECODER, PRIOR, REF

PARAMS = json.loads(str(REF["no_cfg/params"]))

MEASURE = r"""
import json, sys
import stable_cascade_c as sc
from stable_cascade_c.params import parse_params
def status(key):  # kB values of /proc/self/status
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
prior, decoder, request = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
pipe = sc.Pipeline.from_pretrained(prior=prior, decoder=decoder, device="cpu")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # peak RSS := current RSS (ru_maxrss would include the parent's RSS at fork)
rss = status("VmRSS")
pipe(request, progress=False)
print(json.dumps({"added": status("VmHWM") - rss, "estimate": pipe.memory_estimate(parse_params(request)).total}))
"""


@pytest.mark.rss
@pytest.mark.parametrize("request_", [
    dict(width=1024, height=768),
    dict(width=512, height=640, num_images_per_prompt=3, prior_guidance_scale=4.0, guidance_scale=2.0),
], ids=["one_image", "three_images_cfg"])
def test_estimate_bounds_the_memory_a_call_adds(request_):
    request_ = dict(PARAMS, prior_num_inference_steps=1, num_inference_steps=1, **request_)
    out = run_python(MEASURE, args=[PRIOR, DECODER, json.dumps(request_)], timeout=300, check=True)
    got = json.loads(out.stdout)
    # An upper bound, and within 3x (it was 1.6x when written: the formulas count every buffer
    # that may be alive at once, the allocator reuses some).
    assert got["added"] <= got["estimate"] <= 3 * got["added"], got


def test_request_beyond_available_memory_is_refused_before_allocating(pipe, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)
    allocations = pipe.prior.arena_alloc_count
    with pytest.raises(MemoryError, match=r"1 image of 128x256 needs about .* MiB of host memory \(text encoders "
                                          r".*prior .*decoder .*Stage A .*\), .* at once \(the largest stage\), "
                                          r"but only 1.0 MiB is available"):
        pipe(PARAMS, progress=False)
    assert pipe.prior.arena_alloc_count == allocations, "nothing ran"
    monkeypatch.undo()
    assert len(pipe(PARAMS, progress=False)) == 1


def test_a_run_needs_its_largest_stage_every_time(pipe, monkeypatch):
    """Each stage frees its workspace when it ends, so an earlier run of the same size leaves
    nothing held: every run needs its largest stage, and no more."""
    need = pipe.memory_estimate(parse_params(PARAMS))
    largest = max(need.stages().values())
    assert largest < need.total
    pipe(PARAMS, progress=False)
    monkeypatch.setattr(memory, "available_memory", lambda: largest - 1)
    with pytest.raises(MemoryError, match="1 image of 128x256 needs"):
        pipe(PARAMS, progress=False)
    monkeypatch.setattr(memory, "available_memory", lambda: largest)
    assert len(pipe(PARAMS, progress=False)) == 1
    pipe.check_memory = False
    monkeypatch.setattr(memory, "available_memory", lambda: 0)
    try:
        assert pipe(PARAMS, progress=False, width=256, height=256)[0].shape == (256, 256, 3)
    finally:
        pipe.check_memory = True


def test_too_large_size_says_what_it_would_need(pipe):
    with pytest.raises(SizeError, match=r"^width must be between 128 and 4096, got 1000000; 1 image of 1000000x256 "
                                        r"would need about [\d.]+ GiB of host memory \(text encoders"):
        pipe(PARAMS, progress=False, width=10**6)
    with pytest.raises(SizeError, match=r"2 images of 8192x8192 would need about [\d.]+ GiB"):
        pipe(PARAMS, progress=False, width=8192, height=8192, num_images_per_prompt=2)
    with pytest.raises(SizeError, match=r"^height must be between 128 and 4096, got 0$"):
        pipe(PARAMS, progress=False, height=0)
    assert len(pipe(PARAMS, progress=False)) == 1


def test_estimate_of_the_published_models():
    prior, decoder = normalize_config("prior"), normalize_config("decoder")
    clip = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20)

    def estimate(side, images):
        p = parse_params(width=side, height=side, num_images_per_prompt=images)
        h = w = -(-side * 100 // 4267)  # ceil(side / 42.67)
        d = int(h * 10.67)
        return memory.MemoryEstimate(memory.text_encoder_bytes(clip, 2, 77),
                                     memory.unet_bytes(prior, 2 * p.num_images_per_prompt, h, w, clip_tokens=85),
                                     memory.unet_bytes(decoder, p.num_images_per_prompt, d, d, clip_tokens=4),
                                     memory.vqgan_decode_bytes(DEFAULT_CONFIG, p.num_images_per_prompt, d, d))

    one = estimate(1024, 1)
    assert 1 << 30 < one.total < 3 << 30, one.describe()  # 1.6 GiB when written
    assert one.stage_a > one.decoder > one.prior > one.text_encoders
    four = estimate(1024, 4)
    assert 3.5 * one.total < four.total + 3 * one.text_encoders <= 4 * one.total
    assert estimate(4096, 16).total > 200 << 30


def test_available_memory_is_a_plausible_byte_count():
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < memory.available_memory() <= total


@pytest.mark.parametrize("n,text", [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KiB"), (5 << 30, "5.0 GiB"),
                                    (3 << 50, "3072.0 TiB")])
def test_format_bytes(n, text):
    assert memory.format_bytes(n) == text


def test_low_memory_pipeline_checks_its_largest_stage(monkeypatch):
    """A low_memory pipeline knows its networks' configs and weight sizes without loading them,
    and needs the largest stage at a time, the stage's network included (each stage frees its
    network and arena when it ends)."""
    pipe = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu", low_memory=True)
    need = pipe.memory_estimate(parse_params(PARAMS))
    held = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu").memory_estimate(
        parse_params(PARAMS))
    nets = pipe._nets
    for name in ("text_encoder", "prior", "decoder_text_encoder", "decoder"):
        assert nets[name].weight_bytes == nets[name].get().param_bytes  # exact from the headers
    assert nets["vqgan"].get().param_bytes <= nets["vqgan"].weight_bytes  # its encoder counts too
    assert need.prior == held.prior + nets["prior"].weight_bytes
    assert need.decoder == held.decoder + nets["decoder"].weight_bytes
    assert need.stage_a == held.stage_a + nets["vqgan"].weight_bytes
    assert need.text_encoders == held.text_encoders + nets["text_encoder"].weight_bytes
    largest = max(need.stages().values())
    monkeypatch.setattr(memory, "available_memory", lambda: largest - 1)
    with pytest.raises(MemoryError, match="needs about"):
        pipe(PARAMS, progress=False)
    monkeypatch.setattr(memory, "available_memory", lambda: largest)
    assert len(pipe(PARAMS, progress=False)) == 1


def test_low_memory_auto_holds_the_networks_when_they_fit(monkeypatch):
    """low_memory="auto" (the default) holds every network when its weights (from the file
    headers) plus the headroom fit in the available memory, and otherwise loads each per stage,
    saying so; the images are the same either way."""
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        held = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu")
    assert not held.low_memory
    assert held.text_encoder is held.decoder_text_encoder  # the shared copy
    monkeypatch.setattr(memory, "available_memory", lambda: memory.HOLD_HEADROOM)
    with pytest.warns(UserWarning, match=r"holding every network would take .* each network is loaded for its stage"):
        lean = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu")
    assert lean.low_memory
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 40)
    assert (lean(PARAMS, progress=False)[0] == held(PARAMS, progress=False)[0]).all()


def test_low_memory_value_is_checked():
    with pytest.raises(ValueError, match="low_memory must be True, False or 'auto'"):
        sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu", low_memory="yes")
