#!/usr/bin/env bash
# Prepares tiny Shakespeare for training: makes sure the corpus is in
# data/tinyshakespeare/input.txt (copying the offline copy beside the checkout,
# ../shared/data/tinyshakespeare/input.txt, if there is one, else downloading
# it), checks its md5, then writes data/shakespeare_char/ with `causalgrad prepare`.
#
#   data/prepare.sh [path/to/causalgrad]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-$root/build/causalgrad}
corpus=$here/tinyshakespeare/input.txt
out=$here/shakespeare_char
md5_expected=6fb458f1232090904fb40fe944165e91
url=https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt
offline=$root/../shared/data/tinyshakespeare/input.txt

if [ -f "$out/train.bin" ] && [ -f "$out/val.bin" ] && [ -f "$out/vocab.txt" ]; then
    echo "data: $out is ready"
    exit 0
fi

mkdir -p "$(dirname "$corpus")"
if [ ! -f "$corpus" ]; then
    if [ -f "$offline" ]; then
        echo "data: copying the corpus from $offline"
        cp "$offline" "$corpus.tmp"
    else
        echo "data: downloading tiny Shakespeare from $url"
        if ! curl -fsSL --retry 2 -o "$corpus.tmp" "$url"; then
            rm -f "$corpus.tmp"
            echo "data: download failed (offline?); put the corpus at $corpus by hand" >&2
            exit 1
        fi
    fi
    mv "$corpus.tmp" "$corpus"
fi

md5=$(md5sum "$corpus" | cut -d' ' -f1)
if [ "$md5" != "$md5_expected" ]; then
    echo "data: $corpus has md5 $md5, expected $md5_expected; delete it and run make data again" >&2
    exit 1
fi
"$bin" prepare --input="$corpus" --out_dir="$out"
