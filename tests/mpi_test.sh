#!/usr/bin/env bash
# The MPI build against one process: `mpirun -np 2` with batch 4 per process must
# give, step by step, the losses of one process with batch 8 and of one process
# with batch 4 and --grad_accum=2 (the same rows, see compute_step_gradient in train/train.h), to
# 1e-5 relative; a run stopped at step 10 and resumed under mpirun must finish
# as the uninterrupted run; an error on rank 0 alone must end both ranks; SIGUSR1
# or SIGTERM to mpirun must stop both after the same step, saved, ready to resume.
#
#   tests/mpi_test.sh [BINARY]     (make test-mpi builds build-mpi/ and runs it)
set -euo pipefail

bin=$(realpath "${1:-build-mpi/causalgrad}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "MPI test: $*" >&2; exit 1; }
# --allow-run-as-root: CI runs as root; --oversubscribe: 2 ranks even on 1 core.
mpi=(timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2)

for i in $(seq 200); do
    echo "the cat sat on the mat. a dog ran to the log. my hen hid in a pen. so the fox got a box."
done > input.txt
"$bin" prepare --input=input.txt --out_dir=data > /dev/null

tiny=(--data_dir=data --n_layer=2 --n_head=2 --n_embd=32 --block_size=32 --eval_iters=4 --eval_interval=10
      --log_interval=1 --learning_rate=1e-2 --warmup_iters=5 --lr_decay_iters=20 --threads=1)

"$bin" train "${tiny[@]}" --out_dir=one --batch_size=8 --max_iters=20 > one.txt
"$bin" train "${tiny[@]}" --out_dir=accum --batch_size=4 --grad_accum=2 --max_iters=20 > accum.txt
"${mpi[@]}" "$bin" train "${tiny[@]}" --out_dir=two --batch_size=4 --max_iters=20 > two.txt
grep -q "processes: 2 x 1 threads" two.txt || fail "the start-up table of 2 ranks lacks 'processes: 2 x 1 threads'"
grep -q "all-reduce .* bytes per step" two.txt || fail "the start-up table lacks the bytes all-reduced per step"
[ "$(grep -c "^step .*| loss" two.txt)" = 20 ] || fail "rank 0 should print 20 step lines (once each), printed: $(grep -c "^step .*| loss" two.txt)"

# Every training loss (log.csv keeps 6 significant digits) and every evaluation.
same_losses() {  # A B: the training and evaluation rows of A/log.csv and B/log.csv agree to 1e-5 relative
    paste -d, <(cut -d, -f1-3 "$1/log.csv") <(cut -d, -f1-3 "$2/log.csv") | awk -F, -v a="$1" -v b="$2" '
        NR == 1 { next }
        $1 != $4 { print a " and " b ": step " $1 " against " $4; exit 1 }
        { for (i = 2; i <= 3; i++) if ($i != "" || $(i + 3) != "") {
              d = $i - $(i + 3); if (d < 0) d = -d; r = $i < 0 ? -$i : $i
              if (d > 1e-5 * r) { print a " and " b " differ at step " $1 ": " $i " against " $(i + 3); exit 1 } }
          n++ }
        END { if (n != 23) { print a " and " b ": " n " rows, expected 23"; exit 1 } }' || fail "losses differ"
}
same_losses one two
same_losses one accum
echo "MPI test: 2 ranks x batch 4 = 1 process x batch 8 = batch 4 x grad_accum 2 over 20 steps (1e-5 relative)"
grep -E "^all-reduce" two.txt | sed 's/^/MPI test: /'

# Resume under mpirun: 10 steps, then on to 20, gives the uninterrupted run's rows.
"${mpi[@]}" "$bin" train "${tiny[@]}" --out_dir=resumed --batch_size=4 --max_iters=10 --always_save_checkpoint > /dev/null
"${mpi[@]}" "$bin" train "${tiny[@]}" --out_dir=resumed --batch_size=4 --max_iters=20 --init_from=resume > /dev/null
same_losses one resumed
echo "MPI test: stopped at step 10 and resumed under mpirun, the same 20 steps"

# out_dir is a file: rank 0 fails, rank 1 would wait for it forever without MPI_Abort.
touch not_a_dir
status=0
"${mpi[@]}" "$bin" train "${tiny[@]}" --out_dir=not_a_dir --batch_size=4 --max_iters=20 > err.txt 2>&1 || status=$?
[ "$status" != 0 ] || fail "training into a file as out_dir succeeded"
[ "$status" != 124 ] || fail "an error on rank 0 left the other rank waiting (timeout)"
grep -q "causalgrad train (rank 0 of 2): .*not_a_dir" err.txt || fail "rank 0's error is not shown: $(head -c 600 err.txt)"
echo "MPI test: an error on rank 0 ends both ranks with its message"

# A stop signal to mpirun: both ranks stop after the same step and rank 0 saves it.
# SIGUSR1 is passed on to the ranks at once and mpirun waits for them. On SIGTERM
# (or Ctrl-C) mpirun first stops relaying their output for odls_base_sigkill_timeout
# seconds (1 by default), then passes SIGTERM on, then kills them as long again
# later: a rank that prints a line per step can fill its pipe and block before the
# signal comes, so that case runs with a log line per 1,000 steps and a 5 s grace.
stop_run() {  # SIGNAL OUT_DIR LOG_INTERVAL [mpirun options]: a long run, signalled after its first step line
    local signal=$1 dir=$2 interval=$3
    shift 3
    mpirun --allow-run-as-root --oversubscribe -np 2 "$@" "$bin" train "${tiny[@]}" --out_dir="$dir" --batch_size=4 \
        --max_iters=1000000 --eval_interval=100000 --log_interval="$interval" > "$dir.txt" 2>&1 &
    local runner=$!
    for _ in $(seq 600); do grep -qs "^step  *0/" "$dir.txt" && break; sleep 0.1; done
    sleep 0.5
    kill "-$signal" "$runner"
    local status=0
    wait "$runner" || status=$?
    [ "$status" != 0 ] || fail "mpirun exited 0 after SIG$signal stopped the run"
    grep -q "stopped by SIG$signal after step .*: saved checkpoint" "$dir.txt" || fail "SIG$signal to mpirun: $(tail -c 600 "$dir.txt")"
    stopped_after=$(sed -n "s/^stopped by SIG$signal after step \([0-9]*\).*/\1/p" "$dir.txt")
    local last
    last=$(tail -n 1 "$dir/log.csv" | cut -d, -f1)
    [ "$interval" != 1 ] || [ "$last" = "$stopped_after" ] || fail "SIG$signal: log.csv ends at step $last, the run stopped after $stopped_after"
    "${mpi[@]}" "$bin" train "${tiny[@]}" --out_dir="$dir" --batch_size=4 --max_iters=$((stopped_after + 3)) --init_from=resume > "$dir-resumed.txt" ||
        fail "the resume after SIG$signal failed: $(tail -c 300 "$dir-resumed.txt")"
    grep -q "resuming at step $((stopped_after + 1))" "$dir-resumed.txt" || fail "the resume after SIG$signal did not start at step $((stopped_after + 1))"
    echo "MPI test: SIG$signal to mpirun stopped both ranks after step $stopped_after, saved, and the run resumed from there"
}
stop_run USR1 usr1 1
stop_run TERM term 1000 --mca odls_base_sigkill_timeout 5
