"""Reference data for the StableCascadeUNet tests (run with /work/refenv/bin/python).

Builds tiny random-weight diffusers StableCascadeUNet models (torch CPU, float32, fixed seeds),
saves each in the Hub folder layout under tests/data/unet/<name>/ (config.json +
diffusion_pytorch_model.safetensors as save_pretrained writes them) and records inputs and
outputs of several forward calls in tests/data/unet/<name>.npz (keys "c<k>.<argument>" and
"c<k>.out"). Extra copies prove the other loading paths:
  - prior_like_sharded/: the prior-like model saved in shards with an index;
  - decoder_like/diffusion_pytorch_model.bf16.safetensors: a bf16 variant, with reference outputs
    of the bf16-rounded weights in the npz ("b0.*");
  - <name>_original.safetensors: the prior-like and decoder-like state dicts renamed to the
    original Stability-AI single-file naming (the inverse of diffusers' conversion), checked
    against diffusers' own single-file loader.

diffusers zero-initialises several layers (GRN gamma/beta, ...), which would hide bugs: every
parameter is re-randomised here so every path contributes to the outputs.

Usage: /work/refenv/bin/python tools/make_ref_unet.py [output_dir]
"""
import json
import os
import shutil
import sys

import numpy as np

# The refenv's torchvision does not match its torch; transformers (pulled in by diffusers'
# single-file loader) then fails on import. Nothing here needs torchvision: hide it.
sys.modules.setdefault("torchvision", None)

import torch  # noqa: E402
from diffusers import StableCascadeUNet  # noqa: E402
from diffusers.loaders.single_file_utils import convert_stable_cascade_unet_single_file_to_diffusers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

R, T, A = "SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"

CONFIGS = {
    # Stage C shape: switch_level [False], text + pooled + image CLIP inputs, sca + crp, self-attention.
    "prior_like": dict(
        in_channels=16, out_channels=16, timestep_ratio_embedding_dim=16, patch_size=1, conditioning_dim=16,
        block_out_channels=[16, 32], num_attention_heads=[2, 4], down_num_layers_per_block=[1, 2],
        up_num_layers_per_block=[2, 1], down_blocks_repeat_mappers=[1, 1], up_blocks_repeat_mappers=[1, 1],
        block_types_per_layer=[[R, T, A], [R, T, A]], clip_text_in_channels=12, clip_text_pooled_in_channels=10,
        clip_image_in_channels=8, clip_seq=2, effnet_in_channels=None, pixel_mapper_in_channels=None,
        kernel_size=3, dropout=[0.1, 0.1], self_attn=True, timestep_conditioning_type=["sca", "crp"],
        switch_level=[False],
    ),
    # Stage B shape: patch 2, effnet + pixels mappers, attention only at the deep levels, up repeats.
    "decoder_like": dict(
        in_channels=4, out_channels=4, timestep_ratio_embedding_dim=64, patch_size=2, conditioning_dim=16,
        block_out_channels=[8, 16, 24, 24], num_attention_heads=[0, 0, 2, 3], down_num_layers_per_block=[1, 1, 2, 1],
        up_num_layers_per_block=[1, 2, 1, 1], down_blocks_repeat_mappers=[1, 1, 1, 1],
        up_blocks_repeat_mappers=[3, 3, 2, 2], block_types_per_layer=[[R, T], [R, T], [R, T, A], [R, T, A]],
        clip_text_in_channels=None, clip_text_pooled_in_channels=10, clip_image_in_channels=None, clip_seq=4,
        effnet_in_channels=6, pixel_mapper_in_channels=3, kernel_size=3, dropout=[0, 0, 0.1, 0.1], self_attn=True,
        timestep_conditioning_type=["sca"], switch_level=None,
    ),
    # Odd shapes: 3 levels of strided convs at odd sizes (skip interpolation), block orders where the
    # first up block is not a ResBlock (skip unused), heads that do not divide the width (inner dim
    # 10 for 12 channels), down repeat mappers, no extra timestep conditionings, per-level self_attn.
    "odd": dict(
        in_channels=3, out_channels=5, timestep_ratio_embedding_dim=8, patch_size=1, conditioning_dim=12,
        block_out_channels=[8, 12, 16], num_attention_heads=[2, 5, 4], down_num_layers_per_block=[1, 1, 1],
        up_num_layers_per_block=[2, 1, 1], down_blocks_repeat_mappers=[2, 1, 3], up_blocks_repeat_mappers=[1, 2, 2],
        block_types_per_layer=[[R, A], [A, T, R], [R, T, A]], clip_text_in_channels=6, clip_text_pooled_in_channels=5,
        clip_image_in_channels=4, clip_seq=3, effnet_in_channels=None, pixel_mapper_in_channels=None,
        kernel_size=3, dropout=0.0, self_attn=[True, False, True], timestep_conditioning_type=[],
        switch_level=None,
    ),
    # switch_level with resampling enabled (bilinear x0.5 / x2 in UpDownBlock2d), an odd embedding
    # width (zero-padded column), a custom conditioning name, self_attn False everywhere.
    "switch": dict(
        in_channels=4, out_channels=4, timestep_ratio_embedding_dim=9, patch_size=1, conditioning_dim=8,
        block_out_channels=[8, 16, 16], num_attention_heads=[1, 2, 4], down_num_layers_per_block=[1, 1, 1],
        up_num_layers_per_block=[1, 1, 1], down_blocks_repeat_mappers=[1, 1, 1], up_blocks_repeat_mappers=[1, 1, 1],
        block_types_per_layer=[[R, T, A], [R, T, A], [R, T, A]], clip_text_in_channels=None,
        clip_text_pooled_in_channels=6, clip_image_in_channels=None, clip_seq=4, effnet_in_channels=None,
        pixel_mapper_in_channels=None, kernel_size=3, dropout=0.0, self_attn=False,
        timestep_conditioning_type=["sca", "foo"], switch_level=[True, False],
    ),
}


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Replace every parameter by fixed-seed random values of a scale that keeps activations O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2 and not name.endswith(("gamma", "beta")):
                fan_in = p.numel() // p.shape[0]
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def make_model(name: str, seed: int) -> StableCascadeUNet:
    torch.manual_seed(seed)
    model = StableCascadeUNet(**CONFIGS[name]).eval()
    randomise(model, seed)
    return model


