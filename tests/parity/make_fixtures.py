#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures of tests/test_parity.cpp.

Run by hand, from anywhere, with a Python that has PyTorch (Debian: python3-torch):

    /usr/bin/python3 tests/parity/make_fixtures.py

It builds, in PyTorch (float32, CPU), a tiny GPT written here from the description of
causalgrad's model (models/gpt.h), not copied from anywhere:

    tokens (B, T) -> wte + wpe (B, T, C)
    each block:  x = x + mixer(ln_1(x));  x = x + mlp(ln_2(x))
    ln_f -> logits (B, T, V) = x @ wte^T  (lm_head tied to the token embedding)
    loss = mean cross-entropy of logits against the targets y

with pre-LN blocks, LayerNorm eps 1e-5, an MLP of width 4C with tanh-GELU (or a sequence op
as the activation), dropout 0. A block's mixer is causal self-attention ("attn": c_attn, NH
heads, softmax(q k^T / sqrt(HS)) under a causal mask, c_proj) or a replacement mixer
c_proj(op(c_v(x))) with no c_attn and no heads (c_v only with mixer_vproj). The ops work along
T of (B, T, C), position 0 sees only itself:
    pair_max   y[t] = max(x[t], x[t-1])        pair_min  y[t] = min(x[t], x[t-1])
    scan_max   y[t] = max(x[t], y[t-1])        avg       y[t] = mean(x[0..t])
    pair_max+avg  y[t] = max(x[t], x[t-1], mean(x[0..t]))
Parameter names are nanoGPT's state_dict keys, as causalgrad's gpt_parameters() names them;
Linear weights are (out, in).

Weights are drawn much larger than nanoGPT's N(0, 0.02) so that softmax, max/min and GELU all
work away from their near-linear regime (see init_parameters). Everything is seeded, so the
files come out the same on every run with the same PyTorch build.

