"""End to end on tiny random models: the same seed gives diffusers' pixels.

Reference: tools/make_ref_pipeline.py ran diffusers' StableCascadePriorPipeline then
StableCascadeDecoderPipeline in float32 with one torch CPU generator.
"""
import json
import os

import numpy as np
import pytest

import stable_cascade_c as sc

DATA = os.path.join(os.path.dirname(__file__), "data", "pipeline")
PRIOR = os.path.join(DATA, "stable-cascade-prior")
DECODER = os.path.join(DATA, "stable-cascade")
REF = np.load(os.path.join(DATA, "reference.npz"))
CASES = sorted({k.split("/")[0] for k in REF.files})


def _rel_err(got, want):
    return float(np.abs(got - want).max() / (np.abs(want).max() + 1e-12))


@pytest.mark.parametrize("case", CASES)
def test_same_pixels_as_diffusers(pipe, case):
    params = json.loads(str(REF[f"{case}/params"]))
    stages = {}
    images = pipe(params, _stages=stages)
    assert pipe.last_seed == params["seed"]
    assert _rel_err(stages["image_embeddings"], REF[f"{case}/image_embeddings"]) < 1e-4
    assert _rel_err(stages["decoder_latents"], REF[f"{case}/decoder_latents"]) < 1e-4
    want = REF[f"{case}/images"]
    assert len(images) == want.shape[0]
    for got, ref in zip(images, want):
        assert got.dtype == np.uint8 and got.shape == ref.shape and got.flags.c_contiguous
        diff = np.abs(got.astype(int) - ref.astype(int))
        assert diff.max() <= 3, f"max pixel difference {diff.max()}"
        assert (diff <= 1).mean() >= 0.999


def test_string_and_native_parameters_give_the_same_image(pipe):
    params = json.loads(str(REF["no_cfg/params"]))
    as_strings = {k: str(v) for k, v in params.items()}
    a = pipe(as_strings)
    b = pipe(**params)
    np.testing.assert_array_equal(a[0], b[0])


def test_random_seed_is_reported_and_reproducible(pipe):
    params = dict(json.loads(str(REF["no_cfg/params"])), seed=-1)
    first = pipe(params)
    seed = pipe.last_seed
    assert 0 <= seed <= 191965535
    again = pipe(dict(params, seed=seed))
    np.testing.assert_array_equal(first[0], again[0])


def test_progress_callback_sees_every_step(pipe):
    params = json.loads(str(REF["no_cfg/params"]))
    seen = []
    pipe(params, progress=lambda stage, done, total: seen.append((stage, done, total)))
    prior = [s for s in seen if s[0] == "prior"]
    decoder = [s for s in seen if s[0] == "decoder"]
    assert prior[-1] == ("prior", params["prior_num_inference_steps"], params["prior_num_inference_steps"])
    assert decoder[-1] == ("decoder", params["num_inference_steps"], params["num_inference_steps"])


def test_bad_parameter_leaves_the_pipeline_usable(pipe):
    params = json.loads(str(REF["no_cfg/params"]))
    with pytest.raises(ValueError, match="num_inference_steps"):
        pipe(params, num_inference_steps="zero")
    assert len(pipe(params)) == 1


def test_missing_folders_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        sc.Pipeline.from_pretrained(prior=str(tmp_path / "nope"), decoder=DECODER, device="cpu")
    with pytest.raises(FileNotFoundError, match="prior"):
        sc.Pipeline.from_pretrained(prior=str(tmp_path), decoder=DECODER, device="cpu")


def test_cuda_request_is_a_clear_error_without_a_gpu():
    if sc.build_info()["cuda_runtime_available"]:
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="cuda"):
        sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cuda")


def test_low_memory_gives_the_same_images_and_holds_no_network():
    params = json.loads(str(REF["cfg_prior/params"]))
    lean = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu", low_memory=True)
    assert lean.low_memory
    assert all(not net.held for net in lean._nets.values())
    images = lean(params, progress=False)
    diff = np.abs(images[0].astype(int) - REF["cfg_prior/images"][0].astype(int))
    assert diff.max() <= 3


def test_default_progress_bar_goes_to_stderr(pipe, capsys):
    params = json.loads(str(REF["no_cfg/params"]))
    pipe(params)
    err = capsys.readouterr().err
    assert "prior" in err and "decoder" in err
    pipe(params, progress=False)
    assert capsys.readouterr().err == ""


def test_missing_subfolders_are_listed_together(tmp_path):
    (tmp_path / "prior").mkdir()
    with pytest.raises(FileNotFoundError, match="text_encoder/, tokenizer/, scheduler/"):
        sc.Pipeline.from_pretrained(prior=str(tmp_path), decoder=DECODER, device="cpu")


