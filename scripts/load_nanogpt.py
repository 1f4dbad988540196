#!/usr/bin/env python3
"""Loads a `causalgrad export` into nanoGPT's model.py (unchanged), with PyTorch only.

    /usr/bin/python3 scripts/load_nanogpt.py out/model.safetensors --nanogpt=PATH/TO/nanoGPT \
        [--sample=200 --start="ROMEO:"]

reads the file (no safetensors package needed), builds nanoGPT's GPTConfig from the file's
metadata, loads the weights with strict=True, prints the config, and with --sample generates text
with nanoGPT's GPT.generate and the vocabulary stored in the file. From Python:

    import load_nanogpt, model                      # model: nanoGPT's model.py
    gpt, vocab = load_nanogpt.load_nanogpt("out/model.safetensors", model)

Exports whose blocks are not all attention with a GELU MLP (the replacement mixers) are refused:
nanoGPT's model would build attention weights the file does not have.

GELU: causalgrad uses the tanh form, nanoGPT's nn.GELU() the exact one. By default the loader sets
`approximate="tanh"` on the loaded model's GELU modules so that it computes what causalgrad
trained; pass exact_gelu=True (--exact_gelu) to keep nanoGPT's.
"""

import argparse
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
MODEL_KEYS = {"n_layer": int, "n_head": int, "n_embd": int, "block_size": int, "vocab_size": int,
              "dropout": float, "bias": lambda v: v == "True"}


class NotNanoGPT(ValueError):
    """The file holds a model nanoGPT's model.py cannot represent."""


def read_safetensors(path):
    """-> (metadata dict, {name: float tensor}) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for safetensors" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length %d exceeds the file; it is truncated" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, d in header.items():
        if d["dtype"] not in DTYPES:
            raise ValueError("%s: %s has dtype %s; this loader reads F32, F16, BF16" % (path, name, d["dtype"]))
        begin, end = d["data_offsets"]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        t = torch.frombuffer(raw, dtype=DTYPES[d["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[d["dtype"]])
        tensors[name] = t.reshape(d["shape"]).float()
    return meta, tensors


def check_nanogpt_compatible(path, meta):
    if "n_layer" not in meta:
        raise NotNanoGPT("%s has no causalgrad metadata (n_layer, n_head, ...); this loader reads files "
                         "written by `causalgrad export`" % path)
    if meta.get("nanogpt_compatible") == "True":
        return
    layers = int(meta["n_layer"])
    other = ["block %d: %s" % (l, meta["mixer.%d" % l]) for l in range(layers) if meta["mixer.%d" % l] != "attn"]
    if meta.get("activation", "gelu") != "gelu":
        other.append("MLP activation: %s" % meta["activation"])
    random = ", with random attention weights in those blocks" if other[0].startswith("block") else ""
    raise NotNanoGPT("%s is not a nanoGPT model: it uses causalgrad's replacement mixers or activations (%s), "
                     "which nanoGPT's attention blocks and GELU MLPs are not; loaded into nanoGPT's GPT it would "
                     "compute something else%s. Use it with `causalgrad sample/eval`" % (path, "; ".join(other), random))


def load_nanogpt(path, model_module, exact_gelu=False):
    """-> (nanoGPT GPT with the file's weights, loaded strictly, in eval mode; vocab as a list of chars)."""
    meta, tensors = read_safetensors(path)
    check_nanogpt_compatible(path, meta)
    config = model_module.GPTConfig(**{k: parse(meta[k]) for k, parse in MODEL_KEYS.items()})
    model = model_module.GPT(config)
    # nanoGPT keeps the causal mask as a buffer only where PyTorch lacks flash attention (< 2.0);
    # the export carries it for those, and it is dropped where the model has no such buffer.
    expected = model.state_dict().keys()
    state = {k: v for k, v in tensors.items() if k in expected or not k.endswith(".attn.bias")}
    model.load_state_dict(state, strict=True)
    if not exact_gelu:
        for module in model.modules():
            if isinstance(module, torch.nn.GELU):
                module.approximate = "tanh"
    model.eval()
    vocab = [chr(int(c)) for c in meta["vocab"].split(",")]
    return model, vocab


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="a safetensors file written by `causalgrad export`")
    ap.add_argument("--nanogpt", required=True, help="folder holding nanoGPT's model.py")
    ap.add_argument("--exact_gelu", action="store_true", help="keep nanoGPT's exact GELU")
    ap.add_argument("--sample", type=int, default=0, help="generate this many characters")
    ap.add_argument("--start", default="\n", help="text to continue")
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()
    sys.path.insert(0, args.nanogpt)
    import model as model_module  # nanoGPT's model.py

    try:
        gpt, vocab = load_nanogpt(args.file, model_module, args.exact_gelu)
    except NotNanoGPT as e:
        sys.exit("load_nanogpt: %s" % e)
    c = gpt.config
    print("loaded %s strictly: n_layer %d, n_head %d, n_embd %d, block_size %d, vocab %d, bias %s, dropout %g" %
          (args.file, c.n_layer, c.n_head, c.n_embd, c.block_size, c.vocab_size, c.bias, c.dropout))
    if args.sample > 0:
        torch.manual_seed(args.seed)
        idx = torch.tensor([[vocab.index(ch) for ch in args.start]], dtype=torch.long)
        with torch.no_grad():
            out = gpt.generate(idx, args.sample, temperature=0.8, top_k=200)
        print("".join(vocab[i] for i in out[0].tolist()))


if __name__ == "__main__":
    main()
