"""Write the CLIP tokenizer folder (vocab.json, merges.txt, tokenizer_config.json,
special_tokens_map.json) that tests/data/tokenizer/clip/ holds, from OpenAI's
bpe_simple_vocab_16e6.txt.gz.

The BPE file ships inside the open-clip-torch wheel (and openai/CLIP); it is read from the
installed package without importing it (importing open_clip would pull in torch):

    /work/refenv/bin/python tools/make_clip_vocab.py [--bpe PATH] [--out tests/data/tokenizer/clip]

Id layout (spec clip_stage_a_weights.md §1.2): ids 0..255 are the 256 byte characters in
byte-to-unicode table order, 256..511 the same characters followed by "</w>", then one id per
merge in rank order, then <|startoftext|> and <|endoftext|>. The configs reproduce what a
CLIP-ViT-bigG tokenizer saved by transformers' save_pretrained looks like (pad token
<|endoftext|>, model_max_length 77, added_tokens_decoder with the flags seen in published
bigG folders: <|startoftext|> normalized, <|endoftext|> not normalized).
"""
import argparse
import gzip
import hashlib
import importlib.util
import json
import os

N_MERGES = 48894  # CLIP uses the first 49152 - 256 - 2 merge lines of the file
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable character table, in insertion order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def default_bpe_path() -> str:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("open_clip is not installed: pass --bpe PATH to bpe_simple_vocab_16e6.txt.gz")
    return os.path.join(list(spec.submodule_search_locations)[0], "bpe_simple_vocab_16e6.txt.gz")


def read_merges(path: str) -> list[str]:
    raw = open(path, "rb").read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != BPE_SHA256:
        raise SystemExit(f"{path}: sha256 {digest} is not the OpenAI file's {BPE_SHA256}")
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    return lines[1 : 1 + N_MERGES]


def build_vocab(merges: list[str]) -> dict[str, int]:
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + [m.replace(" ", "") for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise SystemExit("duplicate token in the derived vocabulary")
    return vocab


def special(content: str, normalized: bool) -> dict:
    return {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False, "single_word": False}


def write_folder(out: str, vocab: dict[str, int], merges: list[str]) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    bos, eos = "<|startoftext|>", "<|endoftext|>"
    config = {
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(vocab[bos]): dict(special(bos, True), special=True),
            str(vocab[eos]): dict(special(eos, False), special=True),
        },
        "bos_token": bos,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": eos,
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": eos,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": eos,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    tokens_map = {"bos_token": special(bos, True), "eos_token": special(eos, False), "pad_token": eos,
                  "unk_token": special(eos, False)}
    with open(os.path.join(out, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(tokens_map, f, indent=2, sort_keys=True)
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bpe", default=None, help="path to bpe_simple_vocab_16e6.txt.gz (default: open_clip's copy)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tokenizer", "clip"))
    args = ap.parse_args()
    merges = read_merges(args.bpe or default_bpe_path())
    vocab = build_vocab(merges)
    if vocab["in"] != 512 or vocab["jekyll</w>"] != 49405 or len(vocab) != 49408:
        raise SystemExit("derived vocabulary does not have the documented CLIP id layout")
    write_folder(args.out, vocab, merges)
    print(f"wrote {args.out}: {len(vocab)} tokens, {len(merges)} merges")


if __name__ == "__main__":
    main()
