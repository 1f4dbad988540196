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
    local log=${2:-run/log.csv}
    head -n "$(wc -l < "$log")" "$log" > complete.csv
    awk -F, -v le=$log_every -v ee=$eval_every '
        NR == 1 { if ($0 != "step,train_loss,val_loss,lr,grad_norm,ms_per_step,tokens_per_s") { print "bad header"; exit 1 } next }
        NF != 7 { print "line " NR " has " NF " cells"; exit 1 }
        $3 == "" { if ($1 != nt * le) { print "line " NR ": training step " $1 ", expected " nt * le; exit 1 } nt++; next }
        { if ($1 != ne * ee) { print "line " NR ": evaluation at " $1 ", expected " ne * ee; exit 1 } ne++ }
    ' complete.csv || fail "log.csv after kill $1: $(tail -n 3 "$log" | tr '\n' '|')"
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

# ---- the best and the latest state ----------------------------------------------------------
# Without --always_save_checkpoint ckpt.bin holds the best state and last.bin the latest when val
# did not improve or a signal stopped the run. Kills (-9 and SIGTERM) at random moments; after
# each, both files load when there, and a resume continues from the newer.
step_of() { "$bin" eval --out_dir=run --checkpoint="$1" --eval_iters=1 --threads=1 --token_by_token=false 2> "eval.err" |
    awk '/^step:/ {print $2}'; }
rm -rf run
best_run=(--learning_rate=3e-2 --warmup_iters=0)
for a in "${run[@]}"; do [[ $a == --always_save_checkpoint ]] || best_run+=("$a"); done
last_saves=0 best_saves=0 terms=0 from_last=0
for k in $(seq "$kills"); do
    newest=""
    if [[ -f run/ckpt.bin || -f run/last.bin ]]; then
        args=(--init_from=resume)
        newest=$(step_of last) || fail "the latest checkpoint does not load before start $k: $(cat eval.err)"
    else
        args=(--overwrite)
    fi
    "$bin" train "${best_run[@]}" "${args[@]}" > "best.$k" 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' "$(rng_ms 600)")"
    if ((k % 3 == 0)); then kill -TERM "$pid" 2> /dev/null && terms=$((terms + 1)) || true
    else kill -9 "$pid" 2> /dev/null || true; fi
    wait "$pid" 2> /dev/null || true
    # (a kill in the first milliseconds comes before the start-up lines)
    if [[ -n $newest ]] && grep -q "resuming at step" "best.$k"; then
        grep -q "resuming at step $newest from run/" "best.$k" || fail "start $k did not resume from step $newest: $(head -3 "best.$k" | tr '\n' '|')"
        grep -q "resuming at step $newest from run/last.bin" "best.$k" && from_last=$((from_last + 1))
    fi
    for which in best last; do
        file=run/ckpt.bin
        [[ $which == last ]] && file=run/last.bin
        [[ -f $file ]] || continue
        step_of "$which" > /dev/null || fail "$file does not load after kill $k: $(cat eval.err)"
    done
    [[ ! -f run/log.csv ]] || check_log "best $k"
    last_saves=$((last_saves + $(grep -c 'last.bin' "best.$k" || true)))
    best_saves=$((best_saves + $(grep -c 'saved checkpoint to run/ckpt.bin' "best.$k" || true)))
done
if [[ -f run/ckpt.bin || -f run/last.bin ]]; then args=(--init_from=resume); else args=(--overwrite); fi
"$bin" train "${best_run[@]}" "${args[@]}" > best.final 2>&1 || fail "the final run failed: $(tail -1 best.final)"
check_log "best final"
[[ $(step_of last) == "$max_iters" ]] || fail "the latest state is not at step $max_iters"
((last_saves > 0)) || fail "no state was saved to last.bin: the test did not reach that path"
echo "kill test: $kills more kills without --always_save_checkpoint ($terms by SIGTERM); $best_saves saves of ckpt.bin and" \
     "$last_saves lines naming last.bin, $from_last resumes from last.bin, each from the newer file; the final resume" \
     "completed $max_iters steps"

# ---- a full disk ----------------------------------------------------------------------------
# A small tmpfs (mounted when run as root) filled at a random moment of the run: the run must stop
# with one line and a non-zero status, every file whole; with the space back a resume goes on.
if [[ $(id -u) != 0 ]] || ! mkdir -p disk || ! mount -t tmpfs -o size=1m tmpfs disk 2> /dev/null; then
    echo "kill test: the full-disk part is skipped: it mounts a small tmpfs, which needs root"
    exit 0
fi
trap 'umount -l "$work/disk" 2> /dev/null; rm -rf "$work"' EXIT
fills=4
stops=0
disk_run=()
for a in "${run[@]}"; do
    case $a in
        --out_dir=*) disk_run+=(--out_dir=disk/run) ;;
        --max_iters=*) ;;
        *) disk_run+=("$a") ;;
    esac
done
for k in $(seq "$fills"); do
    rm -f disk/filler
    if [[ -f disk/run/ckpt.bin ]]; then args=(--init_from=resume); else args=(--overwrite); fi
    "$bin" train "${disk_run[@]}" --max_iters=1000000 "${args[@]}" > "disk.$k" 2> "disk.err.$k" &
    pid=$!
    sleep "$(printf '0.%03d' "$((200 + $(rng_ms 600)))")"
    dd if=/dev/zero of=disk/filler bs=4k 2> /dev/null || true
    status=0
    wait "$pid" || status=$?
    ((status != 0)) || fail "a run on a full disk exited 0"
    [[ $(wc -l < "disk.err.$k") == 1 ]] || fail "a run on a full disk said more or less than one line: $(cat "disk.err.$k")"
    stops=$((stops + 1))
    [[ -z "$(tail -c 1 disk/run/log.csv)" ]] || fail "log.csv ends in a cut-short row after fill $k"
    check_log "fill $k" disk/run/log.csv
    [[ ! -f disk/run/ckpt.bin ]] || "$bin" eval --out_dir=disk/run --eval_iters=1 --threads=1 > /dev/null 2> "eval.$k" ||
        fail "the checkpoint does not load after fill $k: $(cat "eval.$k")"
    echo "fill $k after $(grep -c '^step ' "disk.$k" || true) progress lines: $(cat "disk.err.$k")"
done
rm -f disk/filler
at=$("$bin" eval --out_dir=disk/run --eval_iters=1 --threads=1 --token_by_token=false | awk '/^step:/ {print $2}')
"$bin" train "${disk_run[@]}" --max_iters=$((at + 2 * eval_every)) --init_from=resume > disk.final 2>&1 ||
    fail "the resume after the disk filled failed: $(tail -1 disk.final)"
check_log "disk final" disk/run/log.csv
echo "kill test: $stops runs stopped by a full disk, each with one line and every file whole; with the space" \
     "back the resume went on from step $at to $((at + 2 * eval_every))"