def test_nan_weights_are_reported_with_stage_and_step(tmp_path):
    import shutil

    import st_writer

    prior = tmp_path / "prior-repo"
    shutil.copytree(PRIOR, prior)
    weights = prior / "prior" / "diffusion_pytorch_model.safetensors"
    tensors = st_writer.read(weights)
    name = next(n for n in tensors if n.startswith("clf.") and n.endswith("weight"))
    raw = tensors[name]
    values = np.frombuffer(raw.data, np.float32).copy()
    values[0] = np.nan
    tensors[name] = st_writer.Raw(raw.dtype, raw.shape, values.tobytes())
    st_writer.write(weights, tensors)
    broken = sc.Pipeline.from_pretrained(prior=str(prior), decoder=DECODER, device="cpu")
    params = json.loads(str(REF["no_cfg/params"]))
    with pytest.raises(FloatingPointError, match=r"prior step 1/2 produced \d+ NaN/Inf"):
        broken(params, progress=False)


def test_identical_text_encoders_are_loaded_once(pipe):
    # tools/make_ref_pipeline.py saved the same encoder in both repos
    assert pipe.decoder_text_encoder is pipe.text_encoder


def _copy_repo(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return str(dst)


def test_different_text_encoders_are_both_loaded_and_used(tmp_path):
    decoder = _copy_repo(DECODER, tmp_path / "decoder")
    weights = os.path.join(decoder, "text_encoder", "model.safetensors")
    data = bytearray(open(weights, "rb").read())
    data[-4:] = np.float32(7.0).tobytes()  # the last value of the last tensor
    open(weights, "wb").write(data)
    p = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=decoder, device="cpu")
    assert p.decoder_text_encoder is not p.text_encoder
    ids = np.full((1, 77), 49407)
    ids[0, 0] = 49406
    a = p.text_encoder(ids).text_embeds
    b = p.decoder_text_encoder(ids).text_embeds
    assert not np.array_equal(a, b)


def test_text_encoder_identity_check(tmp_path):
    from stable_cascade_c.text_encoder import same_model
    prior_te = os.path.join(PRIOR, "text_encoder")
    assert same_model(prior_te, os.path.join(DECODER, "text_encoder"))
    other = _copy_repo(prior_te, tmp_path / "config")
    cfg = json.load(open(os.path.join(other, "config.json")))
    cfg["layer_norm_eps"] = 1e-6
    json.dump(cfg, open(os.path.join(other, "config.json"), "w"))
    assert not same_model(prior_te, other)
    linked = tmp_path / "linked"  # a symlinked file is the same file: equal without reading it
    linked.mkdir()
    for name in os.listdir(prior_te):
        os.symlink(os.path.abspath(os.path.join(prior_te, name)), linked / name)
    assert same_model(prior_te, str(linked))


def test_byte_comparison(tmp_path):
    from stable_cascade_c.text_encoder import _same_bytes
    a, b, c, d = (tmp_path / n for n in "abcd")
    payload = bytes(range(256)) * 1000
    a.write_bytes(payload)
    b.write_bytes(payload)
    c.write_bytes(payload[:-1] + b"x")
    d.write_bytes(payload + b"x")
    for chunk in (1000, 256000, 1 << 24):  # a partial last chunk, exactly full chunks, one chunk
        assert _same_bytes(str(a), str(b), chunk)
        assert not _same_bytes(str(a), str(c), chunk)
        assert not _same_bytes(str(a), str(d), chunk)


def test_low_memory_holds_one_network_at_a_time():
    import weakref
    lean = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu", low_memory=True)
    alive = []

    def watched(name, load):
        def loader():
            living = [n for n, ref in alive if ref() is not None]
            assert not living, f"{name} loads while {living} are still alive"
            net = load()
            alive.append((name, weakref.ref(net)))
            return net
        return loader

    for name, net in lean._nets.items():
        net._loader = watched(name, net._loader)
    lean(json.loads(str(REF["cfg_prior/params"])), progress=False)
    assert [n for n, _ in alive] == ["text_encoder", "prior", "decoder_text_encoder", "decoder", "vqgan"]
    assert all(ref() is None for _, ref in alive)


def test_denoising_steps_allocate_nothing_after_the_first(pipe):
    """Every array of the denoising loop is allocated before its first step: from the second
    step on, a step creates no tensor buffer in C and no NumPy array (tracemalloc sees NumPy's
    allocations; the largest array a step used to create is the 1 MiB decoder latent)."""
    import tracemalloc

    from stable_cascade_c import _C
    marks = []

    def progress(stage, done, total):
        current, peak = tracemalloc.get_traced_memory()
        marks.append((stage, done, _C._tensor_buffer_allocations(), peak - current))
        tracemalloc.reset_peak()

    params = dict(prompt="a red cube", negative_prompt="blurry", prior_num_inference_steps=4,
                  prior_guidance_scale=4.0, num_inference_steps=4, guidance_scale=2.0, seed=3, width=1024,
                  height=1024)
    tracemalloc.start()
    try:
        pipe(params, progress=progress)
    finally:
        tracemalloc.stop()
    steps = [m for m in marks if m[1] >= 1]
    assert len({m[0] for m in steps}) == 2 and len(steps) == 2 * 4
    for before, after in zip(steps, steps[1:]):
        if before[0] == after[0]:  # consecutive steps of one stage
            assert after[2] == before[2], (before, after)  # no C tensor buffer
            assert after[3] < 16 << 10, (before, after)  # no array: Python's own small objects only
