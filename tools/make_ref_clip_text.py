"""Reference data for the CLIP text encoder: tiny random CLIPTextModelWithProjection models.

Run with the reference environment (torch CPU + transformers):

    /work/refenv/bin/python tools/make_ref_clip_text.py [--out tests/data/clip_text]

For every model it writes a Hub-layout folder `<out>/<name>/` (config.json + weights exactly as
`save_pretrained` writes them) and `<out>/<name>.npz` with the inputs and transformers' float32
outputs (eager attention), with and without the attention mask:

    input_ids, attention_mask                      int64 [B, T]
    hidden_states                                  transformers' hidden_states[-1] (pre final LN)
    last_hidden_state, text_embeds
    nomask_hidden_states, nomask_last_hidden_state, nomask_text_embeds   (attention_mask=None)
    pooled_index                                   int64 [B], the row each text_embeds was pooled from

Models (weights re-drawn from wide distributions so that every term matters):
    tiny            real vocab (49408), hidden 16, 2 heads, gelu, eos_token_id 2 (legacy argmax
                    pooling, as the Stable Cascade config): the model the pipeline tests use;
                    fed real CLIP token ids padded with <|endoftext|>.
    eos49407        real vocab, hidden 8, eos_token_id 49407 (first-EOS pooling), plus a bf16
                    variant file (model.bf16.safetensors; outputs recorded as bf16_*).
    wide_quick_gelu vocab 1000, hidden 128, 2 heads of 64 channels, quick_gelu, 2 layers,
                    eos_token_id 2 with ids whose maximum is not an EOS (argmax rule, ties),
                    T=20 < max_position_embeddings, saved as several shards + index.
    first_eos       vocab 1000, eos_token_id 500 with larger ids before the first EOS (so the
                    argmax rule would pick another row) and a row without any EOS.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np

# The installed torchvision does not match torch; transformers only needs it for image models.
sys.modules["torchvision"] = None

import torch  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModelWithProjection  # noqa: E402

BOS, EOS = 49406, 49407
PROMPTS = [
    "a photo of a cat",
    "",
    "an image of a shiba inu, donning a spacesuit and helmet",
    "1024x1024 photo",
    " ".join("word%d" % i for i in range(60)),  # > 75 tokens: truncated, mask all ones
    "<|endoftext|>",                             # literal EOS: pooled at index 1
]


def clip_content_ids(text):
    """Content token ids of `text` with open_clip's BPE (equal to the HF tokenizer for ASCII)."""
    if text == "<|endoftext|>":
        return [EOS]
    # Load open_clip's tokenizer module alone: the package itself imports torchvision.
    folder = importlib.util.find_spec("open_clip").submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location("oc_tokenizer", os.path.join(folder, "tokenizer.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.SimpleTokenizer().encode(text)


def real_token_batch(T=77):
    ids = np.full((len(PROMPTS), T), EOS, np.int64)
    mask = np.zeros((len(PROMPTS), T), np.int64)
    for b, p in enumerate(PROMPTS):
        row = [BOS] + clip_content_ids(p)[: T - 2] + [EOS]
        ids[b, : len(row)] = row
        mask[b, : len(row)] = 1
    return ids, mask


def randomize(model, seed):
    """Wide random weights: unit-scale activations, LayerNorm affines far from (1, 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif "embedding" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:  # Linear [out, in]
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(p.shape[1]))


def run(model, ids, mask, eos_token_id):
    def fwd(m):
        with torch.no_grad():
            o = model(input_ids=torch.from_numpy(ids), attention_mask=None if m is None else torch.from_numpy(m),
                      output_hidden_states=True)
        hs = o.hidden_states
        assert len(hs) == model.config.num_hidden_layers + 1
        # Spec item 6: hidden_states[-1] must be the pre-final-LayerNorm output.
        ln = model.text_model.final_layer_norm(hs[-1])
        assert torch.equal(ln, o.last_hidden_state) and not torch.equal(hs[-1], o.last_hidden_state)
        return hs[-1].numpy(), o.last_hidden_state.numpy(), o.text_embeds.numpy()

    out = {}
    out["hidden_states"], out["last_hidden_state"], out["text_embeds"] = fwd(mask)
    out["nomask_hidden_states"], out["nomask_last_hidden_state"], out["nomask_text_embeds"] = fwd(None)
    if eos_token_id == 2:
        out["pooled_index"] = ids.argmax(-1)
    else:
        out["pooled_index"] = (ids == eos_token_id).astype(np.int64).argmax(-1)
    return out


def build(out_dir, name, cfg, ids, mask, seed, shard=None, bf16_variant=False):
    torch.manual_seed(seed)
    config = CLIPTextConfig(attn_implementation="eager", max_position_embeddings=77, bos_token_id=0, pad_token_id=1,
                            attention_dropout=0.0, dropout=0.0, **cfg)
    model = CLIPTextModelWithProjection(config).eval().float()
    model.config._attn_implementation = "eager"
    randomize(model, seed)
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    arrays = {"input_ids": ids, "attention_mask": mask}
    if bf16_variant:
        # Reference for the variant: the bf16 weights computed in float32.
        model.to(torch.bfloat16).save_pretrained(folder, variant="bf16")
        model.float()
        for k, v in run(model, ids, mask, cfg["eos_token_id"]).items():
            arrays["bf16_" + k] = v
        with torch.no_grad():  # back to the exact float32 weights
            randomize(model, seed)
    model.save_pretrained(folder, **({"max_shard_size": shard} if shard else {}))
    arrays.update(run(model, ids, mask, cfg["eos_token_id"]))
    np.savez_compressed(os.path.join(out_dir, name + ".npz"), **arrays)
    files = sorted(os.listdir(folder))
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    with open(os.path.join(folder, "config.json")) as f:
        act = json.load(f)["hidden_act"]
    print("%-16s %s act=%s %.2f MB  %s" % (name, ids.shape, act, size / 1e6, files))


def synthetic_batch(rng, vocab, T, lengths, eos, pad):
    ids = rng.integers(3, vocab, size=(len(lengths), T), dtype=np.int64)
    ids[ids == eos] = eos - 1  # EOS only where placed below
    mask = np.zeros_like(ids)
    for b, n in enumerate(lengths):
        ids[b, 0] = 1
        if n < T:
            ids[b, n - 1] = eos
            ids[b, n:] = pad
        mask[b, :n] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "clip_text"))
    out = os.path.abspath(ap.parse_args().out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)

    ids, mask = real_token_batch()
    base = dict(vocab_size=49408, intermediate_size=37, num_hidden_layers=2, layer_norm_eps=1e-5, hidden_act="gelu")
    build(out, "tiny", dict(base, hidden_size=16, num_attention_heads=2, projection_dim=24, eos_token_id=2),
          ids, mask, seed=1)
    build(out, "eos49407", dict(base, hidden_size=8, num_attention_heads=2, intermediate_size=19, projection_dim=12,
                                eos_token_id=EOS), ids, mask, seed=2, bf16_variant=True)

    rng = np.random.default_rng(3)
    ids, mask = synthetic_batch(rng, 1000, 20, [20, 5, 2, 13], eos=999, pad=999)
    ids[2, 5] = 0                        # a masked key in the middle of row 2's padding
    ids[3, 4] = 999                      # row 3: the max id twice (4 and 12): the first wins
    mask[3, 6] = 0                       # and a masked key in the middle of row 3's text
    build(out, "wide_quick_gelu", dict(vocab_size=1000, hidden_size=128, num_attention_heads=2, intermediate_size=129,
                                       num_hidden_layers=2, projection_dim=96, layer_norm_eps=1e-5,
                                       hidden_act="quick_gelu", eos_token_id=2), ids, mask, seed=4, shard="400KB")

    ids, mask = synthetic_batch(rng, 1000, 12, [12, 6, 3, 9], eos=500, pad=500)
    # row 0 is full length, so it holds no EOS at all: pooled at index 0 like transformers
    ids[1, 2] = 900                                   # larger than EOS before it
    build(out, "first_eos", dict(vocab_size=1000, hidden_size=16, num_attention_heads=4, intermediate_size=37,
                                 num_hidden_layers=2, projection_dim=24, layer_norm_eps=1e-6, hidden_act="gelu",
                                 eos_token_id=500), ids, mask, seed=5)


if __name__ == "__main__":
    main()
