"""Broken model folders: every component's from_pretrained and Pipeline.from_pretrained raise
ValueError / OSError / FileNotFoundError whose message names the file (or folder) and the
problem, for missing folders and files, a wrong layout, malformed or inconsistent config.json,
truncated or garbled safetensors, missing, unexpected or mistyped tensors and broken tokenizer
files. Each case starts from a copy of one component folder of the tiny pipeline
(tests/data/pipeline) and breaks one thing."""
import json
import os
import shutil
import struct

import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c.unet import StableCascadeUNet
from st_writer import Raw
from st_writer import read as read_safetensors
from st_writer import write as write_safetensors

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "pipeline")
PRIOR = os.path.join(DATA, "stable-cascade-prior")
DECODER = os.path.join(DATA, "stable-cascade")

# component: (source folder, loader, weight file, config file, one of its tensors)
NETWORKS = {
    "text_encoder": (os.path.join(DECODER, "text_encoder"), sc.CLIPTextModelWithProjection.from_pretrained,
                     "model.safetensors", "text_model.final_layer_norm.weight"),
    "prior": (os.path.join(PRIOR, "prior"), StableCascadeUNet.from_pretrained, "diffusion_pytorch_model.safetensors",
              "clf.1.weight"),
    "decoder": (os.path.join(DECODER, "decoder"), StableCascadeUNet.from_pretrained,
                "diffusion_pytorch_model.safetensors", "embedding.1.weight"),
    "vqgan": (os.path.join(DECODER, "vqgan"), sc.PaellaVQModel.from_pretrained, "diffusion_pytorch_model.safetensors",
              "out_block.0.weight"),
}
LOADERS = dict({name: spec[1] for name, spec in NETWORKS.items()},
               tokenizer=sc.CLIPTokenizer.from_pretrained, scheduler=sc.DDPMWuerstchenScheduler.from_pretrained)
SOURCES = dict({name: spec[0] for name, spec in NETWORKS.items()},
               tokenizer=os.path.join(DECODER, "tokenizer"), scheduler=os.path.join(DECODER, "scheduler"))
CONFIG_FILE = dict({name: "config.json" for name in NETWORKS}, scheduler="scheduler_config.json")
ERRORS = (ValueError, OSError)  # FileNotFoundError is an OSError


def copy_of(tmp_path, component):
    folder = tmp_path / component
    shutil.copytree(SOURCES[component], folder)
    return folder


def load_fails(component, folder, *fragments, error=ERRORS):
    """Loading `folder` raises `error` whose message contains every fragment (the file's path
    first of all)."""
    with pytest.raises(error) as info:
        LOADERS[component](str(folder))
    message = str(info.value)
    for fragment in fragments:
        assert str(fragment) in message, f"{fragment!r} not in {message!r}"
    return message


# ---- missing and misplaced folders and files -------------------------------------------------------

@pytest.mark.parametrize("component", sorted(LOADERS))
def test_missing_folder(tmp_path, component):
    load_fails(component, tmp_path / "nowhere", tmp_path / "nowhere", error=FileNotFoundError)


@pytest.mark.parametrize("component", sorted(LOADERS))
def test_folder_that_is_a_file(tmp_path, component):
    path = tmp_path / "file"
    path.write_text("{}")
    load_fails(component, path, path)


@pytest.mark.parametrize("component", sorted(CONFIG_FILE))
def test_missing_config(tmp_path, component):
    folder = copy_of(tmp_path, component)
    os.remove(folder / CONFIG_FILE[component])
    load_fails(component, folder, folder / CONFIG_FILE[component], error=FileNotFoundError)


@pytest.mark.parametrize("component", sorted(CONFIG_FILE))
def test_config_that_is_a_folder(tmp_path, component):
    folder = copy_of(tmp_path, component)
    os.remove(folder / CONFIG_FILE[component])
    os.mkdir(folder / CONFIG_FILE[component])
    load_fails(component, folder, folder / CONFIG_FILE[component])


@pytest.mark.parametrize("component", sorted(NETWORKS))
def test_missing_weights(tmp_path, component):
    folder = copy_of(tmp_path, component)
    os.remove(folder / NETWORKS[component][2])
    load_fails(component, folder, NETWORKS[component][2].split(".")[0], error=FileNotFoundError)


