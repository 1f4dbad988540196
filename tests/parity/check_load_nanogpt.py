#!/usr/bin/env python3
"""Run by tests/test_interop.cpp where /usr/bin/python3 has torch:

    check_load_nanogpt.py ATTN.safetensors EXPECTED.safetensors OTHER.safetensors...

ATTN is a `causalgrad export` of an attention model, EXPECTED holds tokens x (B, T, as F32) and
causalgrad's logits (B, T, V) for them, each OTHER an export with a replacement mixer in some
block or a sequence op as the MLP activation. Checks,
with nanogpt_model.py standing in for nanoGPT's model.py:
  - scripts/load_nanogpt.py loads ATTN with strict=True, with the mask buffers (PyTorch < 2.0)
    and without them (a model built as on PyTorch >= 2.0), and reproduces causalgrad's logits;
  - it refuses every OTHER with NotNanoGPT, naming its replacement mixers and activation;
  - its command line loads ATTN and samples, and refuses an OTHER with exit status 1.
Prints what it measured; exits non-zero on the first failed check, 77 when torch is missing.
"""

import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)  # no torch here: the test says it skipped

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import load_nanogpt  # noqa: E402
import nanogpt_model  # noqa: E402

TOLERANCE = 1e-4  # max|ours - theirs| / max|theirs|, as tests/test_parity.cpp


def rel_err(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max()).item()


def logits_of(model, x):
    with torch.no_grad():
        logits, _ = model(x, torch.zeros_like(x))  # targets: logits for every position
    return logits


def main():
    attn_path, expected_path, others = sys.argv[1], sys.argv[2], sys.argv[3:]
    torch.set_num_threads(1)
    _, expected = load_nanogpt.read_safetensors(expected_path)
    x, want = expected["x"].long(), expected["logits"]

    model, vocab = load_nanogpt.load_nanogpt(attn_path, nanogpt_model)
    assert any(k.endswith(".attn.bias") for k in model.state_dict()), "PyTorch < 2.0: the buffers exist"
    assert len(vocab) == model.config.vocab_size, "vocab from the metadata"
    err = rel_err(logits_of(model, x), want)
    print("strict load with mask buffers: logits rel. error %.2e" % err)
    assert err < TOLERANCE, "logits differ from causalgrad's"

    exact, _ = load_nanogpt.load_nanogpt(attn_path, nanogpt_model, exact_gelu=True)
    print("with nanoGPT's exact GELU instead of tanh: rel. error %.2e" % rel_err(logits_of(exact, x), want))

    # PyTorch >= 2.0: nanoGPT has no buffer; the loader drops the file's masks and still loads strictly.
    F.scaled_dot_product_attention = lambda q, k, v, is_causal: None  # only its presence matters here
    try:
        modern, _ = load_nanogpt.load_nanogpt(attn_path, nanogpt_model)
    finally:
        del F.scaled_dot_product_attention
    assert not any(k.endswith(".attn.bias") for k in modern.state_dict()), "no buffers as on PyTorch >= 2.0"
    print("strict load without mask buffers (as PyTorch >= 2.0): ok")

    for path in others:
        meta, _ = load_nanogpt.read_safetensors(path)
        names = [meta["mixer.%d" % l] for l in range(int(meta["n_layer"]))] + [meta["activation"]]
        try:
            load_nanogpt.load_nanogpt(path, nanogpt_model)
        except load_nanogpt.NotNanoGPT as e:
            message = str(e)
            print("refused (%s, activation %s): ok" % (meta["mixer"], meta["activation"]))
            for name in names:
                assert name in ("attn", "gelu") or name in message, "the message names %s" % name
        else:
            raise AssertionError("%s was loaded: mixer %s, activation %s" % (path, meta["mixer"], meta["activation"]))
    print("the last refusal: %s" % message)

    # The command line, with nanogpt_model.py as the model.py of a nanoGPT folder.
    with tempfile.TemporaryDirectory() as folder:
        os.symlink(os.path.join(HERE, "nanogpt_model.py"), os.path.join(folder, "model.py"))
        script = [sys.executable, os.path.join(HERE, "..", "..", "scripts", "load_nanogpt.py")]
        run = subprocess.run(script + [attn_path, "--nanogpt=" + folder, "--sample=20", "--start=ab"],
                             capture_output=True, text=True)
        lines = run.stdout.splitlines()
        assert run.returncode == 0 and lines[0].startswith("loaded ") and "strictly" in lines[0], run.stderr
        sample = "\n".join(lines[1:])
        assert len(sample) == 22 and sample.startswith("ab") and set(sample) <= set(vocab), sample
        print("command line: %s; sample %r" % (lines[0], sample))
        run = subprocess.run(script + [others[0], "--nanogpt=" + folder], capture_output=True, text=True)
        assert run.returncode == 1 and "is not a nanoGPT model" in run.stderr, (run.returncode, run.stderr)
    print("check_load_nanogpt: all checks passed")


if __name__ == "__main__":
    main()
