"""Write the committed libFuzzer seed corpus tests/data/fuzz/{json,safetensors}/ from the test
suite's own documents (valid ones plus a few hostile ones). Run from the repository root:

    PYTHONPATH=.:tests python3 tools/fuzz/make_seeds.py
"""
import hashlib
import os
import shutil

from test_json import INVALID, VALID
from test_safetensors import HOSTILE, fuzz_seeds

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


def main():
    write_corpus("json", VALID + INVALID[::4])
    write_corpus("safetensors", fuzz_seeds() + [data for _, data, _ in HOSTILE[::3]])


if __name__ == "__main__":
    main()