def to_original_naming(sd: dict, is_stage_c: bool) -> dict:
    """The inverse of diffusers' convert_stable_cascade_unet_single_file_to_diffusers."""
    out = {}
    for key, v in sd.items():
        if ".attention.to_q." in key:
            kind = key.rsplit(".", 1)[1]
            base = key[: -len("to_q." + kind)]
            qkv = [sd[base + p + "." + kind] for p in ("to_q", "to_k", "to_v")]
            out[base + "attn.in_proj_" + kind] = torch.cat(qkv, 0).contiguous()
        elif ".attention.to_k." in key or ".attention.to_v." in key:
            continue
        elif ".attention.to_out.0." in key:
            out[key.replace("attention.to_out.0.", "attention.attn.out_proj.")] = v
        elif not is_stage_c and key.startswith("clip_txt_pooled_mapper."):
            out[key.replace("clip_txt_pooled_mapper.", "clip_mapper.")] = v
        else:
            out[key] = v
    return out


def randn(g: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(shape, generator=g)


def cases_for(name: str, cfg: dict, g: torch.Generator) -> list:
    """Forward-call argument sets (NCHW float32 tensors) covering the config's input paths."""
    cin = cfg["in_channels"]
    pooled = cfg["clip_text_pooled_in_channels"]
    out = []
    if name == "prior_like":
        for b, hw, ratios in ((2, (6, 5), [0.93, 0.41]), (1, (4, 4), [1.0]), (2, (3, 7), [0.0, 0.0375])):
            full = dict(
                sample=randn(g, b, cin, *hw), timestep_ratio=torch.tensor(ratios), clip_text_pooled=randn(g, b, 1, pooled),
                clip_text=randn(g, b, 7, cfg["clip_text_in_channels"]), clip_img=randn(g, b, 1, cfg["clip_image_in_channels"]),
            )
            out.append(full)
        # clip_img given as a 2-D array (unsqueezed), two pooled tokens, two image tokens
        out.append(dict(
            sample=randn(g, 2, cin, 5, 6), timestep_ratio=torch.tensor([0.5, 0.25]), clip_text_pooled=randn(g, 2, 2, pooled),
            clip_text=randn(g, 2, 3, cfg["clip_text_in_channels"]), clip_img=randn(g, 2, cfg["clip_image_in_channels"]),
        ))
        out.append(dict(
            sample=randn(g, 2, cin, 5, 6), timestep_ratio=torch.tensor([0.7, 0.2]), clip_text_pooled=randn(g, 2, 1, pooled),
            clip_text=randn(g, 2, 3, cfg["clip_text_in_channels"]), clip_img=randn(g, 2, 2, cfg["clip_image_in_channels"]),
        ))
        # pooled only, and clip_text without clip_img (diffusers drops the text tokens then)
        out.append(dict(sample=randn(g, 2, cin, 6, 5), timestep_ratio=torch.tensor([0.6, 0.3]),
                        clip_text_pooled=randn(g, 2, 1, pooled)))
        out.append(dict(sample=randn(g, 1, cin, 6, 5), timestep_ratio=torch.tensor([0.8]),
                        clip_text_pooled=randn(g, 1, 1, pooled), clip_text=randn(g, 1, 7, cfg["clip_text_in_channels"])))
    elif name == "decoder_like":
        eff = cfg["effnet_in_channels"]
        # 16x20 -> 8x10 after the patch: levels 8x10, 4x5, 2x2, 1x1; the 4x4 up output is resized to 4x5
        out.append(dict(sample=randn(g, 2, cin, 16, 20), timestep_ratio=torch.tensor([0.9, 0.35]),
                        clip_text_pooled=randn(g, 2, 1, pooled), effnet=randn(g, 2, eff, 3, 4)))
        out.append(dict(sample=randn(g, 2, cin, 16, 20), timestep_ratio=torch.tensor([1.0, 0.05]),
                        clip_text_pooled=randn(g, 2, 1, pooled)))
        out.append(dict(sample=randn(g, 1, cin, 20, 16), timestep_ratio=torch.tensor([0.5]),
                        clip_text_pooled=randn(g, 1, 1, pooled), effnet=randn(g, 1, eff, 6, 4),
                        pixels=randn(g, 1, 3, 8, 8)))
        out.append(dict(sample=randn(g, 2, cin, 16, 18), timestep_ratio=torch.tensor([0.25, 0.75]),
                        clip_text_pooled=randn(g, 2, 1, pooled), effnet=randn(g, 2, eff, 4, 4),
                        pixels=randn(g, 2, 3, 5, 3)))
    elif name == "odd":
        txt, img = cfg["clip_text_in_channels"], cfg["clip_image_in_channels"]
        out.append(dict(sample=randn(g, 1, cin, 7, 9), timestep_ratio=torch.tensor([0.66]),
                        clip_text_pooled=randn(g, 1, 1, pooled), clip_text=randn(g, 1, 5, txt), clip_img=randn(g, 1, 1, img)))
        out.append(dict(sample=randn(g, 2, cin, 11, 6), timestep_ratio=torch.tensor([0.12, 0.99]),
                        clip_text_pooled=randn(g, 2, 1, pooled), clip_text=randn(g, 2, 4, txt), clip_img=randn(g, 2, 1, img)))
        out.append(dict(sample=randn(g, 2, cin, 5, 5), timestep_ratio=torch.tensor([0.4, 0.45]),
                        clip_text_pooled=randn(g, 2, 1, pooled)))
    elif name == "switch":
        # 9x6 -> (conv, x0.5) 4x3 -> (conv) 4x3; up: 4x3 -> (x2, conv) 8x6, resized to the 9x6 skip
        out.append(dict(sample=randn(g, 2, cin, 9, 6), timestep_ratio=torch.tensor([0.3, 0.8]),
                        clip_text_pooled=randn(g, 2, 1, pooled)))
        out.append(dict(sample=randn(g, 1, cin, 4, 4), timestep_ratio=torch.tensor([1.0]),
                        clip_text_pooled=randn(g, 1, 1, pooled)))
    return out


def run(model: StableCascadeUNet, args: dict) -> np.ndarray:
    with torch.no_grad():
        return model(**args).sample.numpy()


def record(cases: list, model: StableCascadeUNet, prefix: str, arrays: dict) -> None:
    for k, args in enumerate(cases):
        for key, v in args.items():
            arrays[f"{prefix}{k}.{key}"] = v.numpy().astype(np.float32)
        arrays[f"{prefix}{k}.out"] = run(model, args)


def check_single_file(model: StableCascadeUNet, path: str, folder: str, cases: list) -> None:
    """diffusers' own conversion maps our original-naming file back exactly, and its single-file
    loader builds a model with identical outputs."""
    converted = convert_stable_cascade_unet_single_file_to_diffusers(load_file(path))
    reference = model.state_dict()
    assert sorted(converted) == sorted(reference), "original naming does not round-trip"
    for key, v in converted.items():
        assert torch.equal(v, reference[key]), key
    loaded = StableCascadeUNet.from_single_file(path, config=folder, local_files_only=True).eval()
    for args in cases:
        assert np.array_equal(run(loaded, args), run(model, args)), "single-file load differs"


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "unet")
    out_dir = os.path.abspath(out_dir)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    torch.set_num_threads(1)
    for seed, name in enumerate(CONFIGS):
        cfg = CONFIGS[name]
        model = make_model(name, 1000 + seed)
        folder = os.path.join(out_dir, name)
        model.save_pretrained(folder, safe_serialization=True)
        g = torch.Generator().manual_seed(2000 + seed)
        cases = cases_for(name, cfg, g)
        arrays = {}
        record(cases, model, "c", arrays)

        if name == "prior_like":
            model.save_pretrained(os.path.join(out_dir, name + "_sharded"), safe_serialization=True,
                                  max_shard_size="120KB")
        if name == "decoder_like":
            model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True, variant="bf16")
            rounded = model.to(torch.float32)  # parameters now hold the bf16-rounded values
            record(cases[:1], rounded, "b", arrays)
            model = make_model(name, 1000 + seed)
        if name in ("prior_like", "decoder_like"):
            path = os.path.join(out_dir, name + "_original.safetensors")
            sd = {k: v.contiguous() for k, v in model.state_dict().items()}
            save_file(to_original_naming(sd, cfg["clip_text_in_channels"] is not None), path)
            check_single_file(model, path, folder, cases[:1])
        np.savez_compressed(os.path.join(out_dir, name + ".npz"), **arrays)
        with open(os.path.join(folder, "config.json")) as f:
            saved = json.load(f)
        print(f"{name}: {sum(p.numel() for p in model.parameters())} params, {len(cases)} cases, "
              f"config keys {len(saved)}")
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out_dir) for f in fs)
    print(f"wrote {out_dir} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
