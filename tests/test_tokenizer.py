"""The C CLIP tokenizer against transformers' CLIPTokenizer (tokenizers backend, i.e. the "fast"
tokenizer): ids and masks recorded by tools/make_ref_tokenizer.py in
tests/data/tokenizer/corpus.json.gz, from the folder tests/data/tokenizer/clip."""
import gzip
import json
import os
import shutil
import threading

import numpy as np
import pytest

from stable_cascade_c import CLIPTokenizer
from tokenizer_folders import CLIP_DIR, make_variant, write_tokenizer_json

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tokenizer", "corpus.json.gz")


@pytest.fixture(scope="module")
def corpus():
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def tok():
    return CLIPTokenizer.from_pretrained(CLIP_DIR)


def assert_rows_equal(prompts, got_ids, got_mask, want_ids, want_mask):
    want_ids, want_mask = np.asarray(want_ids, dtype=np.int64), np.asarray(want_mask, dtype=np.int64)
    assert got_ids.dtype == np.int64 and got_mask.dtype == np.int64
    assert got_ids.shape == want_ids.shape and got_mask.shape == want_mask.shape
    bad = np.nonzero((got_ids != want_ids).any(1) | (got_mask != want_mask).any(1))[0]
    details = [f"{prompts[i]!r}: got {got_ids[i].tolist()} want {want_ids[i].tolist()}" for i in bad[:5]]
    assert not len(bad), f"{len(bad)} of {len(prompts)} rows differ:\n" + "\n".join(details)


def test_corpus_matches_reference(tok, corpus):
    assert len(corpus["prompts"]) >= 2000
    enc = tok(corpus["prompts"])
    assert_rows_equal(corpus["prompts"], enc["input_ids"], enc["attention_mask"], corpus["input_ids"],
                      corpus["attention_mask"])


def test_single_prompts_match_batch(tok, corpus):
    prompts = corpus["prompts"]
    batch = tok(prompts)
    for i in range(0, len(prompts), 3):
        single = tok(prompts[i])
        assert single["input_ids"].shape == (1, 77)
        np.testing.assert_array_equal(single["input_ids"][0], batch["input_ids"][i], err_msg=repr(prompts[i]))
        np.testing.assert_array_equal(single["attention_mask"][0], batch["attention_mask"][i])


def test_encode_without_special_tokens(tok, corpus):
    case = corpus["encode"]
    for i, want in zip(case["prompt_indices"], case["ids"]):
        assert tok.encode(corpus["prompts"][i]) == want, repr(corpus["prompts"][i])


def test_max_length_argument(tok, corpus):
    case = corpus["max_length_cases"]
    prompts = [corpus["prompts"][i] for i in case["prompt_indices"]]
    enc = tok(prompts, max_length=case["max_length"])
    assert_rows_equal(prompts, enc["input_ids"], enc["attention_mask"], case["input_ids"], case["attention_mask"])


@pytest.mark.parametrize("name", ["legacy_objects", "pad_exclamation", "normalized_strip_left"])
def test_folder_variants(corpus, tmp_path, name):
    """Other config styles: legacy AddedToken objects + special_tokens_map.json, SDXL's "!" pad
    token, normalised special tokens with lstrip/rstrip, left padding and truncation."""
    variant = corpus["variants"][name]
    make_variant(str(tmp_path), variant["files"])
    vt = CLIPTokenizer.from_pretrained(tmp_path)
    prompts = [corpus["prompts"][i] for i in variant["prompt_indices"]]
    enc = vt(prompts, max_length=77)
    assert_rows_equal(prompts, enc["input_ids"], enc["attention_mask"], variant["input_ids"], variant["attention_mask"])


@pytest.mark.parametrize("merges_as_pairs", [True, False])
def test_tokenizer_json_folder(corpus, tmp_path, merges_as_pairs):
    write_tokenizer_json(CLIP_DIR, str(tmp_path), merges_as_pairs=merges_as_pairs)
    assert sorted(os.listdir(tmp_path)) == ["tokenizer.json"]
    jt = CLIPTokenizer.from_pretrained(tmp_path)
    assert (jt.vocab_size, jt.model_max_length, jt.pad_token_id) == (49408, 77, 49407)
    enc = jt(corpus["prompts"])
    assert_rows_equal(corpus["prompts"], enc["input_ids"], enc["attention_mask"], corpus["input_ids"],
                      corpus["attention_mask"])


