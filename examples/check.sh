#!/usr/bin/env bash
# The examples against an installed causalgrad, as another project would use it: installs
# BUILD_DIR into a temporary prefix, configures and builds examples/ with only
# find_package(causalgrad) (CMAKE_PREFIX_PATH), runs the MLP, trains a tiny checkpoint with
# the installed causalgrad binary and samples it with the sample example.
#
#   examples/check.sh [BUILD_DIR]     (make examples; BUILD_DIR defaults to build/)
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "examples: $*" >&2; exit 1; }
quiet() {  # LOG COMMAND...: runs COMMAND with its output in LOG, shown only if it fails
    local log=$1
    shift
    "$@" > "$log" 2>&1 || { cat "$log"; fail "failed: $*"; }
}

prefix=$work/prefix
echo "==> installing $build/ into $prefix"
quiet "$work/install.log" cmake --install "$build" --prefix "$prefix"
# What a consumer gets: no cxxopts or doctest in the headers, no -march=native imposed.
! grep -rlE "cxxopts|doctest" "$prefix/include" || fail "an installed header includes cxxopts or doctest"

echo "==> configuring and building examples/ against it (CMAKE_PREFIX_PATH=$prefix)"
quiet "$work/configure.log" cmake -S examples -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
quiet "$work/build.log" cmake --build "$work/build" -j"${JOBS:-2}"
! grep -q -- "-march=" "$work/build/compile_commands.json" || fail "the package imposes a -march flag on its users"

echo "==> examples/mlp"
"$work/build/mlp"

echo "==> a tiny checkpoint from the installed causalgrad, sampled by examples/sample"
for i in $(seq 200); do
    echo "the cat sat on the mat. a dog ran to the log. my hen hid in a pen. so the fox got a box."
done > "$work/input.txt"
quiet "$work/prepare.log" "$prefix/bin/causalgrad" prepare --input="$work/input.txt" --out_dir="$work/data"
quiet "$work/train.log" "$prefix/bin/causalgrad" train --data_dir="$work/data" --out_dir="$work/out" \
    --n_layer=2 --n_head=2 --n_embd=32 --block_size=32 --batch_size=8 --max_iters=200 --eval_interval=100 \
    --eval_iters=4 --log_interval=100 --learning_rate=1e-2 --warmup_iters=10 --lr_decay_iters=200 \
    --threads=1 --always_save_checkpoint
grep -E "val loss" "$work/train.log" | tail -n 1
"$work/build/sample" "$work/out/ckpt.bin" "the cat "
echo "==> examples: built against the installed package, the MLP learned, the checkpoint sampled"
