"""Reference token ids for tests/test_tokenizer.py, from transformers' CLIPTokenizer (in
transformers 5 that name is the tokenizers-backed "fast" tokenizer; CLIPTokenizerFast is an
alias) loaded from the committed folder tests/data/tokenizer/clip.

Writes tests/data/tokenizer/corpus.json.gz:
  prompts, input_ids, attention_mask     tok(prompts, padding="max_length", max_length=77, truncation=True)
  encode                                  tok(p, add_special_tokens=False) ids for a subset (no truncation)
  max_length_cases                        the same call with max_length=16 on a subset
  variants                                other tokenizer folders (config files given inline; the
                                          tokenizer.json-only variants are built by
                                          tests/tokenizer_folders.py) with their ids on a subset
  slow_differences                        where the former slow (pure Python, ftfy) CLIPTokenizer
                                          of transformers 4 gives other ids, re-implemented here

The corpus is deterministic (fixed seeds) and has >= 2,000 prompts: plain English, punctuation,
digits, contractions in any case, whitespace runs, accents in NFC and NFD, stacked combining
marks, emoji (modifiers, ZWJ sequences, flags, keycaps), CJK, Hangul (syllables and jamo),
Arabic, Hebrew, Cyrillic, Greek, Devanagari, Thai, Vietnamese, case-mapping oddities, prompts
far over 77 tokens, empty and whitespace-only prompts, typed special-token strings, random
code points, and a systematic pass over every decomposable, lowercase-mapped and combining
character of the Unicode tables.

    /work/refenv/bin/python tools/make_ref_tokenizer.py
"""
import gzip
import json
import os
import random
import sys
import tempfile
import unicodedata

import ftfy
import regex
import tokenizers
import transformers
from transformers import CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from tokenizer_folders import CLIP_DIR, make_variant, write_tokenizer_json  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "data", "tokenizer", "corpus.json.gz")
MAX_LENGTH = 77

WORDS = """a an the of in on at with by from to for under over above below near inside outside beside
between photo painting drawing sketch render portrait landscape close-up shot picture image illustration
cat dog fox owl horse dragon robot astronaut knight wizard princess city castle forest mountain river ocean
lake desert village street garden kitchen library spaceship planet moon sun sky cloud storm rain snow fire
light shadow sunset sunrise night morning golden hour neon cyberpunk steampunk baroque renaissance gothic
minimalist abstract surreal vintage retro futuristic ancient medieval modern rustic cozy dramatic cinematic
epic majestic serene peaceful chaotic colorful vibrant pastel monochrome dark bright soft sharp detailed
intricate ornate elegant simple beautiful ugly tiny huge giant small tall old young happy sad angry calm
red orange yellow green blue purple pink brown black white gray silver gold crystal glass metal wooden stone
oil watercolor acrylic charcoal pencil ink digital art concept trending artstation unreal engine octane
render 8k 4k hdr ultra realistic photorealistic hyperrealistic highly quality masterpiece best volumetric
lighting depth field bokeh lens wide angle macro telephoto studio award winning by greg rutkowski alphonse
mucha studio ghibli pixar disney anime manga comic style wearing holding riding flying running sitting
standing dancing reading eating sleeping chubby hamster climbing anthropomorphic dressed as pilot""".split()

CONTRACTIONS = ["don't", "it's", "I'm", "you're", "we've", "they'll", "she'd", "can't", "won't", "isn't",
                "that's", "let's", "who'd", "we'll", "y'all", "o'clock", "rock'n'roll", "'tis", "'twas"]
PUNCT = list(",.!?;:-()[]{}\"'/\\|@#$%^&*_+=~`<>") + ["...", "--", "—", "–", "«", "»", "“", "”", "‘", "’",
                                                     "¡", "¿", "…", "•", "©", "®", "™", "°", "±", "§", "¶"]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", " \t \n ", "\u00a0", "\u3000", "\u2003", "\u2009", "\u202f", "\u205f",
              "\u1680", "\u0085", "\u2028", "\u2029", "\x0b", "\x0c", "\u180e", "\u200b", "\ufeff", "\u2060"]
