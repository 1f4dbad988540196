#!/usr/bin/env bash
# causalgrad against PyTorch on the same machine: the same model, the same
# thread count and the same OpenBLAS kernels, the two programs alternating
# ROUNDS times so that drift in the machine's speed hits both alike. Prints
# the median ms/step of each and the ratio. Needs Debian's python3-torch and
# a built causalgrad (make build); not part of CI.
#
#   bench/vs_pytorch.sh                 ROUNDS=3, all cores
#   ROUNDS=5 THREADS=2 bench/vs_pytorch.sh
#   CONFIGS=cpu bench/vs_pytorch.sh     the CPU config only (default "cpu 16": also 6/6/384 at batch 16)
#   CONFIGS="16 64" bench/vs_pytorch.sh 6/6/384 at batch 16 and nanoGPT's 64 (minutes per row)
#   CAUSALGRAD=build-haswell/causalgrad OPENBLAS_CORETYPE=Haswell bench/vs_pytorch.sh
#                                       the AVX2 path on an AVX-512 machine
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CAUSALGRAD:-$root/build/causalgrad}
python=${PYTHON:-/usr/bin/python3}
rounds=${ROUNDS:-3}
threads=${THREADS:-$(nproc)}
[ -x "$bin" ] || { echo "vs_pytorch: build causalgrad first (make build)" >&2; exit 1; }
"$python" -c "import torch" 2>/dev/null || { echo "vs_pytorch: needs PyTorch (apt-get install python3-torch)" >&2; exit 1; }

# Both programs load the same OpenBLAS; make them use the same kernels. The
# default is the one causalgrad would pick for this CPU.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -q avx512bw /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; else export OPENBLAS_CORETYPE=Haswell; fi
fi

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# First line: what the figures depend on. The build's vector ISA is what the
# compiler targeted (a -march=haswell build on an AVX-512 CPU measures AVX2).
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
cpu_isa=$(grep -o -w -m1 -E 'avx512f' /proc/cpuinfo | head -n 1); cpu_isa=${cpu_isa:-$(grep -o -w -m1 avx2 /proc/cpuinfo | head -n 1)}
probe=$("$bin" bench --steps=1 --warmup=0 --n_layer=1)
core=$(awk -F': ' '/OpenBLAS core/ {print $2}' <<<"$probe")
bf16=$(awk -F': ' '/bf16 products/ {print $2}' <<<"$probe")
bf16_missing=$(grep -q '^yes' <<<"$bf16" || echo missing)
echo "machine: $cpu, $(nproc) cores, CPU ${cpu_isa:-no avx2}; bf16 products: $bf16; OpenBLAS core $core"
echo "threads: $threads, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE, rounds: $rounds"
echo "torch: $("$python" -c 'import torch; print(torch.__version__)')"
echo
# The bound: causalgrad's sgemm calls of one step (the linear layers' and the
# attention kernel's, with their shapes and thread split) and the optimizer's
# memory traffic, each timed alone. PyTorch / bound is the largest speed-up
# that any change outside those sgemm calls could reach.
printf "| %-58s | %10s | %10s | %8s | %10s | %13s |\n" "configuration (ms per training step)" "causalgrad" "PyTorch" "speed-up" "bound" "PyTorch/bound"
printf "|%s|%s|%s|%s|%s|%s|\n" "------------------------------------------------------------" "------------" "------------" "----------" "------------" "---------------"

run() {  # label, steps, flags...
    local label=$1 steps=$2
    shift 2
    local ours=() bounds=() theirs=() out
    for _ in $(seq "$rounds"); do
        out=$("$bin" bench "$@" --threads="$threads" --steps="$steps" --warmup=2)
        ours+=("$(awk '/^bench:/ {print $2}' <<<"$out")")
        bounds+=("$(awk '$1 == "bound:" {print $2}' <<<"$out")")
        theirs+=("$("$python" "$root/bench/torch_gpt.py" "$@" --threads="$threads" --steps="$steps" --warmup=2 | awk '{print $2}')")
    done
    local a b f
    a=$(printf "%s\n" "${ours[@]}" | median)
    b=$(printf "%s\n" "${theirs[@]}" | median)
    f=$(printf "%s\n" "${bounds[@]}" | median)
    printf "| %-58s | %10.2f | %10.2f | %7.2fx | %10.2f | %12.2fx |\n" "$label" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN {print b / a}')" "$f" "$(awk -v f="$f" -v b="$b" 'BEGIN {print b / f}')"
}

# Every configuration in float32, and in bfloat16 where the CPU has bf16
# products (PyTorch: torch.autocast, nanoGPT's dtype).
dtypes=float32
[ -z "$bf16_missing" ] && dtypes="float32 bfloat16"
both() {  # label, steps, flags...
    local label=$1 steps=$2 dtype
    shift 2
    for dtype in $dtypes; do run "$label, $dtype" "$steps" "$@" --dtype="$dtype"; done
}
big="--n_layer=6 --n_head=6 --n_embd=384 --block_size=256"
for config in ${CONFIGS:-cpu 16}; do
    case $config in
        cpu) both "CPU config 4/4/128, T 64, B 12: attn" 20 --mixer=attn
             both "CPU config 4/4/128, T 64, B 12: pair_max" 20 --mixer=pair_max ;;
        *) steps=$((config >= 64 ? 3 : 5))  # seconds per step at batch 64
           both "shakespeare_char 6/6/384, T 256, B $config: attn" $steps $big --batch_size="$config" --mixer=attn
           both "shakespeare_char 6/6/384, T 256, B $config: pair_max" $steps $big --batch_size="$config" --mixer=pair_max ;;
    esac
done
