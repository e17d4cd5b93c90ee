"""Every input of the committed fuzz corpus (tests/data/fuzz/, grown by tools/fuzz/merge.sh after
libFuzzer runs) through the Python entry points: the same result as before or a clear exception,
never a crash. The libFuzzer harnesses (tools/fuzz/) check the C entry points with sanitizers;
this replays what they found in the normal build on every test run.

Regression inputs of fuzzer findings are in the corpus too (docs/reliability.md lists them)."""
import json
import os

import numpy as np
import pytest

from stable_cascade_c import CLIPTokenizer, _C
from stable_cascade_c.safetensors import load_file, validate_bytes
from tokenizer_folders import CLIP_DIR

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fuzz")
SEPARATOR = b"\n#--8<--#\n"  # tools/fuzz/fuzz_tokenizer.c
TOKENIZER_FILES = {1: ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"],
                   2: ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]}


def corpus(target):
    folder = os.path.join(CORPUS, target)
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            yield name, f.read()


def test_corpora_are_there():
    for target in ("json", "safetensors", "tokenizer"):
        assert len(list(corpus(target))) >= 20, target


def test_json_corpus_matches_python_json():
    """Accepted documents decode like Python's json (the parser is stricter: it may reject more)."""
    accepted = 0
    for name, data in corpus("json"):
        try:
            got = _C._json_parse(data)
        except ValueError:
            continue
        accepted += 1
        assert got == json.loads(data.decode("utf-8")), name
    assert accepted >= 10


def test_safetensors_corpus(tmp_path):
    path = tmp_path / "model.safetensors"
    accepted = 0
    for name, data in corpus("safetensors"):
        try:
            entries, _ = validate_bytes(data)
        except ValueError:
            continue
        accepted += 1
        path.write_bytes(data)
        try:
            tensors = load_file(str(path))
        except ValueError as exc:  # a well-formed tensor of a dtype that cannot be read
            assert "dtype" in str(exc), (name, exc)
            continue
        assert set(tensors) == set(entries), name
    assert accepted >= 5


@pytest.fixture(scope="module")
def clip():
    return CLIPTokenizer.from_pretrained(CLIP_DIR)


def check_rows(tok, out, n):
    ids, mask = out["input_ids"], out["attention_mask"]
    assert ids.shape == mask.shape and ids.shape[0] == n
    assert ((0 <= ids) & (ids < tok.vocab_size)).all() and set(np.unique(mask)) <= {0, 1}
    for row, m in zip(ids, mask):
        real = np.flatnonzero(m)
        assert len(real) >= 2 and real[-1] - real[0] + 1 == len(real)
        assert row[real[0]] == tok.bos_token_id and row[real[-1]] == tok.eos_token_id
        assert (row[m == 0] == tok.pad_token_id).all()


def test_tokenizer_corpus(tmp_path, clip):
    loaded = 0
    for name, data in corpus("tokenizer"):
        if not data:
            continue
        mode, rest = data[0] % 3, data[1:]
        text = rest.decode("utf-8", "replace")  # Python strings hold only valid Unicode
        if mode == 0:
            check_rows(clip, clip([text, ""]), 2)
            continue
        folder = tmp_path / name
        folder.mkdir()
        for file, content in zip(TOKENIZER_FILES[mode], rest.split(SEPARATOR, len(TOKENIZER_FILES[mode]) - 1)):
            (folder / file).write_bytes(content)
        try:
            tok = CLIPTokenizer.from_pretrained(folder)
        except (ValueError, OSError) as exc:
            assert str(folder) in str(exc), (name, exc)
            continue
        loaded += 1
        try:
            out = tok([text, "a photo of a cat", ""], max_length=16)
        except ValueError as exc:  # a byte with no token, and no unknown token to stand for it
            assert "has no token and the unknown token" in str(exc), (name, exc)
            continue
        check_rows(tok, out, 3)
    assert loaded >= 5


def test_empty_text_is_start_end_and_padding(clip):
    """Regression: the first finding of fuzz_tokenizer (an empty text took NULL + 0 in
    sc_tokenizer_encode_batch, undefined behaviour that UBSan reports)."""
    out = clip(["", " \t\n"], max_length=5)
    np.testing.assert_array_equal(out["input_ids"], [[49406, 49407, 49407, 49407, 49407]] * 2)
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 0, 0, 0]] * 2)
