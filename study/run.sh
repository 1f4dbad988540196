#!/usr/bin/env bash
# Runs the study's grid (study/grid.conf): every run of every setting and seed,
# in the grid's order, skipping finished runs and resuming interrupted ones.
#
#   study/run.sh                 the real runs, into study/runs/
#   study/run.sh --quick         every run cut to a few steps, into study/runs-quick/
#   study/run.sh --jobs=2        two runs at a time (each uses one thread)
#   study/run.sh --grid=FILE --runs=DIR --data_dir=DIR   another grid (the tests use a tiny one)
#   study/run.sh --finished      list the files of the finished runs to commit (logs, never
#                                checkpoints) and stop: git add -f $(study/run.sh --finished)
#                                (study/runs/ is git-ignored, so the runs in progress stay out)
#
# A run's folder, study/runs/<part>/<name>/seed<k>/, ends up holding:
#   log.csv      the training log (causalgrad train)
#   train.txt    what causalgrad train printed (settings, parameters, progress)
#   eval.txt     causalgrad eval on the final checkpoint, 200 val batches
#   machine.txt  the CPU, cores, threads and nice level it ran with, per session
#   stages.csv   (run.stage) the val loss both ways every N steps
#   samples.txt  (run.samples) text sampled through both paths
#   attention.txt, attention.svg  (run.attention) causalgrad attention on the
#                final checkpoint: each head's distance from uniform, heat maps
#   ckpt.bin     the last checkpoint (not committed; kept so the run can resume)
# A run is finished when all of them are there. The grid is read again before
# each run starts, so settings can be added while the runner works.
#
# The environment variable CAUSALGRAD names the binary (default build/causalgrad).
#
# The whole script is one block that bash reads before running it, so editing
# this file while a study runs does not change the running one.
{
set -euo pipefail
cd "$(dirname "$0")/.."

grid=study/grid.conf
runs=study/runs
data_dir=data/shakespeare_char
quick=0
list_finished=0
jobs=1
bin=${CAUSALGRAD:-build/causalgrad}

# A --quick run: steps, evaluation interval and batches cut so every part takes seconds.
quick_steps=4
quick_eval_iters=2

for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --finished) list_finished=1 ;;
        --jobs=*) jobs=${arg#--jobs=} ;;
        --grid=*) grid=${arg#--grid=} ;;
        --runs=*) runs=${arg#--runs=} ;;
        --data_dir=*) data_dir=${arg#--data_dir=} ;;
        -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "study/run.sh: unknown argument '$arg' (see study/run.sh --help)" >&2; exit 2 ;;
    esac
done
if ((quick)) && [ "$runs" = study/runs ]; then runs=study/runs-quick; fi
[ -x "$bin" ] || { echo "study/run.sh: no binary at $bin; run make build first" >&2; exit 1; }
[ -f "$grid" ] || { echo "study/run.sh: no grid file at $grid" >&2; exit 1; }

# The grid's runs in the order they start, one per line:
#   part <TAB> name <TAB> seed <TAB> steps <TAB> overrides
list_runs() {
    bash study/grid.sh "$grid"
}

# The value of key=VALUE in a list of overrides (empty if absent).
override() {
    local key=$1 item
    shift
    for item in $*; do
        if [ "${item%%=*}" = "$key" ]; then echo "${item#*=}"; return; fi
    done
}

# The eval row (step,train,val,...) of log.csv at a step, if any.
has_eval_at() {
    [ -f "$1/log.csv" ] && awk -F, -v s="$2" '$1 == s && $3 != "" {found = 1} END {exit !found}' "$1/log.csv"
}

record_machine() {
    local dir=$1
    {
        echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)"
        echo "cores: $(nproc)"
        echo "threads: 1"
        echo "nice: $(nice)"
        echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
        echo "binary: $bin ($(git rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
        echo "started: $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
    } >>"$dir/machine.txt"
}