ACCENTED = ["café", "naïve", "résumé", "Zürich", "São Paulo", "Ångström", "Dvořák", "Łódź", "façade", "crème brûlée",
            "Škoda", "Ærøskøbing", "Þingvellir", "Ğ", "İstanbul", "ıi", "straße", "STRASSE", "ẞ", "Ελληνικά",
            "ΣΊΣΥΦΟΣ", "ὈΔΥΣΣΕΎΣ", "ΐ", "ǅemal", "ǈ", "Ǳ", "K-degree", "Ω-ohm", "Å-angstrom", "ﬁne ﬂour",
            "Ｆｕｌｌｗｉｄｔｈ", "ｶﾀｶﾅ", "①②③", "Ⅻ", "½ ¾", "x²", "ℌ", "ℕ"]
SCRIPTS = {
    "cjk": ["一只可爱的猫坐在窗台上", "山水画，水墨，宋代风格", "東京の夜景、ネオン、雨", "ひらがなとカタカナ",
            "漢字仮名交じり文", "中文、日本語、한국어", "龍が空を飛ぶ", "𠀀𠀁𪜀 ext-B chars", "〇〡〢 numbers"],
    "hangul": ["고양이가 창문에 앉아 있다", "서울의 밤", "한글 자모 \u1100\u1161\u11a8 \u1112\u1161\u11ab",
               "\u1100\u1161 \u1103\u1165\u11af", "ㄱㄴㄷ compatibility jamo"],
    "arabic": ["قطة لطيفة تجلس على النافذة", "مَرْحَبًا بِكُمْ", "بِسْمِ ٱللَّٰهِ", "١٢٣ ٤٥٦", "فارسی ۱۲۳"],
    "hebrew": ["חתול חמוד", "שָׁלוֹם עֲלֵיכֶם", "בְּרֵאשִׁית"],
    "cyrillic": ["Кошка сидит на окне", "МОСКВА ЗИМОЙ", "Ёжик в тумане", "Їжак", "Ђорђе"],
    "greek": ["Η γάτα κάθεται", "ΑΘΗΝΑ", "ῥῆμα", "ᾅδης"],
    "devanagari": ["बिल्ली खिड़की पर बैठी है", "नमस्ते दुनिया", "क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़", "क\u093c ड\u093c", "१२३४"],
    "thai": ["แมวน่ารักนั่งอยู่ที่หน้าต่าง", "กรุงเทพมหานคร ๑๒๓"],
    "vietnamese": ["Tiếng Việt có dấu", "phở bò Hà Nội", "Nguyễn Văn Ẩn", "ở đâu? ệ ộ ữ"],
    "other": ["ქართული ენა", "Հայերեն", "ᏣᎳᎩ", "ᐃᓄᒃᑎᑐᑦ", "ትግርኛ", "ꦗꦮ", "𐌰𐌱𐌲 gothic", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛",
              "𝐁𝐨𝐥𝐝", "ⓐⓑⓒ", "Ⓐ", "ꙮ", "\U0001e900\U0001e922 adlam", "\U00010d50\U00010d70 garay",
              "\ua7ce\ua7cf"],
}
EMOJI = ["😀", "🐱", "🐶", "🚀", "🌈", "🔥", "✨", "❤️", "❤", "👍", "👍🏽", "👩🏿‍🚀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🏴‍☠️",
         "🇫🇷", "🇯🇵🇺🇸", "1️⃣", "#️⃣", "🧑‍💻", "🫠", "🥹", "🪿", "☕", "⚡", "⭐", "🏔️", "🌊", "🎨", "🖼️", "📷"]
