"""StableCascadeUNet against diffusers (reference data from tools/make_ref_unet.py), its loading
paths (diffusers folders, shards, variants, original single files), the real key manifests of
the four published configs, and its errors.

Metric for the parity tests: max |ours - diffusers| / max |diffusers| over the output, <= 1e-5.
"""
import json
import os
import shutil

import numpy as np
import pytest

from stable_cascade_c.safetensors import load_file
from stable_cascade_c.unet import PRESETS, StableCascadeUNet, normalize_config
from st_writer import write as write_safetensors

DATA = os.path.join(os.path.dirname(__file__), "data", "unet")
MODELS = ["prior_like", "decoder_like", "odd", "switch"]
TOL = 1e-5


def cases(name, prefix="c"):
    """[(inputs dict, reference output)] recorded for model `name` (keys "<case>.<argument>")."""
    d = np.load(os.path.join(DATA, name + ".npz"))
    ids = sorted({k.split(".")[0] for k in d.files if k.startswith(prefix)}, key=lambda i: int(i[len(prefix):]))
    out = []
    for i in ids:
        args = {f[len(i) + 1:]: d[f] for f in d.files if f.startswith(i + ".") and f != i + ".out"}
        out.append((args, d[i + ".out"]))
    return out


def rel_err(out, ref):
    assert out.shape == ref.shape and out.dtype == np.float32
    return float(np.abs(out - ref).max() / np.abs(ref).max())


_loaded = {}


def model(name):
    if name not in _loaded:
        _loaded[name] = StableCascadeUNet.from_pretrained(os.path.join(DATA, name))
    return _loaded[name]


def config_of(name):
    with open(os.path.join(DATA, name, "config.json")) as f:
        return json.load(f)


# ---- numerics ----

@pytest.mark.parametrize("name", MODELS)
def test_matches_diffusers(name):
    unet = model(name)
    for args, ref in cases(name):
        assert rel_err(unet(**args), ref) <= TOL


@pytest.mark.parametrize("name", MODELS)
def test_prepared_equals_plain_call(name):
    unet = model(name)
    for args, ref in cases(name):
        cond_args = {k: v for k, v in args.items() if k not in ("sample", "timestep_ratio")}
        cond = unet.prepare(**cond_args)
        assert cond.batch == args["sample"].shape[0]
        plain = unet(**args)
        # one conditioning serves several steps, like a denoising loop
        for _ in range(2):
            assert np.array_equal(unet.forward_prepared(cond, args["sample"], args["timestep_ratio"]), plain)
        other_t = args["timestep_ratio"] * 0.5
        assert np.array_equal(unet.forward_prepared(cond, args["sample"], other_t),
                              unet(**dict(args, timestep_ratio=other_t)))


def test_prepared_effnet_terms_follow_the_sample_size():
    """The cached effnet/pixels terms are remade when the same conditioning meets another size."""
    unet = model("decoder_like")
    (a, _), (b, _) = cases("decoder_like")[0], cases("decoder_like")[3]
    cond = unet.prepare(a["clip_text_pooled"], effnet=a["effnet"])
    small = b["sample"][:, :, :16, :16]
    for sample in (a["sample"], small, a["sample"]):
        assert np.array_equal(unet.forward_prepared(cond, sample, a["timestep_ratio"]),
                              unet(sample, a["timestep_ratio"], a["clip_text_pooled"], effnet=a["effnet"]))


def test_scalar_timestep_ratio_is_broadcast():
    unet = model("prior_like")
    args, _ = cases("prior_like")[0]
    both = unet(**dict(args, timestep_ratio=np.full(2, 0.5, np.float32)))
    assert np.array_equal(unet(**dict(args, timestep_ratio=0.5)), both)
    assert np.array_equal(unet(**dict(args, timestep_ratio=[0.5])), both)


