"""CLIPTextModelWithProjection against transformers (float32, eager attention).

Reference models and outputs: tests/data/clip_text, written by tools/make_ref_clip_text.py.
Error metric: max |ours - reference| / max |reference| over each output array.
"""
import json
import os
import shutil
import struct

import numpy as np
import pytest

from stable_cascade_c import CLIPTextModelWithProjection

DATA = os.path.join(os.path.dirname(__file__), "data", "clip_text")
KEYS_TSV = os.path.join(DATA, "keys_text_encoder.tsv")  # copy of shared/spec/keys/keys_text_encoder.tsv
MODELS = ["tiny", "eos49407", "wide_quick_gelu", "first_eos"]
OUTPUTS = ["hidden_states", "last_hidden_state", "text_embeds"]
TOL = 1e-5

BIGG_CONFIG = {
    "vocab_size": 49408, "hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
    "num_attention_heads": 20, "max_position_embeddings": 77, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
    "projection_dim": 1280, "eos_token_id": 2,
}


def rel_err(ours, ref):
    assert ours.shape == ref.shape and ours.dtype == np.float32
    return float(np.abs(ours.astype(np.float64) - ref).max() / np.abs(ref).max())


def reference(name):
    return dict(np.load(os.path.join(DATA, name + ".npz")))


@pytest.fixture(scope="module")
def models():
    return {name: CLIPTextModelWithProjection.from_pretrained(os.path.join(DATA, name)) for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_outputs_match_transformers(models, name):
    ref = reference(name)
    out = models[name](ref["input_ids"], attention_mask=ref["attention_mask"])
    for key in OUTPUTS:
        assert rel_err(getattr(out, key), ref[key]) < TOL, key


@pytest.mark.parametrize("name", MODELS)
def test_without_mask_matches_transformers(models, name):
    ref = reference(name)
    out = models[name](ref["input_ids"])
    for key in OUTPUTS:
        assert rel_err(getattr(out, key), ref["nomask_" + key]) < TOL, key


@pytest.mark.parametrize("name", ["tiny", "wide_quick_gelu"])
def test_mask_changes_exactly_what_transformers_changes(models, name):
    ref = reference(name)
    masked = models[name](ref["input_ids"], attention_mask=ref["attention_mask"]).hidden_states
    plain = models[name](ref["input_ids"]).hidden_states
    ref_delta = ref["hidden_states"] - ref["nomask_hidden_states"]
    delta = masked - plain
    scale = np.abs(ref["hidden_states"]).max()
    assert np.abs(delta - ref_delta).max() / scale < 2 * TOL
    # Positions before the first masked key see the same keys either way; later ones do not.
    mask = ref["attention_mask"]
    for b in range(mask.shape[0]):
        first_pad = int(np.argmin(mask[b])) if (mask[b] == 0).any() else mask.shape[1]
        assert np.abs(delta[b, :first_pad]).max(initial=0) / scale < TOL
        if first_pad < mask.shape[1]:
            assert np.abs(delta[b, first_pad:]).max() > 1e-3


def test_bf16_variant(models):
    ref = reference("eos49407")
    te = CLIPTextModelWithProjection.from_pretrained(os.path.join(DATA, "eos49407"), variant="bf16")
    out = te(ref["input_ids"], attention_mask=ref["attention_mask"])
    for key in OUTPUTS:
        assert rel_err(getattr(out, key), ref["bf16_" + key]) < TOL, key
        # and it really is the rounded weights, not the float32 file
        assert rel_err(getattr(out, key), ref[key]) > 1e-4, key


def test_pooling_data_discriminates_the_two_rules():
    # The reference ids are built so that the wrong pooling rule would pick other rows.
    first_eos = reference("first_eos")
    assert (first_eos["input_ids"].argmax(-1) != first_eos["pooled_index"]).any()
    legacy = reference("wide_quick_gelu")
    assert ((legacy["input_ids"] == 999).argmax(-1) != legacy["pooled_index"]).any()


def test_single_sequence_and_shorter_batch(models):
    ref = reference("tiny")
    te = models["tiny"]
    one = te(ref["input_ids"][2], attention_mask=ref["attention_mask"][2])
    assert one.hidden_states.shape == (1, 77, 16) and one.text_embeds.shape == (1, 24)
    assert rel_err(one.hidden_states[0], ref["hidden_states"][2]) < TOL
    assert rel_err(one.text_embeds[0], ref["text_embeds"][2]) < TOL


def test_no_arena_allocation_after_first_call():
    ref = reference("wide_quick_gelu")
    te = CLIPTextModelWithProjection.from_pretrained(os.path.join(DATA, "wide_quick_gelu"))
    first = te(ref["input_ids"], attention_mask=ref["attention_mask"])
    count = te._arena_alloc_count()
    assert count >= 1
    for _ in range(2):
        again = te(ref["input_ids"], attention_mask=ref["attention_mask"])
        assert te._arena_alloc_count() == count
    te(ref["input_ids"][:2, :10])  # smaller: still fits
    assert te._arena_alloc_count() == count
    np.testing.assert_array_equal(again.hidden_states, first.hidden_states)


def read_keys_tsv():
    keys = []
    with open(KEYS_TSV) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, shape = line.split("\t")[:2]
            keys.append((name, tuple(int(d) for d in shape.split("x"))))
    return keys


def test_expected_keys_equal_bigG_manifest():
    assert CLIPTextModelWithProjection.expected_keys(BIGG_CONFIG) == read_keys_tsv()


# --- a minimal safetensors reader/writer to build broken checkpoints -------------------------

NP_DTYPES = {"F32": np.float32, "I64": np.int64, "BF16": np.uint16}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + begin:8 + n + end], NP_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    names = {np.float32: "F32", np.int64: "I64"}
    header, chunks, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        header[name] = {"dtype": names[a.dtype.type], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        chunks.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def broken_copy(tmp_path, edit):
    folder = tmp_path / "te"
    folder.mkdir()
    shutil.copy(os.path.join(DATA, "first_eos", "config.json"), folder / "config.json")
    tensors = read_safetensors(os.path.join(DATA, "first_eos", "model.safetensors"))
    edit(tensors)
    write_safetensors(folder / "model.safetensors", tensors)
    return str(folder)


def test_checkpoint_holds_exactly_the_expected_keys():
    with open(os.path.join(DATA, "first_eos", "config.json")) as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(DATA, "first_eos", "model.safetensors"))
    expected = CLIPTextModelWithProjection.expected_keys(config)
    assert sorted(expected) == sorted((k, v.shape) for k, v in tensors.items())


