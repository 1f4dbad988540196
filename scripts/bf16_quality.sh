#!/usr/bin/env bash
# Training quality of --dtype=bfloat16 against float32: the same runs (settings,
# seeds, batches, dropout) in both dtypes, one thread each, JOBS at a time,
# niced; an interrupted run resumes. Then each run's final checkpoint is
# evaluated by `causalgrad eval` in float32 on 200 val batches, and the table
# and one plot of all curves are written. docs/mixed-precision.md shows them.
#
#   scripts/bf16_quality.sh cpu    RUNS   nanoGPT's CPU config, 2000 steps, seeds 1337 2 3
#   scripts/bf16_quality.sh larger RUNS   6/6/384, batch 16, the first 1000 of 5000 steps, seed 1337
#
# FP32_FROM=DIR takes the float32 runs from DIR/MIXER/seedS instead of training
# them (the study's runs have the same settings: study/runs/1_small and
# study/runs/5_larger). CAUSALGRAD, DATA_DIR, JOBS (2) and NICE (10) as named.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CAUSALGRAD:-$root/build/causalgrad}
data_dir=${DATA_DIR:-$root/data/shakespeare_char}
jobs=${JOBS:-2}
what=${1:?usage: scripts/bf16_quality.sh cpu|larger RUNS}
runs=${2:?usage: scripts/bf16_quality.sh cpu|larger RUNS}

case $what in
    cpu) seeds="1337 2 3" title="nanoGPT's CPU config 4/4/128, 2000 steps, 3 seeds"
         settings=(--max_iters=2000 --lr_decay_iters=2000 --eval_iters=50) ;;
    larger) seeds="1337" title="6/6/384, batch 16, the first 1000 steps"
         settings=(--config="$root/train/configs/shakespeare_char.conf" --batch_size=16 --eval_iters=200
                   --max_iters=1000 --lr_decay_iters=5000) ;;
    *) echo "bf16_quality: the first argument is cpu or larger, got '$what'" >&2; exit 2 ;;
esac
"$bin" bench --steps=1 --warmup=0 --n_layer=1 --dtype=bfloat16 >/dev/null ||
    { echo "bf16_quality: this machine cannot run --dtype=bfloat16 (see above)" >&2; exit 1; }

# One run: train (resuming if it has a checkpoint) then evaluate in float32.
one() {  # mixer seed dtype
    local mixer=$1 seed=$2 dtype=$3
    local dir=$runs/$dtype/$mixer/seed$seed init=scratch
    [ -f "$dir/eval.txt" ] && return 0
    mkdir -p "$dir"
    [ -f "$dir/ckpt.bin" ] && init=resume
    nice -n "${NICE:-10}" "$bin" train --out_dir="$dir" --data_dir="$data_dir" --threads=1 --always_save_checkpoint=true \
        "${settings[@]}" --mixer="$mixer" --seed="$seed" --dtype="$dtype" --init_from=$init >>"$dir/train.txt" 2>&1
    nice -n "${NICE:-10}" "$bin" eval --out_dir="$dir" --data_dir="$data_dir" --threads=1 --eval_iters=200 >"$dir/eval.tmp"
    mv "$dir/eval.tmp" "$dir/eval.txt"
}

list=()
for mixer in attn pair_max; do
    for seed in $seeds; do
        list+=("$mixer $seed bfloat16")
        if [ -n "${FP32_FROM:-}" ]; then
            mkdir -p "$runs/float32/$mixer"
            [ -e "$runs/float32/$mixer/seed$seed" ] || ln -s "$(cd "$FP32_FROM/$mixer/seed$seed" && pwd)" "$runs/float32/$mixer/seed$seed"
        else
            list+=("$mixer $seed float32")
        fi
    done
done
printf '%s\n' "${list[@]}" | xargs -P "$jobs" -L 1 bash -c "$(declare -f one); $(declare -p settings bin data_dir runs); one \"\$@\"" _

# The table: val loss at the last step as logged (each run evaluated in its
# own dtype on the same batches) and, where a run has its final checkpoint's
# eval.txt, by causalgrad eval in float32.
steps=$(printf '%s\n' "${settings[@]}" | awk -F= '/^--max_iters=/ {print $2}')
val_at() { awk -F, -v s="$2" '$1 == s && $3 != "" {v = $3} END {print v == "" ? "-" : v}' "$1/log.csv"; }
eval_val() {  # "val loss (full sequences[, standard error E]): V"
    [ -f "$1/eval.txt" ] && awk -F': ' '/^val loss \(full sequences/ {v = $NF} END {print v == "" ? "-" : v}' "$1/eval.txt" || echo -
}
diff_of() { [ "$1" = - ] || [ "$2" = - ] && echo - || awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.4f", a - b}'; }
echo "val loss at step $steps"
echo "| mixer | seed | float32 (logged) | bfloat16 (logged) | difference | float32 (eval in fp32) | bfloat16 (eval in fp32) | difference |"
echo "|---|---|---|---|---|---|---|---|"
for mixer in attn pair_max; do
    for seed in $seeds; do
        f=$runs/float32/$mixer/seed$seed b=$runs/bfloat16/$mixer/seed$seed
        fl=$(val_at "$f" "$steps") bl=$(val_at "$b" "$steps") fe=$(eval_val "$f") be=$(eval_val "$b")
        echo "| $mixer | $seed | $fl | $bl | $(diff_of "$bl" "$fl") | $fe | $be | $(diff_of "$be" "$fe") |"
    done
done
curves=()
for mixer in attn pair_max; do
    for dtype in float32 bfloat16; do
        list=""
        for seed in $seeds; do list+="${list:+,}$runs/$dtype/$mixer/seed$seed"; done
        curves+=("$mixer $dtype=$list")
    done
done
"$bin" plot "${curves[@]}" --to_step="$steps" --title="float32 and bfloat16 products: $title" --to="$runs/bf16_$what.svg" >/dev/null
echo "plot: $runs/bf16_$what.svg"
