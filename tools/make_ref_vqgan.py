"""Reference data for Stage A (PaellaVQModel decode), made with diffusers on the CPU in float32.

Run with the reference environment:  /work/refenv/bin/python tools/make_ref_vqgan.py

Writes under tests/data/vqgan/:
  tiny/config.json + tiny/diffusion_pytorch_model.safetensors      (save_pretrained, Hub layout)
  tiny/diffusion_pytorch_model.bf16.safetensors                    (variant="bf16")
  tiny_stage_a.safetensors       the same weights as the original stage_a.safetensors names them
                                 (vquantizer.codebook.weight), written by safetensors.torch.save_file
  reference.npz                  latents_<case> and decoded_<case> (= decode(latents).sample), and
                                 decoded_bf16_<case> from the bf16-rounded weights (computed in float32)
  tiny_l3/, reference_l3.npz     a second model of the generic shape (3 levels, scale factor 1)

Every tensor is re-randomised, the zero-initialised gammas and the BatchNorm buffers included,
so every path of the decoder matters and a wrong encoder shape is noticed.
"""
import copy
import os

import sys

import numpy as np

# The refenv's torchvision does not match its torch; transformers (pulled in by diffusers)
# then fails on import. Nothing here needs torchvision: hide it.
sys.modules.setdefault("torchvision", None)

import torch  # noqa: E402
from diffusers.pipelines.wuerstchen.modeling_paella_vq_model import PaellaVQModel  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "vqgan")

CONFIG = dict(in_channels=3, out_channels=3, up_down_scale_factor=2, levels=2, bottleneck_blocks=2, embed_dim=16,
              latent_channels=4, num_vq_embeddings=32, scale_factor=0.3764)

# (batch, h, w): odd and even latent sizes, and the 1x1 edge case of the replicate padding.
CASES = {"b2_5x7": (2, 5, 7), "b2_6x4": (2, 6, 4), "b1_1x1": (1, 1, 1)}

# The generic shape of the network: three levels (two upsamplers), one bottleneck block, no
# pixel shuffle (factor 1), unusual channel counts.
CONFIG_L3 = dict(in_channels=2, out_channels=5, up_down_scale_factor=1, levels=3, bottleneck_blocks=1, embed_dim=16,
                 latent_channels=3, num_vq_embeddings=8, scale_factor=0.5)
CASES_L3 = {"b1_3x5": (1, 3, 5), "b2_2x2": (2, 2, 2)}


def randomise(model: PaellaVQModel, gen: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.dtype == torch.int64:  # num_batches_tracked stays 0
                continue
            if name.endswith("gammas"):
                p.copy_(torch.rand(p.shape, generator=gen) - 0.5)
            elif name.endswith("running_var"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            elif p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(p[0].numel()))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    model = PaellaVQModel(**CONFIG).eval()
    randomise(model, gen)

    folder = os.path.join(OUT, "tiny")
    model.save_pretrained(folder, safe_serialization=True)
    # The bf16 variant holds bf16 tensors, as the Hub's does.
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(folder, safe_serialization=True, variant="bf16")

    original = {("vquantizer.codebook.weight" if k == "vquantizer.embedding.weight" else k): v.contiguous()
                for k, v in model.state_dict().items()}
    save_file(original, os.path.join(OUT, "tiny_stage_a.safetensors"))

    rounded = PaellaVQModel(**CONFIG).eval()
    rounded.load_state_dict({k: (v.to(torch.bfloat16).float() if v.is_floating_point() else v)
                             for k, v in model.state_dict().items()})

    arrays = {}
    with torch.no_grad():
        for case, (b, h, w) in CASES.items():
            latents = torch.randn((b, CONFIG["latent_channels"], h, w), generator=gen)
            arrays["latents_" + case] = latents.numpy()
            arrays["decoded_" + case] = model.decode(latents).sample.numpy()
            arrays["decoded_bf16_" + case] = rounded.decode(latents).sample.numpy()
    np.savez_compressed(os.path.join(OUT, "reference.npz"), **arrays)
    report(arrays)
    make_l3()


def make_l3() -> None:
    gen = torch.Generator().manual_seed(4321)
    model = PaellaVQModel(**CONFIG_L3).eval()
    randomise(model, gen)
    model.save_pretrained(os.path.join(OUT, "tiny_l3"), safe_serialization=True)
    arrays = {}
    with torch.no_grad():
        for case, (b, h, w) in CASES_L3.items():
            latents = torch.randn((b, CONFIG_L3["latent_channels"], h, w), generator=gen)
            arrays["latents_" + case] = latents.numpy()
            arrays["decoded_" + case] = model.decode(latents).sample.numpy()
    np.savez_compressed(os.path.join(OUT, "reference_l3.npz"), **arrays)
    report(arrays)


def report(arrays) -> None:
    for k, v in arrays.items():
        print(k, v.shape, "min %.3f max %.3f" % (v.min(), v.max()))


if __name__ == "__main__":
    main()