# Trains a run up to step `upto` (resuming from its checkpoint if it has one).
train_to() {
    local dir=$1 steps=$2 upto=$3 overrides=$4
    local args=(--out_dir="$dir" --data_dir="$data_dir" --threads=1 --always_save_checkpoint=true
        --max_iters="$upto" --lr_decay_iters="$steps")
    local item
    for item in $overrides; do
        [[ $item == run.* ]] && continue
        # A quick run sets these itself (each option once on the command line).
        ((quick)) && [[ $item =~ ^(eval_interval|eval_iters|log_interval)= ]] && continue
        args+=("--$item")
    done
    if ((quick)); then
        args+=(--eval_interval=$((quick_steps / 2)) --eval_iters=1 --log_interval=1)
    fi
    # last.bin: the latest state, kept beside the best; a log alone: a run killed before its first save.
    if [ -f "$dir/ckpt.bin" ] || [ -f "$dir/last.bin" ]; then args+=(--init_from=resume)
    elif [ -f "$dir/log.csv" ]; then args+=(--overwrite); fi
    echo "\$ causalgrad train ${args[*]}" >>"$dir/train.txt"
    "$bin" train "${args[@]}" >>"$dir/train.txt" 2>&1
}

# causalgrad eval of the run's checkpoint into FILE (written whole or not at all).
evaluate() {
    local dir=$1 file=$2 paths=$3
    local iters=200
    ((quick)) && iters=$quick_eval_iters
    local args=(--out_dir="$dir" --data_dir="$data_dir" --threads=1 --eval_iters=$iters)
    [ "$paths" = full ] && args+=(--token_by_token=false)
    "$bin" eval "${args[@]}" >"$file.tmp" && mv "$file.tmp" "$file"
}

# Samples through both paths: the causal token-by-token one and the
# full-sequence one (for a leaking mixer, labelled as such).
write_samples() {
    local dir=$1 n=300
    ((quick)) && n=20
    local args=(--out_dir="$dir" --threads=1 --max_new_tokens=$n --allow_leak)
    {
        echo "== token by token (the incremental path; the whole-sequence mean becomes a running mean) ==" &&
            "$bin" sample "${args[@]}" --path=step &&
            echo "== full sequence (a forward over the whole context for each token, as in training: it leaks) ==" &&
            "$bin" sample "${args[@]}" --path=full
    } >"$dir/samples.txt.tmp" 2>&1 && mv "$dir/samples.txt.tmp" "$dir/samples.txt"
}

# causalgrad attention on the run's final checkpoint, for the prompt in FILE.
look_at_attention() {
    local dir=$1 prompt=$2
    "$bin" attention --out_dir="$dir" --threads=1 --start="FILE:$prompt" --draw_tokens=32 \
        --to="$dir/attention.svg" >"$dir/attention.txt.tmp" && mv "$dir/attention.txt.tmp" "$dir/attention.txt"
}

run_is_finished() {
    local dir=$1 overrides=$2
    [ -f "$dir/eval.txt" ] || return 1
    if [ -n "$(override run.samples $overrides)" ]; then [ -f "$dir/samples.txt" ] || return 1; fi
    if [ -n "$(override run.attention $overrides)" ]; then [ -f "$dir/attention.txt" ] || return 1; fi
    return 0
}