@pytest.mark.parametrize("component", sorted(NETWORKS))
def test_weights_that_are_a_folder(tmp_path, component):
    folder = copy_of(tmp_path, component)
    weights = folder / NETWORKS[component][2]
    os.remove(weights)
    os.mkdir(weights)
    load_fails(component, folder, folder, NETWORKS[component][2])


@pytest.mark.parametrize("component,other", [("text_encoder", "vqgan"), ("vqgan", "prior"), ("prior", "text_encoder"),
                                             ("decoder", "vqgan"), ("tokenizer", "vqgan"), ("scheduler", "decoder"),
                                             ("vqgan", "scheduler")])
def test_another_components_folder(component, other):
    """The wrong folder of the repo layout: the error names a file of that folder. (A prior folder
    given for the decoder is no error: both are StableCascadeUNets.)"""
    load_fails(component, SOURCES[other], SOURCES[other])


# ---- config.json --------------------------------------------------------------------------------

MALFORMED_JSON = [b"", b" ", b"{", b'{"in_channels": 4,}', b"[]", b"null", b"42", b'"config"', b"\xff\xfe{\x00}\x00",
                  b"{\"a\": \"\xc3\x28\"}", b"[" * 100_000, b'{"a": 1} {"b": 2}', b"\x00" * 16]


@pytest.mark.parametrize("component", sorted(CONFIG_FILE))
@pytest.mark.parametrize("content", MALFORMED_JSON, ids=range(len(MALFORMED_JSON)))
def test_malformed_config(tmp_path, component, content):
    folder = copy_of(tmp_path, component)
    (folder / CONFIG_FILE[component]).write_bytes(content)
    load_fails(component, folder, folder / CONFIG_FILE[component], error=ValueError)


BAD_CONFIG_VALUES = {
    "text_encoder": [("hidden_size", "16"), ("hidden_size", -16), ("hidden_size", 2**64), ("num_attention_heads", 0),
                     ("num_attention_heads", 3), ("num_hidden_layers", None), ("hidden_act", "swish"),
                     ("layer_norm_eps", 0), ("layer_norm_eps", "tiny"), ("vocab_size", [49408]),
                     ("intermediate_size", 1.5), ("max_position_embeddings", 10**30)],
    "prior": [("block_out_channels", 32), ("block_out_channels", [32]), ("block_out_channels", [-32, 32]),
              ("block_out_channels", [2**20, 32]), ("down_num_layers_per_block", [10**9, 10**9]),
              ("up_blocks_repeat_mappers", [1000, 1]), ("num_attention_heads", [2, 64]),
              ("block_types_per_layer", [["SDCascadeResBlock", "Nope"]] * 2), ("block_types_per_layer", 3),
              ("block_types_per_layer", [3, 3]), ("timestep_conditioning_type", "sca"), ("kernel_size", 4),
              ("kernel_size", 10**6), ("patch_size", 0), ("clip_seq", 10**12), ("self_attn", "yes"),
              ("switch_level", [1]), ("in_channels", None), ("c_hidden", [32, 32])],
    "decoder": [("effnet_in_channels", -1), ("pixel_mapper_in_channels", "3"), ("num_attention_heads", [0, 0, 0, 2]),
                ("up_num_layers_per_block", [1, 2, 1]), ("conditioning_dim", 2**31), ("timestep_ratio_embedding_dim", 2)],
    "vqgan": [("embed_dim", 0), ("embed_dim", 10**9), ("levels", 40), ("levels", "2"), ("latent_channels", -4),
              ("scale_factor", float("nan")), ("scale_factor", 0), ("up_down_scale_factor", 2.5),
              ("num_vq_embeddings", None), ("_class_name", "VQModel")],
    "scheduler": [("s", "0.008"), ("s", -1.0), ("scaler", None), ("scaler", float("inf")),
                  ("_class_name", "DDPMScheduler")],
}
BAD_CONFIGS = [(c, k, v) for c, values in BAD_CONFIG_VALUES.items() for k, v in values]


@pytest.mark.parametrize("component,key,value", BAD_CONFIGS, ids=[f"{c}-{k}-{i}" for i, (c, k, _) in
                                                                  enumerate(BAD_CONFIGS)])