def test_arena_allocates_nothing_after_the_first_forward():
    unet = model("decoder_like")
    args, _ = cases("decoder_like")[0]
    unet(**args)
    count = unet.arena_alloc_count
    cond = unet.prepare(args["clip_text_pooled"], effnet=args["effnet"])
    for t in (0.9, 0.5, 0.1):
        unet.forward_prepared(cond, args["sample"], np.full(2, t, np.float32))
        unet(**args)
    assert unet.arena_alloc_count == count


def test_free_workspace_then_the_same_result_and_one_new_plan():
    unet = model("decoder_like")
    args, _ = cases("decoder_like")[0]
    first = unet(**args)
    unet.free_workspace()
    count = unet.arena_alloc_count
    np.testing.assert_array_equal(unet(**args), first)
    assert unet.arena_alloc_count > count  # planned and allocated again
    count = unet.arena_alloc_count
    np.testing.assert_array_equal(unet(**args), first)
    assert unet.arena_alloc_count == count


# ---- loading paths ----

def test_sharded_equals_single_file():
    sharded = StableCascadeUNet.from_pretrained(os.path.join(DATA, "prior_like_sharded"))
    for args, _ in cases("prior_like"):
        assert np.array_equal(sharded(**args), model("prior_like")(**args))


def test_bf16_variant():
    unet = StableCascadeUNet.from_pretrained(os.path.join(DATA, "decoder_like"), variant="bf16")
    (args, ref), = cases("decoder_like", "b")
    assert rel_err(unet(**args), ref) <= TOL
    assert rel_err(model("decoder_like")(**args), ref) > 1e-4  # the variant really differs


@pytest.mark.parametrize("name", ["prior_like", "decoder_like"])
@pytest.mark.parametrize("naming", ["auto", "original"])
def test_original_single_file(name, naming):
    path = os.path.join(DATA, name + "_original.safetensors")
    unet = StableCascadeUNet.from_single_file(path, config=config_of(name), naming=naming)
    for args, _ in cases(name)[:2]:
        assert np.array_equal(unet(**args), model(name)(**args))


def test_diffusers_single_file_and_naming_mismatch():
    folder = os.path.join(DATA, "prior_like")
    path = os.path.join(folder, "diffusion_pytorch_model.safetensors")
    unet = StableCascadeUNet.from_single_file(path, config=config_of("prior_like"))
    args, _ = cases("prior_like")[0]
    assert np.array_equal(unet(**args), model("prior_like")(**args))
    with pytest.raises(ValueError, match="in_proj_weight"):
        StableCascadeUNet.from_single_file(path, config=config_of("prior_like"), naming="original")
    with pytest.raises(ValueError, match="to_q.weight"):
        StableCascadeUNet.from_single_file(os.path.join(DATA, "prior_like_original.safetensors"),
                                           config=config_of("prior_like"), naming="diffusers")


def test_detect_config(tmp_path):
    for name, key, shape in (("prior", "clip_txt_mapper.weight", (2048, 1)),
                             ("prior_lite", "clip_txt_mapper.weight", (1536, 1)),
                             ("decoder", "down_blocks.1.0.channelwise.0.weight", (1, 640)),
                             ("decoder_lite", "down_blocks.1.0.channelwise.0.weight", (1, 576))):
        path = write_safetensors(str(tmp_path / f"{name}.safetensors"), {key: np.zeros(shape, np.float32)})
        assert StableCascadeUNet.detect_config(path) == name
    with pytest.raises(ValueError, match="pass config="):
        StableCascadeUNet.from_single_file(os.path.join(DATA, "prior_like_original.safetensors"))


def test_config_property():
    unet = model("odd")
    cfg = unet.config
    assert cfg == normalize_config(config_of("odd"))
    cfg["in_channels"] = 99
    assert unet.config["in_channels"] == 3


# ---- key manifests of the published configs ----

