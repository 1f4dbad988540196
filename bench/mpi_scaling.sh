#!/usr/bin/env bash
# Tokens/s of 1 process x 2 threads against 2 processes x 1 thread (mpirun) on
# one machine, at the same global batch, with the all-reduce time per step.
#
#   bench/mpi_scaling.sh [BINARY] [DATA_DIR] [STEPS]     (BINARY from make build-mpi)
set -euo pipefail

bin=$(realpath "${1:-build-mpi/causalgrad}")
data=$(realpath "${2:-data/shakespeare_char}")
steps=${3:-40}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)

row() {  # NAME GLOBAL_BATCH MODEL_ARGS...
    local name=$1 batch=$2
    shift 2
    local common=(--data_dir="$data" --max_iters="$steps" --eval_iters=1 --eval_interval=100000 --log_interval=100000 "$@")
    "$bin" train "${common[@]}" --out_dir="$work/one" --overwrite --batch_size="$batch" --threads=2 > "$work/one.txt"
    "${mpi[@]}" "$bin" train "${common[@]}" --out_dir="$work/two" --overwrite --batch_size=$((batch / 2)) --threads=1 > "$work/two.txt"
    local one two ar
    one=$(sed -n 's/^median .*(\([0-9]*\) tok\/s)$/\1/p' "$work/one.txt")
    two=$(sed -n 's/^median .*(\([0-9]*\) tok\/s)$/\1/p' "$work/two.txt")
    ar=$(sed -n 's/^all-reduce: median \([0-9.]*\) ms.*(\([0-9,]*\) bytes)$/\1 ms of \2 bytes/p' "$work/two.txt")
    printf "%-24s 1 x 2 threads: %7s tok/s | 2 x 1 thread: %7s tok/s | all-reduce median %s\n" "$name" "$one" "$two" "$ar"
}

row "CPU config (4/4/128)" 12
row "6/6/384, T 64" 12 --n_layer=6 --n_head=6 --n_embd=384
