#!/usr/bin/env bash
# Kill test: `kill -9` a tiny training run at random moments, over and over,
# alternating fresh starts and resumes. After every kill the checkpoint (if
# one was saved yet) must load, and log.csv must hold no duplicate or missing
# step; at the end a resume must finish the run with a complete log.
#
#   tests/kill_test.sh [BINARY] [KILLS]     (make test-kill runs it)
set -euo pipefail

bin=$(realpath "${1:-build/causalgrad}")
kills=${2:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

for i in $(seq 200); do
    echo "the cat sat on the mat. a dog ran to the log. my hen hid in a pen. so the fox got a box."
done > input.txt
"$bin" prepare --input=input.txt --out_dir=data > /dev/null

max_iters=6000
log_every=5
eval_every=200
run=(--data_dir=data --out_dir=run --n_layer=2 --n_head=2 --n_embd=16 --block_size=16 --batch_size=4
     --eval_iters=2 --eval_interval=$eval_every --log_interval=$log_every --always_save_checkpoint
     --max_iters=$max_iters --threads=1)

fail() { echo "kill test: $*" >&2; exit 1; }

# log.csv: the header, then training rows 0, log_every, ... up to some step and
# evaluation rows 0, eval_every, ... up to some step, each exactly once.
# A last line without its newline (a write cut short) is allowed: resume drops it.
check_log() {
    head -n "$(wc -l < run/log.csv)" run/log.csv > complete.csv
    awk -F, -v le=$log_every -v ee=$eval_every '
        NR == 1 { if ($0 != "step,train_loss,val_loss,lr,grad_norm,ms_per_step,tokens_per_s") { print "bad header"; exit 1 } next }
        NF != 7 { print "line " NR " has " NF " cells"; exit 1 }
        $3 == "" { if ($1 != nt * le) { print "line " NR ": training step " $1 ", expected " nt * le; exit 1 } nt++; next }
        { if ($1 != ne * ee) { print "line " NR ": evaluation at " $1 ", expected " ne * ee; exit 1 } ne++ }
    ' complete.csv || fail "log.csv after kill $1: $(tail -n 3 run/log.csv | tr '\n' '|')"
}

rng_ms() { echo $((RANDOM % $1)); }

no_checkpoint=0 resumes=0 scratch=0 torn=0
for k in $(seq "$kills"); do
    # Every fifth start is from scratch over the run (--overwrite): kills then hit a fresh log.
    if [[ -f run/ckpt.bin ]] && ((k % 5 != 0)); then
        args=(--init_from=resume); resumes=$((resumes + 1))
    else
        args=(--overwrite); scratch=$((scratch + 1))
    fi
    "$bin" train "${run[@]}" "${args[@]}" > "out.$k" 2>&1 &
    pid=$!
    # Early kills hit start-up (log rewrite, lock); later ones the steps and the saves.
    if ((k % 4 == 0)); then delay=$(rng_ms 30); else delay=$(rng_ms 500); fi
    sleep "$(printf '0.%03d' "$delay")"
    kill -9 "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    if [[ -f run/ckpt.bin ]]; then
        "$bin" eval --out_dir=run --eval_iters=1 --threads=1 > /dev/null 2> "eval.$k" ||
            fail "the checkpoint does not load after kill $k (${delay} ms): $(cat "eval.$k")"
    else
        no_checkpoint=$((no_checkpoint + 1))
    fi
    if [[ -f run/log.csv ]]; then
        [[ -z "$(tail -c 1 run/log.csv)" ]] || torn=$((torn + 1))
        check_log "$k"
    fi
    saved=$(grep -c 'saved checkpoint' "out.$k" || true)
    echo "kill $k after ${delay} ms (${args[0]}): $(grep -c '^step ' "out.$k" || true) progress lines, $saved saves;" \
         "log has $(($(wc -l < run/log.csv 2> /dev/null || echo 1) - 1)) rows"
done

# Resume to the end: the run completes and the log holds every step once.
if [[ -f run/ckpt.bin ]]; then args=(--init_from=resume); else args=(--overwrite); fi
"$bin" train "${run[@]}" "${args[@]}" > final.out 2>&1 || fail "the final run failed: $(tail -1 final.out)"
check_log final
train_rows=$(awk -F, 'NR > 1 && $3 == ""' run/log.csv | wc -l)
eval_rows=$(awk -F, 'NR > 1 && $3 != ""' run/log.csv | wc -l)
((train_rows == max_iters / log_every)) || fail "$train_rows training rows, expected $((max_iters / log_every))"
((eval_rows == max_iters / eval_every + 1)) || fail "$eval_rows evaluation rows, expected $((max_iters / eval_every + 1))"
echo "kill test: $kills kills ($scratch fresh starts, $resumes resumes; $no_checkpoint left no checkpoint yet," \
     "$torn a torn last log line); every checkpoint loaded, no duplicate or missing step, and the final" \
     "resume completed $max_iters steps ($train_rows training rows, $eval_rows evaluations)"
