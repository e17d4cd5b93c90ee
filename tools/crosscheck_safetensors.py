"""Differential check of our safetensors validation against the reference `safetensors` package.

Feeds the mutated files of tests/test_safetensors.py to both parsers and reports every
disagreement that is not one of our documented extra rules (docs/safetensors.md). Run from the
repository root with the reference environment and the extension built in place:

    PYTHONPATH=.:tests /work/refenv/bin/python tools/crosscheck_safetensors.py [count]
"""
import random
import sys

import safetensors

from stable_cascade_c.safetensors import validate_bytes
from test_safetensors import HOSTILE, fuzz_seeds, mutate

# Our stricter rules: files the reference accepts but we reject on purpose.
OUR_EXTRA_RULES = ("twice", "at most 8 are supported", "is too large", "NUL character")


def reference(data):
    try:
        return {name: (t["dtype"], tuple(t["shape"]), bytes(t["data"])) for name, t in safetensors.deserialize(data)}
    except Exception as e:  # the binding raises SafetensorError (and OverflowError for huge shapes)
        return e


def main(count):
    rng = random.Random(7)
    seeds = fuzz_seeds()
    stats = {"both accept": 0, "both reject": 0, "our extra rule": 0}
    problems = []
    for _ in range(count):
        data = mutate(rng, rng.choice(seeds), seeds)
        ref = reference(data)
        try:
            ours, _ = validate_bytes(data)
        except ValueError as e:
            if isinstance(ref, Exception):
                stats["both reject"] += 1
            elif any(rule in str(e) for rule in OUR_EXTRA_RULES):
                stats["our extra rule"] += 1
            else:
                problems.append(("we reject, reference accepts", data, str(e)))
            continue
        if isinstance(ref, Exception):
            problems.append(("we accept, reference rejects", data, str(ref)))
            continue
        start = 8 + int.from_bytes(data[:8], "little")
        mine = {n: (d, s, data[start + b:start + e]) for n, (d, s, (b, e)) in ours.items()}
        if mine != ref:
            problems.append(("different contents", data, ""))
        else:
            stats["both accept"] += 1
    for name, data, message in HOSTILE:  # the hand-written hostile files of the test suite
        if not isinstance(reference(data), Exception) and not any(rule in message for rule in OUR_EXTRA_RULES):
            try:
                validate_bytes(data)
            except ValueError as e:
                if not any(rule in str(e) for rule in OUR_EXTRA_RULES):
                    problems.append(("hostile case '%s': reference accepts" % name, data, str(e)))
    print(stats)
    for kind, data, msg in problems[:20]:
        print(kind, msg[:200], data[:300])
    print("%d disagreements" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
