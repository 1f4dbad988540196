#!/usr/bin/env python3
"""Writes the safetensors fixtures of `causalgrad import` (tests/test_interop.cpp).

Run by hand, with a Python that has PyTorch (Debian: python3-torch):

    /usr/bin/python3 tests/parity/make_safetensors_fixtures.py

A tiny attention GPT (make_fixtures.py's model: 2 layers, n_head 2, n_embd 16, block_size 8,
vocab 11, biases, tanh GELU), saved the way a nanoGPT user would save its state_dict: nanoGPT's
names, lm_head.weight beside the tied transformer.wte.weight, the causal-mask buffers
transformer.h.<l>.attn.bias that nanoGPT registers on PyTorch < 2.0, and no causalgrad metadata.
Debian has no python3-safetensors, so the files are written here from the format's definition
(8-byte little-endian header length, JSON header, raw little-endian data):

    nanogpt_f32.safetensors    F32, lm_head and wte both present, with the mask buffers
    nanogpt_f16.safetensors    F16, only lm_head.weight for the tied pair, no mask buffers
                               (the state_dict of PyTorch >= 2.0, where nanoGPT has no buffer)
    nanogpt_bf16.safetensors   BF16, both names, with the mask buffers
    nanogpt_expected.safetensors   x (B, T) token ids as F32, and PyTorch's float32 logits
                               (B, T, V) of each file's weights (logits_f32, logits_f16,
                               logits_bf16: the weights rounded to that dtype and back)
"""

import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (the PyTorch model of the parity fixtures)

CONFIG = dict(mf.BASE, n_layer=2, mixer="attn", bias=True)
B, T = 2, 8
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def tensor_bytes(t, dtype):
    t = t.detach().contiguous().to(DTYPES[dtype]).flatten()
    if dtype == "F32":
        return struct.pack("<%df" % t.numel(), *t.tolist())
    return struct.pack("<%dh" % t.numel(), *t.view(torch.int16).tolist())  # the raw 16-bit patterns


def write_safetensors(path, tensors, dtype):
    """tensors: list of (name, tensor); every tensor stored as `dtype`."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        blob = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    print("%-30s %6d bytes, %d tensors" % (os.path.basename(path), 8 + len(text) + offset, len(tensors)))


def nanogpt_state_dict(model, with_lm_head, with_wte, with_masks):
    """model's weights under nanoGPT's state_dict keys."""
    sd = []
    bs = CONFIG["block_size"]
    mask = torch.tril(torch.ones(bs, bs)).view(1, 1, bs, bs)
    for name, p in model.state_dict().items():
        if name == "transformer.wte.weight" and not with_wte:
            continue
        sd.append((name, p))
        if with_masks and name.endswith(".ln_1.bias"):  # the block's buffer, next to its attention
            sd.append((name.replace(".ln_1.bias", ".attn.bias"), mask))
    if with_lm_head:
        sd.append(("lm_head.weight", model.transformer.wte.weight))
    return sd


def main():
    torch.set_num_threads(1)
    print("PyTorch %s, writing fixtures to %s" % (torch.__version__, HERE))
    torch.manual_seed(2024)
    gen = torch.Generator().manual_seed(2024)
    model = mf.GPT(CONFIG)
    mf.init_parameters(model, gen)
    x = torch.randint(0, CONFIG["vocab_size"], (B, T), generator=gen)
    expected = [("x", x.float())]
    layouts = {"F32": (True, True, True), "F16": (True, False, False), "BF16": (True, True, True)}
    for dtype, (with_lm_head, with_wte, with_masks) in layouts.items():
        rounded = mf.GPT(CONFIG)
        with torch.no_grad():
            for (_, p), (_, q) in zip(rounded.named_parameters(), model.named_parameters()):
                p.copy_(q.to(DTYPES[dtype]).float())
            expected.append(("logits_" + dtype.lower(), rounded(x)))
        sd = nanogpt_state_dict(model, with_lm_head, with_wte, with_masks)
        write_safetensors(os.path.join(HERE, "nanogpt_%s.safetensors" % dtype.lower()), sd, dtype)
    write_safetensors(os.path.join(HERE, "nanogpt_expected.safetensors"), expected, "F32")


if __name__ == "__main__":
    main()