SPECIALS = ["<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>", "<|StartOfText|>", "foo<|endoftext|>bar",
            "!!<|endoftext|>", "<|endoftext|>!!", "<|endoftext", "endoftext|>", "< |endoftext| >",
            "<|endoftext|><|endoftext|>", "<|startoftext|>a photo<|endoftext|>", "<|endoftext|>\u0301",
            "\u00a0<|endoftext|>\u00a0", " <|endoftext|> ", "\t<|startoftext|>\n", "<|endoftext|>'s",
            "<|endoftext|>123", "<|end<|endoftext|>oftext|>", "<||>", "<|>", "|endoftext|"]


def word(rng):
    return rng.choice(WORDS)


def sentence(rng, n):
    return " ".join(word(rng) for _ in range(n))


def random_case(rng, s):
    return "".join(c.upper() if rng.random() < 0.3 else c for c in s)


def general_prompts(rng):
    out = ["", " ", "  ", "\t", "\n", "\r\n", " \t\n ", "\u3000", "\u00a0", "\u2003\u2003", "a", "A", ".", "!", "1",
           "a photo of a cat", "A photo of a cat.", "Hello, World!", "! !! !!!", "don't stop 2024 café  naïve",
           "it\u2019s", "it's", "été", "e\u0301te\u0301", "  multiple   spaces\tand\nnewlines  ", "1024x1024 photo",
           "an image of a shiba inu, donning a spacesuit and helmet", "Anthropomorphic cat dressed as a pilot",
           "a chubby hamster climbing a mountain"]
    out += [" ".join(f"word{i}" for i in range(60))]
    for _ in range(400):  # plain English prompts
        p = sentence(rng, rng.randint(3, 25))
        if rng.random() < 0.5:
            p = p[0].upper() + p[1:]
        if rng.random() < 0.4:
            p += rng.choice([".", "!", "?", ",", "..."])
        out.append(p)
    for _ in range(200):  # punctuation
        parts = []
        for _ in range(rng.randint(2, 12)):
            parts.append(word(rng) if rng.random() < 0.6 else "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 4))))
        sep = rng.choice(["", " ", ", "])
        out.append(sep.join(parts))
    for _ in range(120):  # digits
        nums = [str(rng.randint(0, 10 ** rng.randint(1, 9))), f"{rng.randint(1, 4096)}x{rng.randint(1, 4096)}",
                f"{rng.random() * 100:.3f}", f"{rng.randint(1, 31)}/{rng.randint(1, 12)}/{rng.randint(1900, 2100)}",
                f"{rng.randint(1, 99)}st", "4k", "8K", f"#{rng.randint(1, 99)}", f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}",
                f"{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"]
        out.append(" ".join([word(rng)] + rng.sample(nums, rng.randint(1, 4)) + [word(rng)]))
    for _ in range(150):  # contractions in any case, glued to words and punctuation
        ws = []
        for _ in range(rng.randint(2, 8)):
            c = rng.choice(CONTRACTIONS)
            ws.append(rng.choice([c, c.upper(), random_case(rng, c), c.replace("'", "\u2019")]))
            if rng.random() < 0.5:
                ws.append(word(rng))
        ws.append(rng.choice(["'s", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D", "''", "'", "'x", "'sun", "!'s"]))
        out.append(" ".join(ws))
    for _ in range(120):  # whitespace runs of every kind
        ws = [word(rng)]
        for _ in range(rng.randint(2, 8)):
            ws.append("".join(rng.choice(WHITESPACE) for _ in range(rng.randint(1, 4))))
            ws.append(word(rng))
        p = "".join(ws)
        if rng.random() < 0.5:
            p = rng.choice(WHITESPACE) + p + rng.choice(WHITESPACE)
        out.append(p)
    for _ in range(150):  # accents, NFC/NFD/NFKD, stacked combining marks
        p = " ".join(rng.choice(ACCENTED) for _ in range(rng.randint(1, 5)))
        form = rng.choice(["NFC", "NFD", "NFKC", "NFKD", None])
        if form:
            p = unicodedata.normalize(form, p)
        if rng.random() < 0.4:
            p = "".join(c + "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(rng.randint(0, 3)))
                        if rng.random() < 0.3 else c for c in p)
        if rng.random() < 0.2:
            p = chr(rng.randint(0x300, 0x36F)) + p
        out.append(p)
    for _ in range(120):  # emoji
        p = " ".join(rng.choice([word(rng), rng.choice(EMOJI), "".join(rng.sample(EMOJI, 3))]) for _ in range(rng.randint(1, 8)))
        out.append(p)
    for name, samples in SCRIPTS.items():  # scripts, alone and mixed with English
        for s in samples:
            out.append(s)
            out.append(unicodedata.normalize("NFD", s))
            out.append(f"{sentence(rng, 3)} {s} {word(rng).upper()}")
    for _ in range(100):
        out.append(" ".join(rng.choice(rng.choice(list(SCRIPTS.values()))) for _ in range(rng.randint(2, 4))))
    for s in SPECIALS:  # typed special-token strings
        out.append(s)
        out.append(f"{sentence(rng, 2)} {s} {sentence(rng, 2)}")
        out.append(f"{word(rng)}{s}{word(rng)}")
    for _ in range(60):  # far over 77 tokens
        out.append(sentence(rng, rng.randint(80, 400)))
    out += ["a" * 500, "supercalifragilisticexpialidocious" * 20, "1234567890" * 30, "🐱" * 200, "!?" * 300,
            "a" + "\u0301" * 300, ("word " * 74).strip(), ("word " * 75).strip(), ("word " * 76).strip(),
            ("a, " * 40).strip()]
    for _ in range(120):  # random code points, any plane, assigned or not, controls and NUL included
        cps = []
        for _ in range(rng.randint(1, 12)):
            lo, hi = rng.choice([(0, 0x7F), (0x80, 0x2FF), (0x300, 0x36F), (0x370, 0xD7FF), (0xE000, 0xFFFF),
                                 (0x10000, 0x1FFFF), (0x20000, 0x10FFFF)])
            cps.append(chr(rng.randint(lo, hi)))
            if rng.random() < 0.3:
                cps.append(" ")
        out.append("".join(cps))
    return out


def systematic_prompts():
    """Every decomposable character (in NFD form), every lowercase-mapped character, every
    combining mark after a base and against marks of other classes, every whitespace char."""
    out = []
    decomposable = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
                    and unicodedata.decomposition(chr(c)) and not unicodedata.decomposition(chr(c)).startswith("<")]
    group = 10
    for i in range(0, len(decomposable), group):
        chunk = decomposable[i : i + group]
        out.append(" ".join(unicodedata.normalize("NFD", c) for c in chunk))
        out.append(" ".join(chunk))
    cased = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and chr(c).lower() != chr(c)]
    cased += [chr(c) for c in (0xA7CB, 0xA7CC, 0xA7CE, 0xA7D2, 0xA7DA, 0xA7DC, 0x1C89, 0x10D50, 0x10D65)]
    for i in range(0, len(cased), 12):
        out.append(" ".join(cased[i : i + 12]))
    marks = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
    marks += [chr(c) for c in (0x7FD, 0x898, 0x1DF6, 0x11938, 0x16FF0, 0x1E4EC)]
    for i in range(0, len(marks), 12):
        chunk = marks[i : i + 12]
        out.append(" ".join("a" + m + "\u0345" + m + "\u0316" for m in chunk))
    out.append(" | ".join("x" + w + "y" for w in WHITESPACE))
    out.append("\u0041\u030a \u212b \u00c5 \u1e0a\u0323 \u1e0c\u0307 \u0044\u0307\u0323 \u0071\u0307\u0323 \u1100\u1161\u11a8")
    return out


def encode_all(tok, prompts, max_length=MAX_LENGTH):
    enc = tok(prompts, padding="max_length", max_length=max_length, truncation=True)
    return enc["input_ids"], enc["attention_mask"]


# ---- the former slow tokenizer (transformers 4 tokenization_clip.py with ftfy), for the record
SLOW_PAT = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                         regex.IGNORECASE)


