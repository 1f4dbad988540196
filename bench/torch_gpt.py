#!/usr/bin/env python3
"""The same GPT as causalgrad's, in PyTorch, timed the same way as
`causalgrad bench`: median ms of full training steps (forward, backward,
gradient clipping, AdamW) after warm-up, on random tokens; with
--dtype=bfloat16 the forward and loss run under torch.autocast (bf16 products),
as nanoGPT's dtype setting does.

Used by bench/vs_pytorch.sh; needs Debian's python3-torch.
Prints one line: `torch: <median> ms/step`.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mixer(nn.Module):
    """Causal self-attention, or a replacement mixer: c_proj(op(x)) with op
    along time (pair_max: max(x[t], x[t-1]); scan_max: running max)."""

    def __init__(self, kind, C, n_head, block_size):
        super().__init__()
        self.kind, self.n_head = kind, n_head
        if kind == "attn":
            self.c_attn = nn.Linear(C, 3 * C, bias=False)
            self.register_buffer("mask", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size))
        self.c_proj = nn.Linear(C, C, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        if self.kind == "attn":
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
        elif self.kind == "pair_max":
            y = torch.cat([x[:, :1], torch.maximum(x[:, 1:], x[:, :-1])], dim=1)
        elif self.kind == "scan_max":
            y = torch.cummax(x, dim=1).values
        else:
            raise SystemExit(f"torch_gpt.py: mixer {self.kind} is not modelled here")
        return self.c_proj(y)


class LayerNorm(nn.Module):
    """Layer norm with a weight and no bias (PyTorch 1.13's has no bias=False)."""

    def __init__(self, C):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


class Block(nn.Module):
    def __init__(self, kind, C, n_head, block_size):
        super().__init__()
        self.ln_1 = LayerNorm(C)
        self.mixer = Mixer(kind, C, n_head, block_size)
        self.ln_2 = LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C, bias=False)
        self.c_proj = nn.Linear(4 * C, C, bias=False)

    def forward(self, x):
        x = x + self.mixer(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.wte = nn.Embedding(a.vocab_size, a.n_embd)
        self.wpe = nn.Embedding(a.block_size, a.n_embd)
        self.h = nn.ModuleList(Block(a.mixer, a.n_embd, a.n_head, a.block_size) for _ in range(a.n_layer))
        self.ln_f = LayerNorm(a.n_embd)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # lm_head tied to wte
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("n_layer", 4), ("n_head", 4), ("n_embd", 128), ("block_size", 64), ("batch_size", 12),
                          ("vocab_size", 65), ("steps", 20), ("warmup", 3), ("threads", 2)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--mixer", default="attn")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                   help="bfloat16: forward and loss under torch.autocast, as nanoGPT's dtype does")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    model = GPT(a)
    decay = [q for q in model.parameters() if q.dim() >= 2]
    no_decay = [q for q in model.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.99))
    times = []
    for step in range(a.warmup + a.steps):
        x = torch.randint(a.vocab_size, (a.batch_size, a.block_size))
        y = torch.randint(a.vocab_size, (a.batch_size, a.block_size))
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.dtype == "bfloat16"):
            loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(f"torch: {times[len(times) // 2]:.2f} ms/step")


if __name__ == "__main__":
    main()