File format (all little-endian), one file per config, tests/parity/<name>.bin:
    8 bytes   magic "CGFIX001" (the format's name and version)
    uint32    number of entries
    each entry:
        uint32    name length, then the name's bytes (UTF-8)
        uint32    dtype: 0 float32, 1 int32, 2 text (UTF-8 bytes)
        uint32    ndim, then ndim int64 dims (text: one dim, its byte count)
        data      prod(dims) elements of the dtype, row-major
Entries:
    config          text, "key=value" lines: vocab_size, block_size, n_layer, n_head, n_embd,
                    dropout, bias, mixer, activation, mixer_vproj (GPTConfig's keys), and
                    the metadata keys name, torch_version
    x, y            int32 (B, T): input tokens and targets
    logits          float32 (B, T, V)
    loss            float32 (1): mean cross-entropy over the B*T positions
    param.<name>    float32, every parameter, in gpt_parameters() order
    grad.<name>     float32, d loss / d parameter, same order
"""

import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# Layer norm over the last dim with an optional bias (eps 1e-5): the same in nanoGPT and in
# causalgrad, so the fixtures' model takes it from the nanoGPT stand-in next to this file.
from nanogpt_model import LayerNorm

MAGIC = b"CGFIX001"
DTYPE_F32, DTYPE_I32, DTYPE_TEXT = 0, 1, 2
MAX_FILE_BYTES = 200 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- the model ----------------------------------------------------------------------------


def seq_op(name, x):
    """A sequence op along T of x (B, T, W); position 0 sees only itself."""
    T = x.shape[1]

    def pair(fn):  # y[0] = x[0], y[t] = fn(x[t], x[t-1])
        return torch.cat([x[:, :1], fn(x[:, 1:], x[:, :-1])], dim=1)

    def running_mean():  # y[t] = sum(x[0..t]) / (t + 1)
        count = torch.arange(1, T + 1, dtype=x.dtype).view(1, T, 1)
        return x.cumsum(dim=1) / count

    if name == "pair_max":
        return pair(torch.maximum)
    if name == "pair_min":
        return pair(torch.minimum)
    if name == "scan_max":
        return torch.cummax(x, dim=1).values
    if name == "scan_min":
        return torch.cummin(x, dim=1).values
    if name == "avg":
        return running_mean()
    if name == "pair_max+avg":
        return torch.maximum(pair(torch.maximum), running_mean())
    if name == "pair_min+avg":
        return torch.minimum(pair(torch.minimum), running_mean())
    raise ValueError("no such sequence op: " + name)


class CausalSelfAttention(nn.Module):
    def __init__(self, C, n_head, bias):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(C, 3 * C, bias=bias)
        self.c_proj = nn.Linear(C, C, bias=bias)

    def forward(self, x):
        B, T, C = x.shape
        NH, HS = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        q = q.view(B, T, NH, HS).transpose(1, 2)  # (B, NH, T, HS)
        k = k.view(B, T, NH, HS).transpose(1, 2)
        v = v.view(B, T, NH, HS).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(HS)  # (B, NH, T, T)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        probs = F.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        y = (probs @ v).transpose(1, 2).reshape(B, T, C)  # heads side by side
        return self.c_proj(y)


class SequenceMixer(nn.Module):
    """c_proj(op(c_v(x))): no c_attn, no heads; c_v only with the value projection."""

    def __init__(self, C, op, vproj, bias):
        super().__init__()
        self.op = op
        self.c_v = nn.Linear(C, C, bias=bias) if vproj else None
        self.c_proj = nn.Linear(C, C, bias=bias)

    def forward(self, x):
        v = self.c_v(x) if self.c_v is not None else x
        return self.c_proj(seq_op(self.op, v))


class MLP(nn.Module):
    def __init__(self, C, activation, bias):
        super().__init__()
        self.activation = activation
        self.c_fc = nn.Linear(C, 4 * C, bias=bias)
        self.c_proj = nn.Linear(4 * C, C, bias=bias)

    def forward(self, x):
        h = self.c_fc(x)  # (B, T, 4C)
        if self.activation == "gelu":
            h = F.gelu(h, approximate="tanh")
        else:
            h = seq_op(self.activation, h)
        return self.c_proj(h)


class Block(nn.Module):
    def __init__(self, cfg, mixer):
        super().__init__()
        C = cfg["n_embd"]
        self.ln_1 = LayerNorm(C, cfg["bias"])
        if mixer == "attn":
            self.attn = CausalSelfAttention(C, cfg["n_head"], cfg["bias"])
        else:
            self.attn = SequenceMixer(C, mixer, cfg["mixer_vproj"], cfg["bias"])
        self.ln_2 = LayerNorm(C, cfg["bias"])
        self.mlp = MLP(C, cfg["activation"], cfg["bias"])

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        mixers = cfg["mixer"].split(",")
        if len(mixers) == 1:
            mixers = mixers * cfg["n_layer"]
        assert len(mixers) == cfg["n_layer"], "one mixer, or one per layer"
        C = cfg["n_embd"]
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg["vocab_size"], C),
            wpe=nn.Embedding(cfg["block_size"], C),
            h=nn.ModuleList([Block(cfg, m) for m in mixers]),
            ln_f=LayerNorm(C, cfg["bias"]),
        ))

    def forward(self, idx):
        T = idx.shape[1]
        tr = self.transformer
        x = tr.wte(idx) + tr.wpe(torch.arange(T))  # (B, T, C)
        for block in tr.h:
            x = block(x)
        x = tr.ln_f(x)
        return x @ tr.wte.weight.t()  # (B, T, V): lm_head is wte


# ---- the fixtures -------------------------------------------------------------------------

BASE = dict(vocab_size=11, block_size=8, n_layer=4, n_head=2, n_embd=16, dropout=0.0,
            bias=False, mixer="attn", activation="gelu", mixer_vproj=False)

# (name, overrides of BASE, B, T). T < block_size in one config leaves a wpe row unused (its
# gradient is exactly 0) and checks the forward on a short sequence.
CONFIGS = [
    ("a_mixed", dict(mixer="attn,pair_max,scan_max,avg"), 3, 8),
    ("b_attn_bias", dict(n_layer=2, mixer="attn", bias=True), 3, 7),
    ("c_pair_max_vproj", dict(n_layer=2, mixer="pair_max", mixer_vproj=True), 3, 8),
    # Beyond the three asked for: the remaining mixer code paths (pair_min, the causal average
    # merged by max, biases on c_v / c_proj) and a sequence op as the MLP's activation.
    ("d_seq_activation", dict(n_layer=2, mixer="pair_min,pair_max+avg", mixer_vproj=True,
                              bias=True, activation="scan_max"), 3, 8),
]


def init_parameters(model, gen):
    """Large random weights: N(0, 0.5) embeddings, N(0, 0.3) Linear weights, N(1, 0.2) norm
    scales, N(0, 0.2) norm shifts, N(0, 0.1) Linear biases. With nanoGPT's N(0, 0.02) the
    attention would be uniform and GELU nearly linear, and the test would check much less."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.startswith("transformer.wte.") or name.startswith("transformer.wpe."):
                p.copy_(0.5 * noise)
            elif ".ln_" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif ".ln_" in name:
                p.copy_(0.2 * noise)
            elif name.endswith(".weight"):
                p.copy_(0.3 * noise)
            else:
                p.copy_(0.1 * noise)


def run(model, x, y):
    """logits, loss, and d loss / d parameter, by name."""
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    return logits.detach(), loss.detach(), grads


def rel_err(ours, ref):
    """max|ours - ref| / max(max|ref|, tiny), the measure tests/test_parity.cpp uses."""
    return ((ours.double() - ref.double()).abs().max() /
            max(ref.double().abs().max().item(), 1e-30)).item()


def entry(name, dtype, dims, payload):
    name_bytes = name.encode("utf-8")
    head = struct.pack("<I", len(name_bytes)) + name_bytes
    head += struct.pack("<II", dtype, len(dims)) + struct.pack("<%dq" % len(dims), *dims)
    return head + payload


def tensor_entry(name, t):
    t = t.detach().contiguous()
    if t.dtype == torch.float32:
        return entry(name, DTYPE_F32, list(t.shape), struct.pack("<%df" % t.numel(), *t.flatten().tolist()))
    if t.dtype in (torch.int32, torch.int64):
        return entry(name, DTYPE_I32, list(t.shape), struct.pack("<%di" % t.numel(), *t.flatten().tolist()))
    raise TypeError("unsupported dtype %s for %s" % (t.dtype, name))


def text_entry(name, text):
    data = text.encode("utf-8")
    return entry(name, DTYPE_TEXT, [len(data)], data)


def config_text(name, cfg):
    lines = ["name=" + name, "torch_version=" + torch.__version__]
    for key in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "dropout", "bias",
                "mixer", "activation", "mixer_vproj"):
        value = cfg[key]
        if isinstance(value, bool):
            value = int(value)
        lines.append("%s=%s" % (key, value))
    return "\n".join(lines) + "\n"


def make_fixture(index, name, overrides, B, T):
    cfg = dict(BASE, **overrides)
    torch.manual_seed(1000 + index)  # nn.Linear's own init draws; overwritten below anyway
    gen = torch.Generator().manual_seed(1000 + index)
    model = GPT(cfg)
    init_parameters(model, gen)
    x = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
    y = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)

    logits, loss, grads = run(model, x, y)

    # How far float32 itself is from the exact answer (a float64 copy of the same model): the
    # floor below which no float32 implementation can be expected to agree.
    model64 = GPT(cfg).double()
    model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    logits64, loss64, grads64 = run(model64, x, y)
    noise = {"logits": rel_err(logits, logits64), "loss": rel_err(loss, loss64)}
    noise["grads"] = max(rel_err(grads[n], grads64[n]) for n in grads)

    entries = [text_entry("config", config_text(name, cfg)),
               tensor_entry("x", x.to(torch.int32)), tensor_entry("y", y.to(torch.int32)),
               tensor_entry("logits", logits), tensor_entry("loss", loss.reshape(1))]
    params = list(model.named_parameters())
    entries += [tensor_entry("param." + n, p) for n, p in params]
    entries += [tensor_entry("grad." + n, grads[n]) for n, _ in params]
    blob = MAGIC + struct.pack("<I", len(entries)) + b"".join(entries)
    if len(blob) > MAX_FILE_BYTES:
        sys.exit("%s: %d bytes, over the %d byte budget" % (name, len(blob), MAX_FILE_BYTES))
    path = os.path.join(HERE, name + ".bin")
    with open(path, "wb") as f:
        f.write(blob)
    print("%-22s %6d bytes  %2d params  loss %.6f  float32 vs float64: logits %.1e, loss %.1e, "
          "grads %.1e" % (name + ".bin", len(blob), len(params), loss.item(), noise["logits"],
                          noise["loss"], noise["grads"]))


def main():
    torch.set_num_threads(1)  # one thread: reductions in one fixed order
    print("PyTorch %s, writing fixtures to %s" % (torch.__version__, HERE))
    for i, (name, overrides, B, T) in enumerate(CONFIGS):
        make_fixture(i, name, overrides, B, T)


if __name__ == "__main__":
    main()