class SlowCLIP:
    """transformers 4's CLIPTokenizer (slow): ftfy.fix_text, whitespace clean + strip, lower,
    the CLIP regex (Python `regex`, IGNORECASE), byte map, OpenAI's BPE loop; special tokens
    split out of the raw text first."""

    def __init__(self, folder):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            merges = f.read().strip().split("\n")[1 : 49152 - 256 - 2 + 1]
        self.ranks = {tuple(m.split()): i for i, m in enumerate(merges)}
        bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
        cs, n = bs[:], 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        self.byte_encoder = dict(zip(bs, map(chr, cs)))
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        self.cache[token] = word
        return word

    def content_ids(self, text):
        ids = []
        for piece in regex.split(r"(<\|startoftext\|>|<\|endoftext\|>)", text):
            if piece in ("<|startoftext|>", "<|endoftext|>"):
                ids.append(self.encoder[piece])
                continue
            piece = regex.sub(r"\s+", " ", ftfy.fix_text(piece)).strip().lower()
            for token in SLOW_PAT.findall(piece):
                token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
                ids.extend(self.encoder[t] for t in self.bpe(token))
        return ids

    def row(self, text):
        ids = [49406] + self.content_ids(text)[: MAX_LENGTH - 2] + [49407]
        return ids + [49407] * (MAX_LENGTH - len(ids))