# One run, start to end; each step is skipped if its output is already there.
do_run() {
    local part=$1 name=$2 seed=$3 steps=$4 overrides=$5 dir=$6
    ((quick)) && steps=$quick_steps
    local stage paths
    stage=$(override run.stage $overrides)
    paths=$(override run.eval $overrides)
    ((quick)) && [ -n "$stage" ] && stage=$((steps / 2))
    overrides="$overrides seed=$seed"

    echo "==> $part/$name seed $seed: $steps steps ($(date -u '+%H:%M'))"
    record_machine "$dir"
    if [ -n "$stage" ]; then
        local upto line
        [ -f "$dir/stages.csv" ] || echo "step,val_full,val_token_by_token" >"$dir/stages.csv"
        for ((upto = stage; upto <= steps; upto += stage)); do
            grep -q "^$upto," "$dir/stages.csv" && continue
            has_eval_at "$dir" "$upto" || train_to "$dir" "$steps" "$upto" "$overrides" || return 1
            evaluate "$dir" "$dir/stage.txt" both || return 1
            line=$(awk -v s="$upto" '/full sequences/ {f = $NF} /token by token/ {t = $NF} END {print s "," f "," t}' "$dir/stage.txt")
            echo "$line" >>"$dir/stages.csv"
            rm -f "$dir/stage.txt"
        done
    fi
    # Each command below is checked by hand: `set -e` does not act inside a
    # function called as a condition, which is how the worker calls this one.
    has_eval_at "$dir" "$steps" || train_to "$dir" "$steps" "$steps" "$overrides" || return 1
    has_eval_at "$dir" "$steps" || { echo "no evaluation at step $steps in $dir/log.csv" >&2; return 1; }
    [ -f "$dir/eval.txt" ] || evaluate "$dir" "$dir/eval.txt" "${paths:-both}" || return 1
    if [ -n "$(override run.samples $overrides)" ] && [ ! -f "$dir/samples.txt" ]; then
        write_samples "$dir" || return 1
    fi
    local prompt
    prompt=$(override run.attention $overrides)
    if [ -n "$prompt" ] && [ ! -f "$dir/attention.txt" ]; then
        look_at_attention "$dir" "$prompt" || return 1
    fi
    echo "==> $part/$name seed $seed: done, $(grep 'full sequences' "$dir/eval.txt")"
}

# One worker: takes the first run that is neither finished nor held by another
# worker (a flock on run.lock in its folder), runs it, and looks again.
worker() {
    local failed=" " part name seed steps overrides dir key
    local list tries=0
    while true; do
        local took=0
        # The grid may be mid-edit: try again for a few minutes before giving up.
        until list=$(list_runs); do
            ((++tries < 10)) || return 1
            sleep 30
        done
        tries=0
        while IFS=$'\t' read -r part name seed steps overrides; do
            dir=$runs/$part/$name/seed$seed
            key="$part/$name/$seed"
            [[ $failed == *" $key "* ]] && continue
            run_is_finished "$dir" "$overrides" && continue
            mkdir -p "$dir"
            exec {lock}>"$dir/run.lock"
            if ! flock -n "$lock"; then exec {lock}>&-; continue; fi
            took=1
            if run_is_finished "$dir" "$overrides"; then exec {lock}>&-; break; fi  # finished meanwhile
            if ! (do_run "$part" "$name" "$seed" "$steps" "$overrides" "$dir" </dev/null); then
                echo "==> $part/$name seed $seed: FAILED (see $dir/train.txt)" >&2
                failed+="$key "
            fi
            exec {lock}>&-
            break
        done <<<"$list"
        ((took)) || return 0
    done
}

if ((list_finished)); then
    while IFS=$'\t' read -r part name seed steps overrides; do
        d=$runs/$part/$name/seed$seed
        run_is_finished "$d" "$overrides" || continue
        for f in log.csv train.txt eval.txt machine.txt stages.csv samples.txt attention.txt attention.svg; do
            if [ -f "$d/$f" ]; then echo "$d/$f"; fi
        done
    done < <(list_runs)
    exit 0
fi

echo "==> study: grid $grid -> $runs/ ($jobs at a time, binary $bin)"
pids=()
for ((j = 0; j < jobs; j++)); do
    worker &
    pids+=($!)
    sleep 1  # the workers take different runs: each sees the other's lock
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

unfinished=0
while IFS=$'\t' read -r part name seed steps overrides; do
    run_is_finished "$runs/$part/$name/seed$seed" "$overrides" || unfinished=$((unfinished + 1))
done < <(list_runs)
if ((unfinished)); then
    echo "==> study: $unfinished runs unfinished (failed ones are named above); run it again to retry" >&2
    exit 1
fi
echo "==> study: every run finished"
exit $status
}
