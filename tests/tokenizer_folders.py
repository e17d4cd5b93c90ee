"""Build tokenizer folder variants from the committed CLIP folder (tests/data/tokenizer/clip).

Shared by the tests and by tools/make_ref_tokenizer.py (which checks with transformers that
each variant tokenizes as recorded), so both use exactly the same files. Pure Python: no
transformers here.
"""
import json
import os
import shutil

CLIP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tokenizer", "clip")
CLIP_REGEX = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def read_merges(folder: str) -> list[tuple[str, str]]:
    with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]


def write_tokenizer_json(src: str, out: str, merges_as_pairs: bool = True) -> None:
    """A tokenizer.json-only folder equivalent to `src` (vocab.json + merges.txt + configs), laid
    out as the tokenizers library serialises CLIP (merges as ["a", "b"] pairs in newer versions,
    "a b" strings in older ones)."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(src, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    merges = read_merges(src)
    added = [
        dict(id=int(i), content=t["content"], single_word=t["single_word"], lstrip=t["lstrip"], rstrip=t["rstrip"],
             normalized=t["normalized"], special=t["special"])
        for i, t in sorted(config["added_tokens_decoder"].items(), key=lambda kv: int(kv[0]))
    ]
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_REGEX}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", vocab["<|endoftext|>"]],
                           "cls": ["<|startoftext|>", vocab["<|startoftext|>"]], "trim_offsets": False,
                           "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab,
                  "merges": [list(m) for m in merges] if merges_as_pairs else [" ".join(m) for m in merges]},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


def make_variant(out: str, files: dict) -> None:
    """vocab.json + merges.txt of the CLIP folder with the given config files ({name: JSON})."""
    os.makedirs(out, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(CLIP_DIR, name), os.path.join(out, name))
    for name, content in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(content, f, indent=2)