CURLY = {0x2018: "'", 0x2019: "'", 0x201A: "'", 0x201B: "'", 0x201C: '"', 0x201D: '"', 0x201E: '"', 0x201F: '"'}


def slow_cause(p):
    fixed = ftfy.fix_text(p)
    if fixed == p:
        return "ftfy leaves the text: Python's lowercase (final sigma) or Unicode data"
    if fixed == p.translate(CURLY):
        return "ftfy straightens curly quotes"
    return "other ftfy fixes (control/format characters, NFC, mojibake, ...)"


def slow_differences(prompts, fast_ids):
    slow = SlowCLIP(CLIP_DIR)
    diffs, causes = [], {}
    for p, ids in zip(prompts, fast_ids):
        row = slow.row(p)
        if row != ids:
            diffs.append(p)
            causes[slow_cause(p)] = causes.get(slow_cause(p), 0) + 1
    examples, seen = [], {}
    for p in [q for q in diffs if len(q) < 40]:
        if seen.setdefault(slow_cause(p), 0) >= 8:
            continue
        seen[slow_cause(p)] += 1
        examples.append({"prompt": p, "fast": strip_pad(fast_ids[prompts.index(p)]), "slow": strip_pad(slow.row(p)),
                         "ftfy": ftfy.fix_text(p)})
    return {"count": len(diffs), "of": len(prompts), "causes": causes, "examples": examples}


def strip_pad(ids):
    return ids[: ids.index(49407) + 1]


