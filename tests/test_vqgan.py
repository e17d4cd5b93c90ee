"""Stage A (PaellaVQModel decode) against diffusers' outputs recorded by tools/make_ref_vqgan.py,
and the loader against the real checkpoint manifest (spec/keys/keys_vqgan.tsv)."""
import json
import os
import shutil

import numpy as np
import pytest

import st_writer
import stable_cascade_c as sc

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
TINY = os.path.join(DATA, "vqgan", "tiny")
TINY_SINGLE = os.path.join(DATA, "vqgan", "tiny_stage_a.safetensors")
REF = np.load(os.path.join(DATA, "vqgan", "reference.npz"))
CASES = sorted(k[len("latents_"):] for k in REF.files if k.startswith("latents_"))
TINY_L3 = os.path.join(DATA, "vqgan", "tiny_l3")
REF_L3 = np.load(os.path.join(DATA, "vqgan", "reference_l3.npz"))
CASES_L3 = sorted(k[len("latents_"):] for k in REF_L3.files if k.startswith("latents_"))


def rel_err(got, want):
    """max |got - want| / max |want|: the error relative to the output's scale."""
    return float(np.max(np.abs(got.astype(np.float64) - want)) / np.max(np.abs(want)))


@pytest.fixture(scope="module")
def tiny():
    return sc.PaellaVQModel.from_pretrained(TINY)


# ---- numerics -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_decode_matches_diffusers(tiny, case):
    latents = REF["latents_" + case]
    out = tiny.decode(latents)
    want = REF["decoded_" + case]
    assert out.dtype == np.float32 and out.shape == want.shape
    assert rel_err(out, want) < 1e-5


def test_three_levels_without_pixel_shuffle_match_diffusers():
    model = sc.PaellaVQModel.from_pretrained(TINY_L3)
    for case in CASES_L3:
        want = REF_L3["decoded_" + case]
        out = model.decode(REF_L3["latents_" + case])
        assert out.shape == want.shape
        assert rel_err(out, want) < 1e-5


def test_mlp_in_many_row_tiles_matches_diffusers():
    model = sc.PaellaVQModel.from_pretrained(TINY)
    # 6 pixels per tile at 16 channels, 12 at 8: 70 and 280 rows end in a partial tile.
    model._impl.set_mlp_tile(4 * 16 * 6)
    for case in CASES:
        assert rel_err(model.decode(REF["latents_" + case]), REF["decoded_" + case]) < 1e-5
    with pytest.raises(ValueError, match="tile"):
        model._impl.set_mlp_tile(0)


def test_bf16_variant_matches_rounded_weights():
    model = sc.PaellaVQModel.from_pretrained(TINY, variant="bf16")
    for case in CASES:
        assert rel_err(model.decode(REF["latents_" + case]), REF["decoded_bf16_" + case]) < 1e-5


def test_single_file_with_original_naming_equals_folder(tiny):
    single = sc.PaellaVQModel.from_single_file(TINY_SINGLE, config=tiny.config)
    latents = REF["latents_b2_5x7"]
    np.testing.assert_array_equal(single.decode(latents), tiny.decode(latents))
    # Without a config the default (full-size) one applies, which the tiny shapes do not fit.
    with pytest.raises(ValueError, match=r"tiny_stage_a\.safetensors: tensor 'in_block\.1\.weight' has shape"):
        sc.PaellaVQModel.from_single_file(TINY_SINGLE)


def test_decode_converts_input_and_is_repeatable(tiny):
    latents = REF["latents_b2_6x4"]
    first = tiny.decode(latents)
    as_f64_strided = np.asfortranarray(latents.astype(np.float64))
    np.testing.assert_array_equal(tiny.decode(as_f64_strided), first)


def test_no_arena_allocation_after_first_decode_of_a_size(tiny):
    latents = REF["latents_b2_5x7"]
    tiny.decode(latents)
    count = tiny._arena_alloc_count()
    tiny.decode(latents)
    assert tiny._arena_alloc_count() == count
    tiny.decode(REF["latents_b1_1x1"])  # smaller: fits the same arena
    assert tiny._arena_alloc_count() == count


def test_config_and_scale_factor(tiny):
    assert tiny.config["embed_dim"] == 16 and tiny.config["bottleneck_blocks"] == 2
    assert tiny.scale_factor == pytest.approx(0.3764)
    single = sc.PaellaVQModel.from_single_file(
        TINY_SINGLE, config={**tiny.config, "scale_factor": 0.43})
    assert single.scale_factor == pytest.approx(0.43)


# ---- manifest -----------------------------------------------------------------------------


