"""Generate csrc/sc_unicode_tables.c: the Unicode data the CLIP tokenizer needs, exactly as
the reference pipeline (Hugging Face `tokenizers`, the Rust library behind CLIPTokenizerFast)
applies it.

The reference mixes Unicode versions, so the tables are taken from the reference itself
wherever it can be asked directly, and from the UCD otherwise:

* character classes for the CLIP regex and the `\\s+` normaliser (`\\p{L}`, `\\p{N}`, `\\s`):
  probed from the Oniguruma regex engine inside `tokenizers` (they equal Unicode 16.0's L*, N*
  categories and White_Space list);
* lowercase: probed from the `Lowercase` normaliser (Rust's char::to_lowercase, Unicode 17 data:
  it already lowercases U+A7CE, which the regex engine still treats as unassigned);
* NFC: combining classes and canonical decompositions from `unicodedata2==15.1.0`, then
  reconciled with the reference's NFD/NFC, whose data is older (the normaliser crate inside
  `tokenizers` gives class 0 to marks added since about Unicode 9 and does not decompose
  U+11938), and cross-checked by running a Python model of the algorithm built from the
  emitted tables against the reference on every single character, on every character after a
  base and a blocking mark, on mark pairs of every combining class and on every composition pair.

Run (unicodedata2 is only needed here, e.g. `pip install --target /tmp/ucd unicodedata2==15.1.0`):

    PYTHONPATH=/tmp/ucd /work/refenv/bin/python tools/gen_unicode_tables.py
"""
import argparse
import os
import sys

import unicodedata2
from tokenizers import Regex, normalizers, pre_tokenizers

NFC_UCD_VERSION = "15.1.0"
MAX_CP = 0x110000
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
CLASS_LETTER, CLASS_NUMBER, CLASS_SPACE = 1, 2, 3


def all_scalars():
    """Every Unicode scalar value (code points minus surrogates)."""
    return [c for c in range(MAX_CP) if not 0xD800 <= c <= 0xDFFF]


def chunks(seq, n=65536):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def probe_class(pattern: str, scalars) -> set:
    """Code points the reference regex engine matches with a one-character `pattern`."""
    split = pre_tokenizers.Split(Regex(pattern), behavior="removed", invert=True)
    found = set()
    for part in chunks(scalars):
        for piece, _ in split.pre_tokenize_str("".join(map(chr, part))):
            found.update(map(ord, piece))
    return found


def probe_classes(scalars) -> dict:
    letters = probe_class(r"\p{L}", scalars)
    numbers = probe_class(r"\p{N}", scalars)
    spaces = probe_class(r"\s", scalars)
    assert not (letters & numbers or letters & spaces or numbers & spaces), "classes overlap"
    # The normaliser's Replace(\s+ -> ' ') must see the same whitespace as the Split regex.
    replace = normalizers.Replace(Regex(r"\s+"), "\x00")
    for part in chunks(scalars):
        probe = "".join("a" + chr(c) for c in part)
        out = replace.normalize_str(probe)
        assert out.count("\x00") == sum(c in spaces or c == 0 for c in part), "\\s differs between normaliser and split"
    cls = {}
    for c in letters:
        cls[c] = CLASS_LETTER
    for c in numbers:
        cls[c] = CLASS_NUMBER
    for c in spaces:
        cls[c] = CLASS_SPACE
    return cls


def probe_lowercase(scalars) -> dict:
    """cp -> tuple of code points the reference Lowercase normaliser produces (only changes)."""
    lower = normalizers.Lowercase()
    out = {}
    for part in chunks(scalars, 4096):
        text = "".join(map(chr, part))
        res = lower.normalize_str(text)
        pairs = zip(part, res) if len(res) == len(text) else ((c, lower.normalize_str(chr(c))) for c in part)
        for c, r in pairs:
            if r != chr(c):
                out[c] = tuple(map(ord, r))
    return out


def nfc_data(scalars):
    """(ccc, full decompositions, composition pairs) agreeing with the reference NFD/NFC."""
    if unicodedata2.unidata_version != NFC_UCD_VERSION:
        sys.exit(f"need unicodedata2 {NFC_UCD_VERSION} (the Rust unicode-normalization data), got {unicodedata2.unidata_version}")
    nfd, nfc = normalizers.NFD(), normalizers.NFC()
    ccc, starters = {}, []
    for c in scalars:
        k = unicodedata2.combining(chr(c))
        if not k:
            continue
        # A mark the reference reorders neither behind a class-1 mark nor in front of the
        # class-240 mark has class 0 there (its data predates the mark).
        probe = "a" + chr(c) + "\u0334" if k > 1 else "a\u0345" + chr(c)
        if nfd.normalize_str(probe) == probe:
            starters.append(c)
        else:
            ccc[c] = k
    decomp, comp, dropped = {}, {}, []
    for c in scalars:
        if HANGUL_FIRST <= c <= HANGUL_LAST:
            continue
        raw = unicodedata2.decomposition(chr(c))
        if not raw or raw.startswith("<"):
            continue
        ref = nfd.normalize_str(chr(c))
        if ref == chr(c):
            dropped.append(c)
            continue
        decomp[c] = tuple(map(ord, ref))
        parts = tuple(int(x, 16) for x in raw.split())
        if len(parts) == 2 and nfc.normalize_str(chr(c)) == chr(c):
            comp[parts] = c
    return ccc, decomp, comp, dropped, starters