def main():
    rng = random.Random(20260412)
    prompts = general_prompts(rng) + systematic_prompts()
    assert len(prompts) >= 2000, len(prompts)
    tok = CLIPTokenizer.from_pretrained(CLIP_DIR)
    ids, mask = encode_all(tok, prompts)
    print(f"{len(prompts)} prompts; {sum(m[-1] for m in mask)} fill all {MAX_LENGTH} positions")

    subset = sorted(set(range(0, len(prompts), 7)) | {i for i, p in enumerate(prompts)
                                                      if "!" in p or "<|" in p or "|>" in p or len(p) > 300})
    encode = {"prompt_indices": subset,
              "ids": [tok(prompts[i], add_special_tokens=False)["input_ids"] for i in subset]}
    short = subset[::3]
    ml_ids, ml_mask = encode_all(tok, [prompts[i] for i in short], 16)
    max_length_cases = {"max_length": 16, "prompt_indices": short, "input_ids": ml_ids, "attention_mask": ml_mask}

    bos, eos = "<|startoftext|>", "<|endoftext|>"

    def tok_obj(content, normalized, **kw):
        return dict(dict(content=content, lstrip=False, normalized=normalized, rstrip=False, single_word=False), **kw)

    base_config = json.load(open(os.path.join(CLIP_DIR, "tokenizer_config.json")))
    variants = {
        # transformers 4.2x-era folders (openai/clip-vit-*): AddedToken objects, special_tokens_map.json
        "legacy_objects": {
            "tokenizer_config.json": {"add_prefix_space": False, "bos_token": dict(tok_obj(bos, True), __type="AddedToken"),
                                      "do_lower_case": True, "eos_token": dict(tok_obj(eos, True), __type="AddedToken"),
                                      "errors": "replace", "model_max_length": 77, "pad_token": eos,
                                      "tokenizer_class": "CLIPTokenizer",
                                      "unk_token": dict(tok_obj(eos, True), __type="AddedToken")},
            "special_tokens_map.json": {"bos_token": tok_obj(bos, True), "eos_token": tok_obj(eos, True),
                                        "pad_token": eos, "unk_token": tok_obj(eos, True)},
        },
        # SDXL tokenizer_2 style: pad "!" is an added special token, so every "!" is id 0
        "pad_exclamation": {
            "tokenizer_config.json": dict(base_config, pad_token="!", added_tokens_decoder=dict(
                {"0": tok_obj("!", False, special=True)}, **base_config["added_tokens_decoder"])),
        },
        # both special tokens normalised; an added token that strips the whitespace around it;
        # left padding and left truncation; model_max_length unset (transformers' 1e30 marker)
        "normalized_strip_left": {
            "tokenizer_config.json": dict(base_config, padding_side="left", truncation_side="left",
                                          model_max_length=int(1e30), added_tokens_decoder={
                                              "49406": tok_obj(bos, True, special=True),
                                              "49407": tok_obj(eos, True, special=True, lstrip=True, rstrip=True)}),
        },
    }
    var_subset = sorted(set(range(0, len(prompts), 5)) | {i for i, p in enumerate(prompts)
                                                          if "!" in p or "<|" in p or "|>" in p})
    var_out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, files in variants.items():
            folder = os.path.join(tmp, name)
            make_variant(folder, files)
            vt = CLIPTokenizer.from_pretrained(folder)
            v_ids, v_mask = encode_all(vt, [prompts[i] for i in var_subset])
            changed = sum(a != ids[i] for a, i in zip(v_ids, var_subset))
            print(f"variant {name}: pad {vt.pad_token_id}, {changed} of {len(var_subset)} rows differ from the main folder")
            var_out[name] = {"files": files, "prompt_indices": var_subset, "input_ids": v_ids, "attention_mask": v_mask}
        for pairs in (True, False):  # the tokenizer.json-only folders must tokenize like the main one
            folder = os.path.join(tmp, f"json_{pairs}")
            write_tokenizer_json(CLIP_DIR, folder, merges_as_pairs=pairs)
            jt = CLIPTokenizer.from_pretrained(folder)
            j_ids, j_mask = encode_all(jt, prompts)
            assert (j_ids, j_mask) == (ids, mask), f"tokenizer.json folder (pairs={pairs}) differs"
        print("tokenizer.json-only folders: identical to the main folder")

    slow = slow_differences(prompts, ids)
    print(f"slow tokenizer differs on {slow['count']} of {len(prompts)} prompts: {slow['causes']}")
    corpus = {
        "reference": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                      "class": f"{type(tok).__module__}.{type(tok).__name__}"},
        "max_length": MAX_LENGTH,
        "prompts": prompts,
        "input_ids": ids,
        "attention_mask": mask,
        "encode": encode,
        "max_length_cases": max_length_cases,
        "variants": var_out,
        "slow_differences": slow,
    }
    data = json.dumps(corpus, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(data)  # mtime=0: the same corpus gives the same bytes
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