def test_spec_vectors(tok):
    """The hand-checked table of spec clip_stage_a_weights.md §1.6."""
    cases = {
        "a photo of a cat": [320, 1125, 539, 320, 2368],
        "A photo of a cat.": [320, 1125, 539, 320, 2368, 269],
        "": [],
        "Hello, World!": [3306, 267, 1002, 256],
        "! !! !!!": [256, 748, 995],
        "an image of a shiba inu, donning a spacesuit and helmet":
            [550, 2867, 539, 320, 823, 1792, 512, 340, 267, 1067, 762, 320, 7857, 3940, 537, 11122],
        "don't stop 2024 café  naïve": [847, 713, 1691, 273, 271, 273, 275, 15304, 1097, 35689, 563],
        "1024x1024 photo": [272, 271, 273, 275, 343, 272, 271, 273, 275, 1125],
        "it\u2019s": [585, 728, 503, 338],
        "it's": [585, 568],
        "été": [3459, 39694],
        "e\u0301te\u0301": [3459, 39694],
        "  multiple   spaces\tand\nnewlines  ": [6470, 9006, 537, 1218, 3418],
        "<|endoftext|>": [49407],
    }
    for text, content in cases.items():
        enc = tok(text)
        n = len(content) + 2
        assert enc["input_ids"][0, :n].tolist() == [49406] + content + [49407], repr(text)
        assert (enc["input_ids"][0, n:] == 49407).all() and enc["attention_mask"][0].tolist() == [1] * n + [0] * (77 - n)
    long = tok(" ".join(f"word{i}" for i in range(60)))
    assert long["attention_mask"].all() and long["input_ids"][0, -1] == 49407


def test_properties(tok):
    assert (tok.vocab_size, len(tok), tok.model_max_length) == (49408, 49408, 77)
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == (
        "<|startoftext|>", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>")
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id) == (49406, 49407, 49407, 49407)
    enc = tok([])
    assert enc["input_ids"].shape == (0, 77) and enc["attention_mask"].shape == (0, 77)


def test_bad_arguments(tok):
    with pytest.raises(ValueError, match="max_length"):
        tok("a cat", max_length=1)
    with pytest.raises(TypeError):
        tok(["a cat", 3])
    with pytest.raises(TypeError):
        tok.encode(b"a cat")
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8 form
        tok("a \ud800 cat")


def test_threads_share_one_tokenizer(tok, corpus):
    prompts = corpus["prompts"]
    want = tok(prompts)["input_ids"]
    results, errors = {}, []

    def work(k):
        try:
            results[k] = tok(prompts[k::4] + prompts)["input_ids"][len(prompts[k::4]):]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(4):
        np.testing.assert_array_equal(results[k], want)


# ---- broken folders ---------------------------------------------------------------------------

def clip_copy(tmp_path):
    for name in os.listdir(CLIP_DIR):
        shutil.copyfile(os.path.join(CLIP_DIR, name), tmp_path / name)
    return tmp_path


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


@pytest.mark.parametrize("content, match", [
    ('{"a": 0, ', r"vocab\.json"),
    ('["a", "b"]', r"vocab\.json.*object"),
    ('{"a": -1}', r"vocab\.json.*'a'"),
    ('{"a": 1.5}', r"vocab\.json.*'a'"),
    ('{"a": 0, "a": 1}', r"vocab\.json.*'a'.*twice"),
    ('{"a": 0}', r"merges\.txt.*not in the vocabulary"),
])
def test_broken_vocab(tmp_path, content, match):
    write(clip_copy(tmp_path) / "vocab.json", content)
    with pytest.raises(ValueError, match=match):
        CLIPTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("content, match", [
    ("#version: 0.2\ni n\n\nt h\n", r"merges\.txt: line 3 "),
    ("#version: 0.2\ni n\nt  h\n", r"merges\.txt: line 3 "),
    ("#version: 0.2\ni n x\n", r"merges\.txt: line 2 "),
    ("#version: 0.2\ni nope\n", r"merges\.txt: line 2 \('i nope'\): right part 'nope' is not in the vocabulary"),
    ("#version: 0.2\nt h\u00e9\n", r"merges\.txt.*not in the vocabulary"),
    (b"#version: 0.2\ni n\xff\n", r"merges\.txt: invalid UTF-8"),
])
def test_broken_merges(tmp_path, content, match):
    folder = clip_copy(tmp_path)
    if isinstance(content, bytes):
        (folder / "merges.txt").write_bytes(content)
    else:
        write(folder / "merges.txt", content)
    with pytest.raises(ValueError, match=match):
        CLIPTokenizer.from_pretrained(folder)


