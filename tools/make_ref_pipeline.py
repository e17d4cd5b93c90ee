"""Reference data for the end-to-end pipeline test (run with torch + diffusers + transformers).

Builds a consistent set of tiny random-weight components (CLIP text encoder with the real CLIP
vocabulary, Stage C prior, Stage B decoder, Paella VQ Stage A, DDPMWuerstchen schedulers), saves
them as two folders laid out like the Hub repos stabilityai/stable-cascade-prior and
stabilityai/stable-cascade under tests/data/pipeline/, then runs diffusers'
StableCascadePriorPipeline followed by StableCascadeDecoderPipeline in float32 with ONE
torch.Generator("cpu") shared by both (as infer_stable_cascade does) and records the stage outputs
and the final uint8 images in tests/data/pipeline/reference.npz.

    /path/to/venv-with-torch/bin/python tools/make_ref_pipeline.py

Needs tests/data/tokenizer/clip/ (the real CLIP BPE files, see tools/make_clip_vocab.py).
"""
import json
import os
import shutil

import numpy as np
import torch
from diffusers import (DDPMWuerstchenScheduler, StableCascadeDecoderPipeline, StableCascadePriorPipeline,
                       StableCascadeUNet)
from diffusers.pipelines.wuerstchen import PaellaVQModel
from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizerFast

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
OUT = os.path.join(ROOT, "pipeline")
TOKENIZER = os.path.join(ROOT, "tokenizer", "clip")

# Parameter sets recorded (infer_stable_cascade names). Sizes are multiples of 128.
CASES = {
    "cfg_prior": dict(prompt="a chubby hamster climbing a mountain", negative_prompt="",
                      prior_num_inference_steps=3, prior_guidance_scale=4.0, num_inference_steps=2,
                      guidance_scale=0.0, seed=142753564, width=256, height=256, num_images_per_prompt=1),
    "cfg_both_two_images": dict(prompt="Anthropomorphic cat dressed as a pilot", negative_prompt="blurry, ugly",
                                prior_num_inference_steps=2, prior_guidance_scale=2.5, num_inference_steps=3,
                                guidance_scale=1.5, seed=7, width=384, height=256, num_images_per_prompt=2),
    "no_cfg": dict(prompt="", negative_prompt="", prior_num_inference_steps=2, prior_guidance_scale=1.0,
                   num_inference_steps=2, guidance_scale=0.0, seed=0, width=128, height=256,
                   num_images_per_prompt=1),
}


