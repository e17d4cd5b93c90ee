"""Writes notebooks/stable_cascade.ipynb from the cell list below (keeps the notebook reviewable
as plain Python). Run: python tools/make_notebook.py"""
import json
import os

CELLS = [
    ("markdown", """# Stable Cascade with stable_cascade_c

Text-to-image with Stable Cascade (Würstchen v3), running entirely in C/CUDA: no PyTorch needed.

**Install** (CPU build; a CUDA build is made automatically when `nvcc` is on the machine):

```
pip install "git+<this repository>"      # or, from a checkout: pip install .
```

**Weights**: the Hub repos `stabilityai/stable-cascade-prior` and `stabilityai/stable-cascade`
(the `.bf16` variant files halve the download). Point `STABLE_CASCADE_PRIOR` / `STABLE_CASCADE_DECODER`
at local folders, or let the library find them in the Hugging Face cache. The weights are under
Stability AI's non-commercial research licence."""),
    ("code", """import os, time
import numpy as np
import stable_cascade_c as sc
from IPython.display import Image, display
from stable_cascade_c.imageio import encode_png

sc.build_info()"""),
    ("markdown", """## Choose weights, device and size

`device="auto"` takes the GPU when one is usable, else the CPU. The environment variables below let
the test suite run this notebook on tiny models; by default it runs the real model at 1024x1024."""),
    ("code", """PRIOR = sc.weights.resolve_repo(os.environ.get("STABLE_CASCADE_PRIOR"), "prior")
DECODER = sc.weights.resolve_repo(os.environ.get("STABLE_CASCADE_DECODER"), "decoder")
DEVICE = os.environ.get("STABLE_CASCADE_DEVICE", "auto")
SIZE = int(os.environ.get("SC_NOTEBOOK_SIZE", "1024"))
PRIOR_STEPS = int(os.environ.get("SC_NOTEBOOK_PRIOR_STEPS", "20"))
STEPS = int(os.environ.get("SC_NOTEBOOK_STEPS", "10"))

t0 = time.perf_counter()
pipe = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device=DEVICE)
print(f"loaded on {pipe.device} in {time.perf_counter() - t0:.1f} s")"""),
    ("code", """def show(images):
    for img in images:
        display(Image(data=encode_png(img)))"""),
    ("markdown", """## Generate

A fixed seed gives the same image every time (and the same image diffusers makes with a CPU
`torch.Generator` of that seed). `progress=True` draws a progress bar per stage."""),
    ("code", """t0 = time.perf_counter()
images = pipe(prompt="a chubby hamster climbing a mountain", seed=142753564, width=SIZE, height=SIZE,
              prior_num_inference_steps=PRIOR_STEPS, num_inference_steps=STEPS, progress=True)
print(f"{time.perf_counter() - t0:.1f} s, seed {pipe.last_seed}")
show(images)"""),
    ("markdown", "Same seed, same pixels:"),
    ("code", """again = pipe(prompt="a chubby hamster climbing a mountain", seed=142753564, width=SIZE, height=SIZE,
             prior_num_inference_steps=PRIOR_STEPS, num_inference_steps=STEPS)
assert np.array_equal(images[0], again[0])"""),
    ("markdown", """## Negative prompt, several images, random seed

The parameter dict of Ikomia's `infer_stable_cascade` works as is (values may be strings).
`seed=-1` draws a random seed; `pipe.last_seed` tells which one was used."""),
    ("code", """images = pipe({
    "prompt": "Anthropomorphic cat dressed as a pilot",
    "negative_prompt": "blurry, low quality",
    "prior_num_inference_steps": str(PRIOR_STEPS), "prior_guidance_scale": "4.0",
    "num_inference_steps": str(STEPS), "guidance_scale": "0.0",
    "seed": "-1", "width": str(SIZE), "height": str(SIZE), "num_images_per_prompt": "2",
})
print("seed used:", pipe.last_seed)
show(images)"""),
    ("markdown", """## CPU threads

On the CPU the kernels use every core by default; `sc.set_num_threads(n)` changes that."""),
    ("code", """for threads in (1, sc.build_info()["threads"]):
    sc.set_num_threads(threads)
    t0 = time.perf_counter()
    pipe(prompt="a lighthouse at dusk", seed=1, width=SIZE, height=SIZE,
         prior_num_inference_steps=PRIOR_STEPS, num_inference_steps=STEPS)
    print(f"{threads} thread(s): {time.perf_counter() - t0:.2f} s")"""),
]


def main():
    nb = {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True),
             **({"execution_count": None, "outputs": []} if kind == "code" else {})}
            for kind, src in CELLS
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i}"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notebooks", "stable_cascade.ipynb")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