def manifest(name):
    rows = []
    with open(os.path.join(DATA, "..", "keys", f"keys_{name}.tsv")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            key, shape = line.split("\t")[:2]
            rows.append((key, tuple(int(d) for d in shape.split("x"))))
    return rows


def diffusers_from_original(keys):
    """diffusers' convert_stable_cascade_unet_single_file_to_diffusers applied to (name, shape) pairs."""
    is_stage_c = any(k == "clip_txt_mapper.weight" for k, _ in keys)
    out = []
    for key, shape in keys:
        if key.endswith(("in_proj_weight", "in_proj_bias")):
            kind = "weight" if key.endswith("weight") else "bias"
            part = (shape[0] // 3,) + shape[1:]
            for p in ("to_q", "to_k", "to_v"):
                out.append((key.replace("attn.in_proj_" + kind, f"{p}.{kind}"), part))
        elif ".attn.out_proj." in key:
            out.append((key.replace("attn.out_proj.", "to_out.0."), shape))
        elif not is_stage_c and key.startswith("clip_mapper."):
            out.append((key.replace("clip_mapper.", "clip_txt_pooled_mapper."), shape))
        else:
            out.append((key, shape))
    return out


@pytest.mark.parametrize("name", list(PRESETS))
def test_expected_keys_equal_manifest(name):
    assert StableCascadeUNet.expected_keys(name) == manifest(name)


@pytest.mark.parametrize("name", list(PRESETS))
def test_original_naming_maps_onto_manifest(name):
    original = StableCascadeUNet.expected_keys(name, naming="original")
    names = [k for k, _ in original]
    assert len(names) == len(set(names))
    assert not any(".to_q." in k or ".to_out." in k for k in names)
    assert ("clip_mapper.weight" in names) == name.startswith("decoder")
    assert sorted(diffusers_from_original(original)) == sorted(manifest(name))


@pytest.mark.parametrize("name", MODELS)
def test_expected_keys_equal_saved_state_dicts(name):
    saved = load_file(os.path.join(DATA, name, "diffusion_pytorch_model.safetensors"))
    expected = StableCascadeUNet.expected_keys(config_of(name))
    assert sorted(expected) == sorted((k, v.shape) for k, v in saved.items())


@pytest.mark.parametrize("name", ["prior_like", "decoder_like"])
def test_expected_original_keys_equal_original_files(name):
    saved = load_file(os.path.join(DATA, name + "_original.safetensors"))
    expected = StableCascadeUNet.expected_keys(config_of(name), naming="original")
    assert sorted(expected) == sorted((k, v.shape) for k, v in saved.items())


# ---- errors ----

@pytest.fixture
def broken_copy(tmp_path):
    """A copy of the prior_like folder whose weights a test rewrites."""
    folder = tmp_path / "prior_like"
    shutil.copytree(os.path.join(DATA, "prior_like"), folder)
    path = folder / "diffusion_pytorch_model.safetensors"
    return folder, path, load_file(str(path))


def test_wrong_shape_raises(broken_copy):
    folder, path, tensors = broken_copy
    tensors["down_blocks.0.0.channelwise.0.weight"] = tensors["down_blocks.0.0.channelwise.0.weight"][:, :-1].copy()
    write_safetensors(str(path), tensors)
    with pytest.raises(ValueError, match=r"diffusion_pytorch_model\.safetensors.*down_blocks\.0\.0\.channelwise\.0"
                                         r"\.weight.*\[64, 15\].*\[64, 16\]"):
        StableCascadeUNet.from_pretrained(str(folder))


def test_missing_tensor_raises(broken_copy):
    folder, path, tensors = broken_copy
    del tensors["up_blocks.1.2.attention.to_v.bias"]
    write_safetensors(str(path), tensors)
    with pytest.raises(ValueError, match=r"prior_like.*missing.*up_blocks\.1\.2\.attention\.to_v\.bias"):
        StableCascadeUNet.from_pretrained(str(folder))


def test_unexpected_tensor_raises(broken_copy):
    folder, path, tensors = broken_copy
    tensors["down_blocks.0.3.mapper.weight"] = np.zeros((4, 4), np.float32)
    write_safetensors(str(path), tensors)
    with pytest.raises(ValueError, match=r"diffusion_pytorch_model\.safetensors.*unexpected.*down_blocks\.0\.3\.mapper"):
        StableCascadeUNet.from_pretrained(str(folder))


def test_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        StableCascadeUNet.from_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="unknown UNet config name"):
        StableCascadeUNet.expected_keys("stage_z")
    with pytest.raises(ValueError, match="up_num_layers_per_block"):
        normalize_config(dict(config_of("odd"), up_num_layers_per_block=[1, 1]))
    with pytest.raises(ValueError, match="unknown field"):
        normalize_config(dict(config_of("odd"), c_hidden=[8]))
    with pytest.raises(ValueError, match="num_attention_heads"):
        StableCascadeUNet.expected_keys(dict(config_of("odd"), num_attention_heads=[0, 5, 4]))
    with pytest.raises(ValueError, match="not supported"):
        StableCascadeUNet.expected_keys(dict(config_of("odd"), block_types_per_layer=[["Res"], ["Res"], ["Res"]]))
    with pytest.raises(ValueError, match="kernel_size 5 is not supported"):
        StableCascadeUNet.from_single_file(os.path.join(DATA, "odd", "diffusion_pytorch_model.safetensors"),
                                           config=dict(config_of("odd"), kernel_size=5))


def test_argument_errors():
    prior, decoder = model("prior_like"), model("decoder_like")
    args, _ = cases("prior_like")[0]
    with pytest.raises(ValueError, match="in_channels"):
        prior(**dict(args, sample=args["sample"][:, :3]))
    with pytest.raises(ValueError, match="clip_text_pooled_in_channels"):
        prior(**dict(args, clip_text_pooled=args["clip_text_pooled"][..., :3]))
    with pytest.raises(ValueError, match="batch"):
        prior(**dict(args, clip_img=args["clip_img"][:1]))
    with pytest.raises(ValueError, match="timestep_ratio"):
        prior(**dict(args, timestep_ratio=np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match="4-D"):
        prior(**dict(args, sample=args["sample"][0]))
    dargs, _ = cases("decoder_like")[0]
    with pytest.raises(ValueError, match="multiples of patch_size"):
        decoder(**dict(dargs, sample=dargs["sample"][:, :, :15]))
    with pytest.raises(ValueError, match="too small"):
        decoder(**dict(dargs, sample=dargs["sample"][:, :, :8, :8]))
    with pytest.raises(ValueError, match="effnet_in_channels"):
        decoder(**dict(dargs, effnet=dargs["effnet"][:, :2]))
    cond = prior.prepare(args["clip_text_pooled"])
    with pytest.raises(ValueError, match="another UNet"):
        decoder.forward_prepared(cond, dargs["sample"], dargs["timestep_ratio"])
    with pytest.raises(ValueError, match="batch"):
        prior.forward_prepared(cond, args["sample"][:1], args["timestep_ratio"][:1])


def test_forward_prepared_into_out():
    """`out=` receives the result (what the pipeline's loop does to allocate nothing per step)
    and is checked: shape, dtype, layout, and no overlap with the sample."""
    unet = model("prior_like")
    (args, _), = cases("prior_like")[:1]
    cond = unet.prepare(args["clip_text_pooled"], clip_text=args.get("clip_text"), clip_img=args.get("clip_img"))
    want = unet.forward_prepared(cond, args["sample"], args["timestep_ratio"])
    out = np.full_like(want, np.nan)
    assert unet.forward_prepared(cond, args["sample"], args["timestep_ratio"], out=out) is out
    assert np.array_equal(out, want)
    sample = np.ascontiguousarray(args["sample"], np.float32)
    with pytest.raises(ValueError, match="must have shape"):
        unet.forward_prepared(cond, sample, args["timestep_ratio"], out=out[:1])
    with pytest.raises(TypeError, match="float32"):
        unet.forward_prepared(cond, sample, args["timestep_ratio"], out=out.astype(np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        unet.forward_prepared(cond, sample, args["timestep_ratio"], out=np.asfortranarray(out))
    with pytest.raises(ValueError, match="share memory with sample"):  # in and out channels are equal here
        unet.forward_prepared(cond, sample, args["timestep_ratio"], out=sample)