def randomize(module: torch.nn.Module, seed: int) -> None:
    """Replace every parameter (zero-initialised ones included) by scaled random values so that
    every path of the network influences the result."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in**0.5)
            elif name.endswith("gammas"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def text_encoder():
    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=16, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act="gelu",
                         layer_norm_eps=1e-5, projection_dim=16, bos_token_id=49406, eos_token_id=49407,
                         pad_token_id=1)
    torch.manual_seed(1)
    model = CLIPTextModelWithProjection(cfg).eval()
    with torch.no_grad():  # a larger embedding scale than the default 0.02 keeps prompts distinguishable
        model.text_model.embeddings.token_embedding.weight.mul_(20)
    return model


def prior_unet():
    model = StableCascadeUNet(
        in_channels=16, out_channels=16, timestep_ratio_embedding_dim=64, patch_size=1, conditioning_dim=32,
        block_out_channels=(32, 32), num_attention_heads=(2, 2), down_num_layers_per_block=(1, 2),
        up_num_layers_per_block=(2, 1), down_blocks_repeat_mappers=(1, 1), up_blocks_repeat_mappers=(1, 1),
        block_types_per_layer=(("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"),) * 2,
        clip_text_in_channels=16, clip_text_pooled_in_channels=16, clip_image_in_channels=8, clip_seq=4,
        kernel_size=3, dropout=(0.0, 0.0), self_attn=True, timestep_conditioning_type=("sca", "crp"),
        switch_level=(False,))
    randomize(model, 2)
    return model.eval()


def decoder_unet():
    model = StableCascadeUNet(
        in_channels=4, out_channels=4, timestep_ratio_embedding_dim=64, patch_size=2, conditioning_dim=24,
        block_out_channels=(8, 16, 24, 24), num_attention_heads=(0, 0, 2, 2), down_num_layers_per_block=(1, 1, 2, 1),
        up_num_layers_per_block=(1, 2, 1, 1), down_blocks_repeat_mappers=(1, 1, 1, 1),
        up_blocks_repeat_mappers=(2, 2, 1, 1),
        block_types_per_layer=(("SDCascadeResBlock", "SDCascadeTimestepBlock"),) * 2
        + (("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"),) * 2,
        clip_text_pooled_in_channels=16, clip_seq=4, effnet_in_channels=16, pixel_mapper_in_channels=3,
        kernel_size=3, dropout=(0.0, 0.0, 0.0, 0.0), self_attn=True, timestep_conditioning_type=("sca",),
        switch_level=None)
    randomize(model, 3)
    return model.eval()


def vqgan():
    model = PaellaVQModel(in_channels=3, out_channels=3, up_down_scale_factor=2, levels=2, bottleneck_blocks=2,
                          embed_dim=16, latent_channels=4, num_vq_embeddings=32, scale_factor=0.3764)
    randomize(model, 4)
    with torch.no_grad():
        # The random prior/decoder leave latents of magnitude ~100 (nothing cancels the sampler's
        # first-step gain the way a trained eps prediction does); scale the Stage A input and output
        # so the test images are spread over 0..255 instead of clamped to 0 or 255.
        model.up_blocks[0][0].weight.mul_(0.01)
        model.out_block[0].weight.mul_(0.3)
        model.out_block[0].bias.fill_(0.5)
    return model.eval()


def save_hub_repos(out, te, prior, decoder, vq):
    """Save the components as two folders laid out like the Hub repos, `out`/stable-cascade-prior
    and `out`/stable-cascade (both with the same text encoder and the real CLIP tokenizer files).
    Returns (prior_pipe, decoder_pipe, prior_dir, decoder_dir)."""
    tokenizer = CLIPTokenizerFast.from_pretrained(TOKENIZER)
    prior_pipe = StableCascadePriorPipeline(tokenizer=tokenizer, text_encoder=te, prior=prior,
                                            scheduler=DDPMWuerstchenScheduler())
    decoder_pipe = StableCascadeDecoderPipeline(decoder=decoder, tokenizer=tokenizer, text_encoder=te,
                                                scheduler=DDPMWuerstchenScheduler(), vqgan=vq)
    prior_dir = os.path.join(out, "stable-cascade-prior")
    decoder_dir = os.path.join(out, "stable-cascade")
    prior_pipe.save_pretrained(prior_dir, safe_serialization=True)
    decoder_pipe.save_pretrained(decoder_dir, safe_serialization=True)
    for repo in (prior_dir, decoder_dir):  # the Hub repos ship vocab.json + merges.txt, not tokenizer.json
        shutil.rmtree(os.path.join(repo, "tokenizer"))
        shutil.copytree(TOKENIZER, os.path.join(repo, "tokenizer"))
    return prior_pipe, decoder_pipe, prior_dir, decoder_dir


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    prior_pipe, decoder_pipe, _, _ = save_hub_repos(OUT, text_encoder(), prior_unet(), decoder_unet(), vqgan())

    record = {}
    for name, case in CASES.items():
        g = torch.Generator("cpu").manual_seed(case["seed"])
        with torch.no_grad():
            prior_out = prior_pipe(prompt=case["prompt"], negative_prompt=case["negative_prompt"],
                                   height=case["height"], width=case["width"],
                                   num_inference_steps=case["prior_num_inference_steps"],
                                   guidance_scale=case["prior_guidance_scale"],
                                   num_images_per_prompt=case["num_images_per_prompt"], generator=g)
            emb = prior_out.image_embeddings
            latents = decoder_pipe(image_embeddings=emb, prompt=case["prompt"],
                                   negative_prompt=case["negative_prompt"],
                                   guidance_scale=case["guidance_scale"],
                                   num_inference_steps=case["num_inference_steps"], generator=g,
                                   output_type="latent").images
            # Same draw order again for the images: a fresh generator reproduces the stream.
            g = torch.Generator("cpu").manual_seed(case["seed"])
            emb2 = prior_pipe(prompt=case["prompt"], negative_prompt=case["negative_prompt"],
                              height=case["height"], width=case["width"],
                              num_inference_steps=case["prior_num_inference_steps"],
                              guidance_scale=case["prior_guidance_scale"],
                              num_images_per_prompt=case["num_images_per_prompt"], generator=g).image_embeddings
            images = decoder_pipe(image_embeddings=emb2, prompt=case["prompt"],
                                  negative_prompt=case["negative_prompt"], guidance_scale=case["guidance_scale"],
                                  num_inference_steps=case["num_inference_steps"], generator=g,
                                  output_type="np").images
        pixels = np.stack([np.array(img) for img in decoder_pipe.numpy_to_pil(images)])
        record[f"{name}/image_embeddings"] = emb.float().numpy()
        record[f"{name}/decoder_latents"] = latents.float().numpy()
        record[f"{name}/images"] = pixels
        record[f"{name}/params"] = np.array(json.dumps(case))
        print(name, emb.shape, latents.shape, pixels.shape, "pixel mean", pixels.mean(), "std", pixels.std())
    np.savez_compressed(os.path.join(OUT, "reference.npz"), **record)


if __name__ == "__main__":
    main()