def test_roundtrip_of_test_writer_loads(tmp_path):
    folder = broken_copy(tmp_path, lambda t: None)
    ref = reference("first_eos")
    out = CLIPTextModelWithProjection.from_pretrained(folder)(ref["input_ids"], attention_mask=ref["attention_mask"])
    assert rel_err(out.text_embeds, ref["text_embeds"]) < TOL


def test_position_ids_buffer_is_ignored(tmp_path):
    def add(t):
        t["text_model.embeddings.position_ids"] = np.arange(77, dtype=np.int64)[None]

    CLIPTextModelWithProjection.from_pretrained(broken_copy(tmp_path, add))


def test_wrong_shape_names_file_and_tensor(tmp_path):
    name = "text_model.encoder.layers.1.mlp.fc1.weight"

    def transpose(t):
        t[name] = np.ascontiguousarray(t[name].T)

    with pytest.raises(ValueError, match=r"model\.safetensors.*" + name.replace(".", r"\.") + r".*\[16, 37\]"):
        CLIPTextModelWithProjection.from_pretrained(broken_copy(tmp_path, transpose))


def test_missing_tensor_is_named(tmp_path):
    name = "text_model.final_layer_norm.bias"
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        CLIPTextModelWithProjection.from_pretrained(broken_copy(tmp_path, lambda t: t.pop(name)))


def test_unexpected_tensor_names_file_and_tensor(tmp_path):
    def add(t):
        t["text_model.encoder.layers.2.mlp.fc1.bias"] = np.zeros(37, np.float32)

    with pytest.raises(ValueError, match=r"model\.safetensors.*layers\.2\.mlp\.fc1\.bias"):
        CLIPTextModelWithProjection.from_pretrained(broken_copy(tmp_path, add))


def test_missing_files_and_devices(tmp_path):
    with pytest.raises(FileNotFoundError):
        CLIPTextModelWithProjection.from_pretrained(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="config.json"):
        CLIPTextModelWithProjection.from_pretrained(str(tmp_path))
    shutil.copy(os.path.join(DATA, "first_eos", "config.json"), tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="model"):
        CLIPTextModelWithProjection.from_pretrained(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        CLIPTextModelWithProjection.from_pretrained(os.path.join(DATA, "first_eos"), variant="fp16")
    with pytest.raises(ValueError, match="device"):
        CLIPTextModelWithProjection.from_pretrained(os.path.join(DATA, "first_eos"), device="tpu")


@pytest.mark.parametrize("edit, message", [
    ({"hidden_act": "gelu_new"}, "hidden_act"),
    ({"num_attention_heads": 5}, "divisible"),
    ({"num_hidden_layers": 0}, "num_hidden_layers"),
    ({"layer_norm_eps": -1.0}, "layer_norm_eps"),
    ({"eos_token_id": [2]}, "eos_token_id"),
])
def test_bad_config(tmp_path, edit, message):
    folder = broken_copy(tmp_path, lambda t: None)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    config.update(edit)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match=message):
        CLIPTextModelWithProjection.from_pretrained(folder)


def test_bad_inputs(models):
    te = models["first_eos"]
    ids = reference("first_eos")["input_ids"]
    with pytest.raises(ValueError, match="vocabulary"):
        te(np.where(ids == 500, 1000, ids))
    with pytest.raises(ValueError, match="vocabulary"):
        te(-ids)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        te(np.ones((1, 78), np.int64))
    with pytest.raises(ValueError, match="integers"):
        te(ids.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        te(ids[None])
    with pytest.raises(ValueError, match="attention_mask"):
        te(ids, attention_mask=np.ones((4, 11), np.int64))
    with pytest.raises(ValueError):
        te(np.zeros((0, 12), np.int64))