def test_merges_line_endings(tmp_path, tok):
    """CRLF line ends and a missing final newline are fine, as in tokenizers."""
    folder = clip_copy(tmp_path)
    text = open(os.path.join(CLIP_DIR, "merges.txt"), encoding="utf-8").read()
    write(folder / "merges.txt", text.rstrip("\n").replace("\n", "\r\n"))
    other = CLIPTokenizer.from_pretrained(folder)
    prompt = "a chubby hamster climbing a mountain, ultra detailed"
    np.testing.assert_array_equal(other(prompt)["input_ids"], tok(prompt)["input_ids"])


def test_broken_tokenizer_json(tmp_path):
    write_tokenizer_json(CLIP_DIR, str(tmp_path))
    path = tmp_path / "tokenizer.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["model"]["merges"][5] = ["i", "n", "x"]
    write(path, json.dumps(doc))
    with pytest.raises(ValueError, match=r"tokenizer\.json: model\.merges\[5\]"):
        CLIPTokenizer.from_pretrained(tmp_path)
    doc["model"]["merges"][5] = "no_such_token n"
    write(path, json.dumps(doc))
    with pytest.raises(ValueError, match=r"tokenizer\.json: model\.merges index 5 .*left part 'no_such_token' is not in the vocabulary"):
        CLIPTokenizer.from_pretrained(tmp_path)
    write(path, '{"model": {"type": "BPE", "vocab": {}, "merges": []')
    with pytest.raises(ValueError, match=r"tokenizer\.json"):
        CLIPTokenizer.from_pretrained(tmp_path)
    write(path, '{"model": {"type": "WordPiece", "vocab": {}}}')
    with pytest.raises(ValueError, match=r"tokenizer\.json: model type"):
        CLIPTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("config, match", [
    ('{"model_max_length": 77', r"tokenizer_config\.json"),
    ('{"padding_side": "middle"}', r"tokenizer_config\.json: padding_side"),
    ('{"pad_token": 3}', r"tokenizer_config\.json: pad_token"),
    ('{"pad_token": null}', r"pad_token is null"),
    ('{"added_tokens_decoder": {"x": {"content": "<x>"}}}', r"tokenizer_config\.json: added_tokens_decoder key 'x'"),
    ('{"added_tokens_decoder": {"49408": {"content": "<x>", "lstrip": 1}}}', r"tokenizer_config\.json: \"lstrip\""),
    ('{"added_tokens_decoder": {"49408": {"content": "<x>", "single_word": true}}}', r"single_word"),
])
def test_broken_config(tmp_path, config, match):
    folder = clip_copy(tmp_path)
    os.remove(folder / "special_tokens_map.json")  # it would override the named tokens here
    write(folder / "tokenizer_config.json", config)
    with pytest.raises(ValueError, match=match):
        CLIPTokenizer.from_pretrained(folder)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        CLIPTokenizer.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="vocab.json"):
        CLIPTokenizer.from_pretrained(tmp_path)
    shutil.copyfile(os.path.join(CLIP_DIR, "vocab.json"), tmp_path / "vocab.json")
    with pytest.raises(FileNotFoundError, match=r"merges\.txt"):
        CLIPTokenizer.from_pretrained(tmp_path)


def test_added_token_outside_vocabulary(tmp_path, tok):
    """An added token not in vocab.json gets the id of its added_tokens_decoder entry and is
    matched before BPE (here case-insensitively, as it is normalised)."""
    folder = clip_copy(tmp_path)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["added_tokens_decoder"]["49408"] = {"content": "<Cat>", "lstrip": False, "rstrip": False,
                                               "normalized": True, "single_word": False, "special": False}
    write(folder / "tokenizer_config.json", json.dumps(config))
    added = CLIPTokenizer.from_pretrained(folder)
    assert added.vocab_size == 49409
    assert added.encode("a <CAT>photo") == [320, 49408] + tok.encode("photo")