def test_bad_config_value(tmp_path, component, key, value):
    """A wrong type, a value out of range or a structure no weight file could match: a
    ValueError naming config.json and the key, before any weight is read (checked by removing
    the weights)."""
    folder = copy_of(tmp_path, component)
    path = folder / CONFIG_FILE[component]
    config = json.loads(path.read_text())
    config[key] = value
    path.write_text(json.dumps(config))
    for name in os.listdir(folder):
        if name.endswith(".safetensors"):
            os.remove(folder / name)
    key_words = {"_class_name": "", "c_hidden": "c_hidden"}.get(key, key.split("_")[0])
    load_fails(component, folder, path, key_words, error=ValueError)


INCONSISTENT = {  # valid configs that do not describe the weights: (key, value, tensor named)
    "text_encoder": ("intermediate_size", 36, "fc1.weight"),
    "prior": ("clip_seq", 2, "clip_txt_pooled_mapper.weight"),
    "decoder": ("block_out_channels", [8, 16, 24, 32], "down_blocks.3.0.depthwise.weight"),
    "vqgan": ("embed_dim", 32, "in_block.1.weight"),
}


@pytest.mark.parametrize("component", sorted(INCONSISTENT))
def test_config_inconsistent_with_the_weights(tmp_path, component):
    folder = copy_of(tmp_path, component)
    key, value, tensor = INCONSISTENT[component]
    path = folder / "config.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), **{key: value})))
    load_fails(component, folder, folder / NETWORKS[component][2], tensor, "shape", error=ValueError)


# ---- the safetensors file -----------------------------------------------------------------------

def _cuts(size, header_end):
    return sorted({0, 1, 7, 8, 9, header_end // 2, header_end - 1, header_end, header_end + 1, (header_end + size) // 2,
                   size - 1})


@pytest.mark.parametrize("component", sorted(NETWORKS))
def test_truncated_weights(tmp_path, component):
    folder = copy_of(tmp_path, component)
    weights = folder / NETWORKS[component][2]
    blob = weights.read_bytes()
    header_end = 8 + struct.unpack("<Q", blob[:8])[0]
    for cut in _cuts(len(blob), header_end):
        weights.write_bytes(blob[:cut])
        load_fails(component, folder, weights, error=ValueError)


@pytest.mark.parametrize("component", sorted(NETWORKS))
def test_garbled_header(tmp_path, component):
    """Bytes of the header overwritten at spread positions: each load is an error naming the file
    or (where the garbling left a valid header) succeeds."""
    folder = copy_of(tmp_path, component)
    weights = folder / NETWORKS[component][2]
    blob = weights.read_bytes()
    header_end = 8 + struct.unpack("<Q", blob[:8])[0]
    rng = np.random.default_rng(7)
    failures = 0
    for position in rng.integers(0, header_end, 40):
        for byte in (b"\x00", b"\xff", b"9", b"}", b'"'):
            weights.write_bytes(blob[:position] + byte + blob[position + 1:])
            try:
                LOADERS[component](str(folder))
            except ValueError as exc:
                assert str(weights) in str(exc), exc
                failures += 1
    assert failures >= 100


@pytest.mark.parametrize("component", sorted(NETWORKS))
def test_hostile_headers(tmp_path, component):
    folder = copy_of(tmp_path, component)
    weights = folder / NETWORKS[component][2]
    blob = weights.read_bytes()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    name = NETWORKS[component][3]
    begin, end = header[name]["data_offsets"]
    variants = {
        "length beyond the file": struct.pack("<Q", len(blob)) + blob[8:],
        "length 2^64-1": struct.pack("<Q", 2**64 - 1) + blob[8:],
        "offsets beyond the file": _edit(blob, n, header, name, data_offsets=[begin, end + 10**9]),
        "overlapping offsets": _edit(blob, n, header, name, data_offsets=[max(begin - 4, 0), end]),
        "unknown dtype": _edit(blob, n, header, name, dtype="F31"),
        "shape not matching the bytes": _edit(blob, n, header, name, shape=[1, 2, 3]),
        "negative shape": _edit(blob, n, header, name, shape=[-1]),
    }
    for what, data in variants.items():
        weights.write_bytes(data)
        message = load_fails(component, folder, weights, error=ValueError)
        assert what != "unknown dtype" or "F31" in message