def read_manifest():
    rows = []
    with open(os.path.join(DATA, "keys", "keys_vqgan.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, shape, dtype = line.split("\t")[:3]
            dims = () if shape == "scalar" else tuple(int(d) for d in shape.split("x"))
            rows.append((name, dims, dtype))
    return rows


def test_expected_keys_equal_the_real_manifest():
    got = [(n, tuple(s), d) for n, s, d in sc.PaellaVQModel.expected_keys()]
    assert got == read_manifest()
    assert len(got) == 122


def test_expected_keys_original_naming_renames_only_the_codebook():
    want = [("vquantizer.codebook.weight" if n == "vquantizer.embedding.weight" else n, s, d)
            for n, s, d in read_manifest()]
    got = [(n, tuple(s), d) for n, s, d in sc.PaellaVQModel.expected_keys(naming="original")]
    assert got == want


def test_expected_keys_of_the_tiny_config_equal_what_diffusers_saved(tiny):
    tensors = st_writer.read(os.path.join(TINY, "diffusion_pytorch_model.safetensors"))
    saved = {n: t.shape for n, t in tensors.items()}
    listed = {n: tuple(s) for n, s, _ in sc.PaellaVQModel.expected_keys(tiny.config)}
    assert listed == saved


# ---- malformed checkpoints ----------------------------------------------------------------

def tiny_copy(tmp_path, edit):
    """A copy of the tiny folder whose tensors went through `edit(dict)`."""
    folder = tmp_path / "vqgan"
    folder.mkdir()
    shutil.copy(os.path.join(TINY, "config.json"), folder / "config.json")
    tensors = st_writer.read(os.path.join(TINY, "diffusion_pytorch_model.safetensors"))
    edit(tensors)
    path = folder / "diffusion_pytorch_model.safetensors"
    st_writer.write(path, tensors)
    return str(folder), str(path)


def f32(*shape):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("name", ["up_blocks.2.channelwise.0.bias", "up_blocks.3.weight", "out_block.0.bias",
                                  "down_blocks.3.1.running_var", "down_blocks.3.1.num_batches_tracked",
                                  "vquantizer.embedding.weight", "in_block.1.weight"])
def test_missing_tensor_is_named(tmp_path, name):
    folder, _ = tiny_copy(tmp_path, lambda t: t.pop(name))
    with pytest.raises(ValueError, match=r"vqgan.*missing.*'%s'" % name.replace(".", r"\.")):
        sc.PaellaVQModel.from_pretrained(folder)


@pytest.mark.parametrize("name,shape", [("up_blocks.1.depthwise.1.weight", (8, 1, 3, 3)),
                                        ("up_blocks.3.weight", (8, 16, 4, 4)),
                                        ("up_blocks.1.gammas", (5,)),
                                        ("down_blocks.1.weight", (16, 8, 3, 3)),
                                        ("vquantizer.embedding.weight", (32, 5))])
def test_misshapen_tensor_is_named(tmp_path, name, shape):
    def edit(t):
        t[name] = f32(*shape)
    folder, path = tiny_copy(tmp_path, edit)
    with pytest.raises(ValueError, match=r"diffusion_pytorch_model\.safetensors: tensor '%s' has shape"
                       % name.replace(".", r"\.")):
        sc.PaellaVQModel.from_pretrained(folder)


def test_unexpected_tensor_is_named(tmp_path):
    def edit(t):
        t["up_blocks.99.gammas"] = f32(6)
    folder, _ = tiny_copy(tmp_path, edit)
    with pytest.raises(ValueError, match=r"diffusion_pytorch_model\.safetensors.*unexpected.*up_blocks\.99\.gammas"):
        sc.PaellaVQModel.from_pretrained(folder)


def test_both_codebook_names_is_an_unexpected_tensor(tmp_path):
    def edit(t):
        t["vquantizer.codebook.weight"] = t["vquantizer.embedding.weight"]
    folder, _ = tiny_copy(tmp_path, edit)
    with pytest.raises(ValueError, match=r"unexpected.*vquantizer\.codebook\.weight"):
        sc.PaellaVQModel.from_pretrained(folder)


def test_config_that_does_not_match_the_weights(tmp_path):
    folder, _ = tiny_copy(tmp_path, lambda t: None)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    cfg["bottleneck_blocks"] = 3
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    with pytest.raises(ValueError, match=r"missing tensor 'up_blocks\.3\.gammas'"):
        sc.PaellaVQModel.from_pretrained(folder)


# ---- bad arguments ------------------------------------------------------------------------


def test_bad_config_values(tmp_path):
    folder = tmp_path / "vqgan"
    folder.mkdir()
    for cfg, match in [({"levels": 0}, "levels"), ({"embed_dim": "16"}, "embed_dim"),
                       ({"_class_name": "StableCascadeUNet"}, "StableCascadeUNet"),
                       ({"scale_factor": -1.0}, "scale_factor"), ({"levels": 6, "embed_dim": 16}, "embed_dim")]:
        (folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(ValueError, match=match):
            sc.PaellaVQModel.from_pretrained(str(folder))
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        sc.PaellaVQModel.from_pretrained(str(folder))


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        sc.PaellaVQModel.from_pretrained(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        sc.PaellaVQModel.from_pretrained(TINY, variant="fp16")
    with pytest.raises(FileNotFoundError):
        sc.PaellaVQModel.from_single_file(str(tmp_path / "stage_a.safetensors"))


def test_devices():
    # device="cuda" and "auto": tests/test_cuda_unavailable.py and tests/test_cuda_networks.py
    with pytest.raises(ValueError, match="device"):
        sc.PaellaVQModel.from_pretrained(TINY, device="tpu")


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 5, 7), (2, 4, 0, 7), (0, 4, 2, 2)])
def test_bad_latents(tiny, shape):
    with pytest.raises(ValueError, match="latents"):
        tiny.decode(np.zeros(shape, np.float32))
