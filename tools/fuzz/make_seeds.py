"""Write the libFuzzer seed corpus tests/data/fuzz/{json,safetensors,tokenizer}/ from the test
suite's own documents (valid ones plus a few hostile ones) and small tokenizer folders. Run from
the repository root:

    PYTHONPATH=.:tests python3 tools/fuzz/make_seeds.py

The committed corpus is these seeds merged with what fuzzing found (tools/fuzz/run.sh --merge,
docs/reliability.md).
"""
import gzip
import hashlib
import json
import os
import shutil

from test_json import INVALID, VALID
from test_safetensors import HOSTILE, fuzz_seeds
from tokenizer_folders import CLIP_DIR, read_merges

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_corpus(name, documents):
    folder = os.path.join(ROOT, "tests", "data", "fuzz", name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for data in documents:
        if len(data) > 4096:  # run.sh caps inputs at 4 KiB
            continue
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)


SEPARATOR = b"\n#--8<--#\n"  # between the files of one tokenizer input (tools/fuzz/fuzz_tokenizer.c)
SPECIALS = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>"}


def small_bpe():
    """A vocabulary of the letters (alone and word-final) and the CLIP merges among the first 100
    that they can build, plus the two special tokens: a valid folder of about 2 KiB."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = list(letters) + [c + "</w>" for c in letters]
    merges = []
    for left, right in read_merges(CLIP_DIR)[:100]:
        if left in tokens and right in tokens and left + right not in tokens:
            merges.append((left, right))
            tokens.append(left + right)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges


def tokenizer_inputs():
    vocab, merges = small_bpe()
    merges_txt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    configs = [
        {},
        {"tokenizer_config.json": dict(SPECIALS, model_max_length=77)},
        {"tokenizer_config.json": dict(SPECIALS, padding_side="left", truncation_side="left", model_max_length=8)},
        {"tokenizer_config.json": {"model_max_length": 1e30, "added_tokens_decoder": {
            str(len(vocab)): {"content": "<Cat>", "lstrip": False, "rstrip": True, "normalized": True,
                              "single_word": False, "special": False}}}},
        {"tokenizer_config.json": {"unk_token": None}, "special_tokens_map.json": {
            "pad_token": {"content": "!", "lstrip": True, "rstrip": False, "normalized": False, "single_word": False}}},
    ]
    out = []
    for extra in configs:
        config = [json.dumps(extra[name]).encode() if name in extra else None
                  for name in ("tokenizer_config.json", "special_tokens_map.json")]
        files = [json.dumps(vocab, ensure_ascii=False).encode(), merges_txt.encode()] + config
        out.append(b"\x01" + SEPARATOR.join(f for f in files if f is not None))
        model = {"type": "BPE", "unk_token": "<|endoftext|>", "end_of_word_suffix": "</w>", "vocab": vocab,
                 "merges": [list(m) for m in merges] if len(out) % 2 else [" ".join(m) for m in merges]}
        doc = {"added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "special": True}],
               "model": model}
        out.append(b"\x02" + SEPARATOR.join(f for f in [json.dumps(doc).encode()] + config if f is not None))
    # broken ones: a duplicate token, a merge of unknown parts, a bad config value
    broken_vocab = json.dumps(vocab)[:-1] + ', "a": 3}'
    out.append(b"\x01" + SEPARATOR.join([broken_vocab.encode(), merges_txt.encode()]))
    out.append(b"\x01" + SEPARATOR.join([json.dumps(vocab).encode(), b"#version: 0.2\nq zz\n\nt h \r\n"]))
    out.append(b"\x01" + SEPARATOR.join([json.dumps(vocab).encode(), merges_txt.encode(), b'{"padding_side": 3}']))
    # texts for the CLIP tokenizer: every 40th prompt of the reference corpus, and edge cases
    with gzip.open(os.path.join(os.path.dirname(CLIP_DIR), "corpus.json.gz"), "rt", encoding="utf-8") as f:
        prompts = json.load(f)["prompts"][::40]
    edge = ["", " ", "\x00", "a\x00b", "<|startoftext|>a<|endoftext|>", "e\u0301" * 40, "\ud7ff\ue000\U0010ffff",
            "'s'S'll 123 ١٢٣ ａｂｃ", "\t\n\r\x0b\x0c\x85\u2028", "👩‍👩‍👧‍👦" * 10]
    out += [b"\x00" + t.encode("utf-8", "surrogatepass") for t in prompts + edge]
    out += [b"\x00\xff\xfe", b"\x00\xc0\xaf", b"\x00\xed\xa0\x80", b"\x00\xf4\x90\x80\x80"]  # invalid UTF-8
    return out


def main():
    write_corpus("json", VALID + INVALID[::4])
    write_corpus("safetensors", fuzz_seeds() + [data for _, data, _ in HOSTILE[::3]])
    write_corpus("tokenizer", tokenizer_inputs())


if __name__ == "__main__":
    main()