def _edit(blob, n, header, name, **fields):
    """The file with tensor `name`'s header entry changed (header re-padded, data unchanged)."""
    edited = json.loads(json.dumps(header))
    edited[name].update(fields)
    text = json.dumps(edited).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob[8 + n:]


@pytest.mark.parametrize("component", sorted(NETWORKS))
def test_missing_tensor(tmp_path, component):
    folder = copy_of(tmp_path, component)
    weights = folder / NETWORKS[component][2]
    tensors = read_safetensors(weights)
    name = NETWORKS[component][3]
    del tensors[name]
    write_safetensors(weights, tensors)
    load_fails(component, folder, folder, name, "missing", error=ValueError)


@pytest.mark.parametrize("component", sorted(NETWORKS))
def test_unexpected_tensor(tmp_path, component):
    folder = copy_of(tmp_path, component)
    weights = folder / NETWORKS[component][2]
    tensors = read_safetensors(weights)
    tensors["extra.weight"] = np.zeros(3, np.float32)
    write_safetensors(weights, tensors)
    load_fails(component, folder, weights, "extra.weight", "unexpected", error=ValueError)


@pytest.mark.parametrize("component", sorted(NETWORKS))
@pytest.mark.parametrize("dtype,bits", [("I32", 32), ("U8", 8), ("F64", 64), ("BOOL", 8)])
def test_tensor_of_an_unreadable_dtype(tmp_path, component, dtype, bits):
    folder = copy_of(tmp_path, component)
    weights = folder / NETWORKS[component][2]
    tensors = read_safetensors(weights)
    name = NETWORKS[component][3]
    shape = tensors[name].shape
    tensors[name] = Raw(dtype, shape, bytes(int(np.prod(shape)) * bits // 8))
    write_safetensors(weights, tensors)
    load_fails(component, folder, name, dtype, error=ValueError)


# ---- tokenizer files ----------------------------------------------------------------------------

TOKENIZER_BREAKS = [
    ("vocab.json", None, FileNotFoundError), ("merges.txt", None, FileNotFoundError),
    ("vocab.json", b"", ValueError), ("vocab.json", b"\xff\xfe", ValueError), ("vocab.json", b'{"a": "0"}', ValueError),
    ("vocab.json", b'{"a": 1e400}', ValueError), ("vocab.json", b"[" * 50_000, ValueError),
    ("merges.txt", b"#version: 0.2\nno_such_token n\n", ValueError), ("merges.txt", b"\xc3\x28 b\n", ValueError),
    ("merges.txt", b"a b c\n", ValueError), ("tokenizer_config.json", b"{", ValueError),
    ("tokenizer_config.json", b'{"model_max_length": "77", "padding_side": 7}', ValueError),
    ("tokenizer_config.json", b'{"bos_token": {"content": 5}}', ValueError),
    ("tokenizer_config.json", b'{"added_tokens_decoder": {"-1": {"content": "x"}}}', ValueError),
    ("tokenizer_config.json", b'{"added_tokens_decoder": {}, "pad_token": ""}', ValueError),  # fuzzer find
    ("special_tokens_map.json", b"[]", ValueError), ("special_tokens_map.json", b'{"eos_token": null}', ValueError),
]


@pytest.mark.parametrize("file,content,error", TOKENIZER_BREAKS, ids=range(len(TOKENIZER_BREAKS)))
def test_broken_tokenizer_files(tmp_path, file, content, error):
    folder = copy_of(tmp_path, "tokenizer")
    if file == "special_tokens_map.json":  # only read when tokenizer_config.json has no added_tokens_decoder
        config = json.loads((folder / "tokenizer_config.json").read_text())
        config.pop("added_tokens_decoder")
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    if content is None:
        os.remove(folder / file)
    else:
        (folder / file).write_bytes(content)
    load_fails("tokenizer", folder, folder / file, error=error)


# ---- Pipeline.from_pretrained -------------------------------------------------------------------

def pipeline_copy(tmp_path, broken_part=None):
    """A copy of the tiny repos whose folders are symlinks to the originals, except `broken_part`
    ("prior/<sub>" or "decoder/<sub>"), which is a real copy the test may break."""
    roots = {}
    for repo, source in (("prior", PRIOR), ("decoder", DECODER)):
        root = tmp_path / repo
        root.mkdir()
        for name in os.listdir(source):
            if f"{repo}/{name}" == broken_part:
                (shutil.copytree if os.path.isdir(os.path.join(source, name)) else shutil.copy)(
                    os.path.join(source, name), root / name)
            else:
                os.symlink(os.path.join(source, name), root / name)
        roots[repo] = root
    return roots["prior"], roots["decoder"]


def pipeline_fails(prior, decoder, *fragments, error=ERRORS, **kwargs):
    with pytest.raises(error) as info:
        sc.Pipeline.from_pretrained(prior=str(prior), decoder=str(decoder), device="cpu", **kwargs)
    for fragment in fragments:
        assert str(fragment) in str(info.value), f"{fragment!r} not in {str(info.value)!r}"


def test_pipeline_missing_repos(tmp_path):
    pipeline_fails(tmp_path / "no_prior", DECODER, tmp_path / "no_prior", error=FileNotFoundError)
    pipeline_fails(PRIOR, tmp_path / "no_decoder", tmp_path / "no_decoder", error=FileNotFoundError)
    pipeline_fails(DECODER, PRIOR, DECODER, "missing prior/", error=FileNotFoundError)  # swapped


@pytest.mark.parametrize("part", ["prior/prior", "prior/text_encoder", "prior/tokenizer", "prior/scheduler",
                                  "decoder/decoder", "decoder/text_encoder", "decoder/tokenizer", "decoder/vqgan",
                                  "decoder/scheduler"])
def test_pipeline_missing_subfolder(tmp_path, part):
    prior, decoder = pipeline_copy(tmp_path)
    os.remove(tmp_path / part)
    repo, sub = part.split("/")
    pipeline_fails(prior, decoder, tmp_path / repo, f"missing {sub}/", error=FileNotFoundError)


@pytest.mark.parametrize("low_memory", [False, True], ids=["held", "low_memory"])
@pytest.mark.parametrize("part,file", [("prior/prior", "config.json"), ("decoder/text_encoder", "config.json"),
                                       ("decoder/vqgan", "config.json"), ("decoder/scheduler", "scheduler_config.json"),
                                       ("prior/tokenizer", "vocab.json"), ("prior/model_index.json", "")])
def test_pipeline_malformed_file(tmp_path, part, file, low_memory):
    prior, decoder = pipeline_copy(tmp_path, part)
    path = tmp_path / part / file if file else tmp_path / part
    path.write_bytes(b'{"broken": ')
    pipeline_fails(prior, decoder, path, error=ValueError, low_memory=low_memory)


@pytest.mark.parametrize("part,file", [("prior/prior", "diffusion_pytorch_model.safetensors"),
                                       ("decoder/decoder", "diffusion_pytorch_model.safetensors"),
                                       ("prior/text_encoder", "model.safetensors"),
                                       ("decoder/vqgan", "diffusion_pytorch_model.safetensors")])
def test_pipeline_truncated_weights(tmp_path, part, file):
    prior, decoder = pipeline_copy(tmp_path, part)
    path = tmp_path / part / file
    path.write_bytes(path.read_bytes()[:-1])
    pipeline_fails(prior, decoder, path, error=ValueError)


def test_low_memory_pipeline_reports_broken_weights_at_the_stage_and_stays_usable(tmp_path):
    """low_memory loads each network when its stage starts: truncated weights are reported by the
    call, and once the file is repaired the same pipeline generates."""
    prior, decoder = pipeline_copy(tmp_path, "decoder/vqgan")
    path = tmp_path / "decoder" / "vqgan" / "diffusion_pytorch_model.safetensors"
    good = path.read_bytes()
    pipe = sc.Pipeline.from_pretrained(prior=str(prior), decoder=str(decoder), device="cpu", low_memory=True)
    params = dict(prompt="", seed=0, width=128, height=128, prior_num_inference_steps=1, num_inference_steps=1)
    path.write_bytes(good[:-1])
    with pytest.raises(ValueError, match=str(path)):
        pipe(params, progress=False)
    path.write_bytes(good)
    assert pipe(params, progress=False)[0].shape == (128, 128, 3)