# ----------------------------------------------------------------------------- model check
class NfcModel:
    """NFD/NFC computed from the emitted tables (mirrors csrc/sc_unicode.c)."""

    S_BASE, L_BASE, V_BASE, T_BASE, L_COUNT, V_COUNT, T_COUNT = 0xAC00, 0x1100, 0x1161, 0x11A7, 19, 21, 28

    def __init__(self, ccc, decomp, comp):
        self.ccc, self.decomp, self.comp = ccc, decomp, comp

    def nfd(self, cps):
        out = []
        for c in cps:
            if HANGUL_FIRST <= c <= HANGUL_LAST:
                s = c - self.S_BASE
                out += [self.L_BASE + s // (self.V_COUNT * self.T_COUNT), self.V_BASE + (s % (self.V_COUNT * self.T_COUNT)) // self.T_COUNT]
                if s % self.T_COUNT:
                    out.append(self.T_BASE + s % self.T_COUNT)
            else:
                out += self.decomp.get(c, (c,))
        i = 0
        while i < len(out):  # stable sort of each run of non-starters by combining class
            if self.ccc.get(out[i], 0) == 0:
                i += 1
                continue
            j = i
            while j < len(out) and self.ccc.get(out[j], 0):
                j += 1
            out[i:j] = sorted(out[i:j], key=lambda x: self.ccc[x])
            i = j
        return out

    def compose_pair(self, a, b):
        if self.L_BASE <= a < self.L_BASE + self.L_COUNT and self.V_BASE <= b < self.V_BASE + self.V_COUNT:
            return self.S_BASE + ((a - self.L_BASE) * self.V_COUNT + b - self.V_BASE) * self.T_COUNT
        s = a - self.S_BASE
        if 0 <= s < 11172 and s % self.T_COUNT == 0 and self.T_BASE < b < self.T_BASE + self.T_COUNT:
            return a + b - self.T_BASE
        return self.comp.get((a, b))

    def nfc(self, cps):
        d = self.nfd(cps)
        out, starter, last_ccc = [], -1, 0
        for c in d:
            cc = self.ccc.get(c, 0)
            # Not blocked: nothing between the starter and c, or everything between has a lower class.
            if starter >= 0 and (last_ccc < cc or last_ccc == 0):
                p = self.compose_pair(out[starter], c)
                if p is not None:
                    out[starter] = p
                    continue
            if cc == 0:
                starter = len(out)
            last_ccc = cc
            out.append(c)
        return out


def check_model(model, scalars, ccc, comp):
    nfd, nfc = normalizers.NFD(), normalizers.NFC()
    sep = " "

    def compare(tests, what):
        bad = 0
        for part in chunks(tests, 8192):
            for fn, ref in ((model.nfd, nfd), (model.nfc, nfc)):
                got = sep.join("".join(map(chr, fn(t))) for t in part)
                exp = ref.normalize_str(sep.join("".join(map(chr, t)) for t in part))
                if got != exp:
                    for t in part:
                        if "".join(map(chr, fn(t))) != ref.normalize_str("".join(map(chr, t))):
                            bad += 1
                            if bad < 5:
                                print(f"  {what}: model differs on {[hex(c) for c in t]}")
        if bad:
            sys.exit(f"NFC model check failed ({what}): {bad} cases")
        print(f"  checked {len(tests)} cases: {what}")

    compare([(c,) for c in scalars], "single characters")
    compare([(0x61, 0x345, c) for c in scalars], "after a base and a ccc-240 mark")
    reps = {}
    for c, k in sorted(ccc.items()):
        reps.setdefault(k, c)
    compare([(0x61, c, r) for c in ccc for r in reps.values()] + [(0x61, r, c) for c in ccc for r in reps.values()],
            "mark pairs of every combining class")
    compare([(a, b) for a, b in comp] + [(a, 0x316, b) for a, b in comp] + [(a, 0x301, b) for a, b in comp],
            "composition pairs, direct and across marks")
    compare([(0x1100 + i % 19, 0x1161 + i % 21, 0x11A8 + i % 27) for i in range(2000)], "Hangul jamo")


# ----------------------------------------------------------------------------- emission
def runs(items):
    """Sorted (cp, value) -> list of (first, last, value) for consecutive cps with equal value."""
    out = []
    for cp, val in items:
        if out and out[-1][1] == cp - 1 and out[-1][2] == val:
            out[-1][1] = cp
        else:
            out.append([cp, cp, val])
    return out


def lower_runs(single):
    """cp -> lowered cp as (first, last, step, delta) runs: step 1 blocks and step 2 alternations."""
    out = []
    for cp in sorted(single):
        delta = single[cp] - cp
        if out:
            first, last, step, d = out[-1]
            if d == delta and ((step in (0, 1) and cp == last + 1) or (step in (0, 2) and cp == last + 2)):
                out[-1] = [first, cp, cp - last, d]
                continue
        out.append([cp, cp, 0, delta])
    return [(f, l, s or 1, d) for f, l, s, d in out]


def fmt_rows(rows, per_line):
    lines = []
    for i in range(0, len(rows), per_line):
        lines.append("    " + " ".join(rows[i : i + per_line]))
    return "\n".join(lines)


def emit(path, cls, lower, ccc, decomp, comp, dropped, starters):
    class_runs = runs(sorted(cls.items()))
    latin1 = [cls.get(c, 0) for c in range(256)]
    single = {c: r[0] for c, r in lower.items() if len(r) == 1}
    multi = {c: r for c, r in lower.items() if len(r) > 1}
    assert all(len(r) <= 3 for r in multi.values())
    lruns = lower_runs(single)
    ccc_runs = runs(sorted(ccc.items()))
    dkeys = sorted(decomp)
    pool, index = [], []
    for c in dkeys:
        index.append((c, len(pool), len(decomp[c])))
        pool.extend(decomp[c])
    assert len(pool) < 1 << 16 and max(len(v) for v in decomp.values()) <= 4
    pairs = sorted((a, b, c) for (a, b), c in comp.items())

    def hexes(vals):
        return ["0x%x," % v for v in vals]

    src = f"""/* Unicode data for the CLIP tokenizer. GENERATED by tools/gen_unicode_tables.py: do not edit.
 *
 * Classes (\\p{{L}}, \\p{{N}}, \\s) and lowercase are probed from the reference `tokenizers`
 * library (Oniguruma: Unicode 16.0; Rust char::to_lowercase: Unicode 17). NFC data is UCD
 * {NFC_UCD_VERSION} reconciled with the reference normaliser's older data: {len(starters)} marks have
 * class 0 there{' and ' + ', '.join('U+%04X' % c for c in dropped) + ' is not decomposed' if dropped else ''}. */
#include "sc_unicode_tables.h"

const uint8_t sc_uni_latin1_class[256] = {{
{fmt_rows(["%d," % v for v in latin1], 32)}
}};

const sc_uni_run sc_uni_class_runs[{len(class_runs)}] = {{
{fmt_rows(["{0x%x,0x%x,%d}," % tuple(r) for r in class_runs], 6)}
}};
const size_t sc_uni_class_run_count = {len(class_runs)};

const sc_uni_lower_run sc_uni_lower_runs[{len(lruns)}] = {{
{fmt_rows(["{0x%x,0x%x,%d,%d}," % r for r in lruns], 5)}
}};
const size_t sc_uni_lower_run_count = {len(lruns)};

const sc_uni_lower_multi sc_uni_lower_multis[{len(multi)}] = {{
{fmt_rows(["{0x%x,%d,{%s}}," % (c, len(r), ",".join("0x%x" % x for x in r)) for c, r in sorted(multi.items())], 2)}
}};
const size_t sc_uni_lower_multi_count = {len(multi)};

const sc_uni_run sc_uni_ccc_runs[{len(ccc_runs)}] = {{
{fmt_rows(["{0x%x,0x%x,%d}," % tuple(r) for r in ccc_runs], 6)}
}};
const size_t sc_uni_ccc_run_count = {len(ccc_runs)};

const sc_uni_decomp sc_uni_decomps[{len(index)}] = {{
{fmt_rows(["{0x%x,%d,%d}," % r for r in index], 6)}
}};
const size_t sc_uni_decomp_count = {len(index)};

const uint32_t sc_uni_decomp_pool[{len(pool)}] = {{
{fmt_rows(hexes(pool), 12)}
}};

const sc_uni_pair sc_uni_compositions[{len(pairs)}] = {{
{fmt_rows(["{0x%x,0x%x,0x%x}," % p for p in pairs], 5)}
}};
const size_t sc_uni_composition_count = {len(pairs)};
"""
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(src)
    print(f"wrote {path}: {len(class_runs)} class runs, {len(lruns)} lowercase runs (+{len(multi)} multi), "
          f"{len(ccc_runs)} ccc runs, {len(index)} decompositions, {len(pairs)} compositions")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "csrc", "sc_unicode_tables.c"))
    args = ap.parse_args()
    scalars = all_scalars()
    print("probing character classes ...")
    cls = probe_classes(scalars)
    print("probing lowercase ...")
    lower = probe_lowercase(scalars)
    print("building NFC data ...")
    ccc, decomp, comp, dropped, starters = nfc_data(scalars)
    print(f"  {len(starters)} marks have combining class 0 in the reference; not decomposed there: {[hex(c) for c in dropped]}")
    check_model(NfcModel(ccc, decomp, comp), scalars, ccc, comp)
    # sc_unicode.c skips NFC for text below U+0300 and decomposition lookups below U+00C0.
    assert min(ccc) >= 0x300 and min(b for _, b in comp) >= 0x300 and min(decomp) >= 0xC0
    assert all(normalizers.NFC().normalize_str(chr(c)) == chr(c) for c in range(0x300))
    emit(args.out, cls, lower, ccc, decomp, comp, dropped, starters)


if __name__ == "__main__":
    main()
