#!/usr/bin/env bash
# Writes the study's report (study/README.md) and its plots (study/plots/*.svg)
# from the finished runs' files alone: log.csv, eval.txt, train.txt,
# machine.txt, stages.csv, samples.txt. No training, no clock, no reading of
# this machine: the same logs give the same bytes.
#
#   study/report.sh                      study/runs/ -> study/README.md, study/plots/
#   study/report.sh --runs=DIR           DIR/ -> DIR/README.md, DIR/plots/ (e.g. study/runs-quick)
#   study/report.sh --grid=FILE --runs=DIR
#
# The environment variable CAUSALGRAD names the binary that draws the plots
# (default build/causalgrad).
{
set -euo pipefail
cd "$(dirname "$0")/.."

grid=study/grid.conf
runs=study/runs
bin=${CAUSALGRAD:-build/causalgrad}
for arg in "$@"; do
    case "$arg" in
        --grid=*) grid=${arg#--grid=} ;;
        --runs=*) runs=${arg#--runs=} ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "study/report.sh: unknown argument '$arg' (see study/report.sh --help)" >&2; exit 2 ;;
    esac
done
runs=${runs%/}
if [ "$runs" = study/runs ]; then out=study/README.md; plots=study/plots; else out=$runs/README.md; plots=$runs/plots; fi
[ -x "$bin" ] || { echo "study/report.sh: no binary at $bin; run make build first" >&2; exit 1; }
export LC_ALL=C  # the same sort order and number format everywhere

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash study/grid.sh --settings "$grid" >"$tmp/grid.tsv"

# ---- facts: one line per finished run, one per setting ----------------------------------------

: >"$tmp/runs.tsv"
: >"$tmp/curves.tsv"
: >"$tmp/settings.tsv"
finished=0
total=0
while IFS=$'\t' read -r part name seeds steps overrides; do
    logs=()
    for seed in ${seeds//,/ }; do
        total=$((total + 1))
        d=$runs/$part/$name/seed$seed
        [ -f "$d/eval.txt" ] || continue
        finished=$((finished + 1))
        logs+=("$d/log.csv")
        eval_facts=$(awk '/^parameters:/ {p = $2; q = $3; sub(/\(/, "", q)} /^step:/ {s = $2}
            /full sequences/ {f = $NF} /token by token/ {t = $NF} END {printf "%s|%s|%s|%s|%s", s, f, t, p, q}' "$d/eval.txt")
        best=$(awk -F, 'NR > 1 && $3 != "" && (b == "" || $3 + 0 < b + 0) {b = $3} END {print b}' "$d/log.csv")
        tokens=$(awk '/^  batch_size = / && !b {b = $3} /^  block_size = / && !t {t = $3} END {print b * t}' "$d/train.txt")
        IFS='|' read -r s f t p q <<<"$eval_facts"  # not tabs: read would merge an empty field
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$part" "$name" "$seed" "$s" "$f" "$t" "$best" "$p" "$q" "$tokens" >>"$tmp/runs.tsv"
        awk -F, -v p="$part" -v n="$name" -v s="$seed" 'NR > 1 && $3 != "" {print p "\t" n "\t" s "\t" $1 "\t" $3}' \
            "$d/log.csv" >>"$tmp/curves.tsv"
    done
    ms=""
    if ((${#logs[@]})); then  # the median ms_per_step of every logged step of the finished seeds
        ms=$(awk -F, 'FNR > 1 && $6 != "" {print $6}' "${logs[@]}" | sort -g |
            awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$part" "$name" "$seeds" "$steps" "$overrides" "$ms" >>"$tmp/settings.tsv"
done <"$tmp/grid.tsv"

# The machines the runs of a part (or of all parts: *) ran on, as "CPU, N cores; ...".
machines_of() {
    { cat "$runs"/$1/*/seed*/machine.txt 2>/dev/null || true; } | awk -F': ' '/^cpu:/ {c = $2} /^cores:/ {print c ", " $2 " cores"}' | sort -u | paste -sd ';' - | sed 's/;/; /g'
}
machines=$(machines_of '*')
report() {  # a table names the machines of its own part
    local where=$machines
    [ "$1" = table ] && where=$(machines_of "$2")
    awk -v mode="$1" -v part="${2:-}" -v machines="$where" -f study/report.awk "$tmp/settings.tsv" "$tmp/runs.tsv" "$tmp/curves.tsv"
}

# The finished runs of a setting as a plot argument: LABEL=DIR,DIR,...
plot_arg() {
    local part=$1 name=$2 dirs=() d
    for d in "$runs/$part/$name"/seed*; do [ -f "$d/eval.txt" ] && dirs+=("$d"); done
    ((${#dirs[@]})) || return 0
    local IFS=,
    echo "$name=${dirs[*]}"
}
# plot FILE TITLE [plot options] -- PART NAME...: the mean curves of the named settings.
plot() {
    local file=$1 title=$2 options=() args=() a
    shift 2
    while [ "$1" != -- ]; do options+=("$1"); shift; done
    shift
    local part=$1
    shift
    for name in "$@"; do
        a=$(plot_arg "$part" "$name")
        [ -n "$a" ] && args+=("$a")
    done
    ((${#args[@]})) || return 0
    mkdir -p "$plots"
    "$bin" plot "${args[@]}" --title="$title" "${options[@]}" --to="$plots/$file" >/dev/null
    echo "![$title](${plots#"$(dirname "$out")/"}/$file)"
    echo
}

# The command of each setting, as the runner ran it (S: the seed).
commands() {
    local part=$1
    echo "Commands (each seed S; \`make study\` runs them all, \`make study-report\` rewrites this file):"
    echo
    echo '```sh'
    while IFS=$'\t' read -r p name seeds steps overrides; do
        [ "$p" = "$part" ] || continue
        local opts="" item
        for item in $overrides; do [[ $item == run.* ]] || opts+=" --$item"; done
        local dir=$runs/$part/$name/seedS
        echo "causalgrad train$opts --max_iters=$steps --lr_decay_iters=$steps --seed=S --threads=1 --always_save_checkpoint=true --out_dir=$dir"
    done <"$tmp/grid.tsv"
    echo "causalgrad eval --out_dir=$runs/$part/NAME/seedS --eval_iters=200 --threads=1"
    echo '```'
    echo
}

# ---- the report -------------------------------------------------------------------------------

{
cat <<EOF
# The study: attention against the paper's replacement mixers

Generated by \`make study-report\` (\`study/report.sh\`) from the logs in \`$runs/\`;
do not edit by hand. The runs are declared in \`$grid\` and run by \`make study\`
(\`study/run.sh\`): it skips finished runs and resumes interrupted ones, so the
study continues across sessions. **$finished of $total runs have finished.**
To go on: \`make study\` (it stops and resumes cleanly; in the background:
\`nice -n 19 setsid make study > study.log 2>&1 &\`); to commit what has finished:
\`git add -f \$(study/run.sh --finished)\` and \`make study-report\`.

How to read the tables:

- **val loss**: \`causalgrad eval --eval_iters=200\` on the run's final checkpoint,
  200 val batches, on full sequences; mean ± sample standard deviation over the
  finished seeds. **best val**: the lowest val loss of the evaluations during
  training (50 batches; 200 in part 5), averaged over seeds.
- **val token by token**: the same 200 batches through the incremental path
  (one token at a time, no future in view). For a causal model it equals the
  full-sequence loss; for a leaking one (\`+gavg\`) it is the honest number.
- **parameters**: all of them, and without the position embeddings (nanoGPT's
  count). **tokens seen**: steps × batch × block.
- **ms/step**: the median of the logged steps. Every run used one thread, at
  \`nice -n 19\`, two runs at a time, on a machine shared with other work
  (${machines:-no machine recorded yet}; each run's \`machine.txt\` says where
  it ran, with the load when it started). They measure the load at the time as
  much as the model: runs stopped while the machine was busy and sped up when it
  was idle. For the cost of a step, see the README's Performance section
  (\`make bench\`).

EOF

echo "## Part 1. Small: nanoGPT's CPU config, 2,000 steps, 3 seeds"
echo
echo "4 layers, 4 heads, n_embd 128, block 64, batch 12; AdamW 1e-3, warmup 100, cosine to 1e-4."
echo
report table 1_small
echo
commands 1_small
plot small_pairwise.svg "Part 1: pairwise and running ops (val, mean of seeds)" --train=false --from_step=1 -- 1_small attn pair_max pair_min pair_mean scan_max scan_min avg
plot small_average.svg "Part 1: average context (val, mean of seeds)" --train=false --from_step=1 -- 1_small attn pair_max pair_max+avg pair_min+avg pair_max+gavg pair_min+gavg
plot small_variants.svg "Part 1: value projection, activation, hybrids (val)" --train=false --from_step=1 -- 1_small attn pair_max pair_max_vproj scan_max_vproj act_pair_max hybrid_attn_first hybrid_attn_last

echo "## Part 2. Equal parameters"
echo
echo "Attention shrunk to pair_max's count, and pair_max grown to attention's; compare with \`attn\` and \`pair_max\` of part 1."
echo
report table 2_equal_params
echo
commands 2_equal_params
plot equal_params.svg "Part 2: equal parameters (val, mean of seeds)" --train=false --from_step=1 -- 2_equal_params attn_3_layers attn_n_embd_112 pair_max_5_layers pair_max_n_embd_148

echo "## Part 3. Budget: 10,000 steps, and equal wall-clock time"
echo
echo "The cosine schedule is stretched to each run's length; evaluated every 500 steps (50 batches), 2 seeds."
echo
report table 3_budget
echo
echo "Where (if anywhere) attention overtakes, from the mean val curves (50-batch evaluations):"
echo
report overtake
echo
commands 3_budget
plot budget.svg "Part 3: 10,000 steps (val, mean of 2 seeds)" --train=false --log_steps --from_step=1 -- 3_budget attn pair_max pair_max+avg hybrid_attn_first hybrid_attn_last pair_max_equal_time pair_max+avg_equal_time

echo "## Part 4. Context 256 at the same tokens per step (batch 3)"
echo
report table 4_context
echo
commands 4_context
plot context.svg "Part 4: block 256, batch 3 (val)" --train=false --log_steps --from_step=1 -- 4_context attn_2k pair_max_2k pair_max+avg_2k attn_10k pair_max_10k pair_max+avg_10k

echo "## Part 5. Larger: nanoGPT's shakespeare_char model, batch 16"
echo
echo "6 layers, 6 heads, n_embd 384, block 256, dropout 0.2; nanoGPT's recipe (lr 1e-3, warmup 100, cosine to 1e-4,"
echo "betas 0.9/0.99, weight decay 0.1, clip 1) for its 5,000 steps at batch 16 instead of 64 (20M tokens instead"
echo "of 82M: a batch-64 attention run would take about a day of one core here), evaluated every 250 steps on"
echo "200 batches. Each run used one thread."
echo
report table 5_larger
echo
report larger
echo
commands 5_larger
plot larger.svg "Part 5: 6 layers of 384, block 256 (val, 200 batches, mean of seeds)" --train=false --from_step=1 -- 5_larger attn pair_max pair_max+avg hybrid_attn_last

echo "## Part 6. The leak"
echo
echo "\`pair_max+gavg\` takes the mean over the whole sequence, future included. Every 250 steps the"
echo "run stopped and \`causalgrad eval\` measured its val loss both ways (200 batches): on full sequences, as"
echo "it was trained, and token by token, where the mean can only cover the tokens so far. \`pair_max+avg\`"
echo "(the causal running mean) beside it: its two numbers agree."
echo
leak_seed() {  # the first seed of a part-6 setting with evaluations at stages
    local f
    for f in "$runs/6_leak/$1"/seed*/stages.csv; do [ -f "$f" ] && basename "$(dirname "$f")" && return; done
    return 0
}
for name in pair_max+gavg pair_max+avg; do
    seed=$(leak_seed "$name")
    f=$runs/6_leak/$name/$seed/stages.csv
    [ -n "$seed" ] || { echo "\`$name\`: not finished yet"; echo; continue; }
    echo "\`$name\` ($seed):"
    echo
    echo "| step | val, full sequences | val, token by token | difference |"
    echo "|---|---|---|---|"
    awk -F, 'NR > 1 {printf "| %s | %.3f | %.3f | %+.3f |\n", $1, $2, $3, $3 - $2}' "$f"
    echo
    # The same setting and seed ran uninterrupted in part 1: stopping and resuming must not change it.
    whole=$runs/1_small/$name/$seed/eval.txt
    if [ -f "$whole" ] && [ -f "$runs/6_leak/$name/$seed/eval.txt" ]; then
        awk -v name="$name" 'FNR == 1 {file++} /^val loss/ {v[file] = v[file] " " $NF}
            END {printf "Resumed at every stage, the run ends where part 1'"'"'s uninterrupted `%s` (same seed) ended: val loss (full sequences, token by token)%s against%s: %s.\n\n",
                 name, v[1], v[2], v[1] == v[2] ? "identical" : "different"}' "$runs/6_leak/$name/$seed/eval.txt" "$whole"
    fi
    # The two curves as log.csv files, so causalgrad plot draws them.
    awk -F, 'NR == 1 {print "step,train_loss,val_loss"} NR > 1 {print $1 ",," $2}' "$f" >"$tmp/$name-full.csv"
    awk -F, 'NR == 1 {print "step,train_loss,val_loss"} NR > 1 {print $1 ",," $3}' "$f" >"$tmp/$name-step.csv"
done
leak_args=()
for name in pair_max+gavg pair_max+avg; do
    [ -f "$tmp/$name-full.csv" ] && leak_args+=("$name, full sequences=$tmp/$name-full.csv" "$name, token by token=$tmp/$name-step.csv")
done
if ((${#leak_args[@]})); then
    mkdir -p "$plots"
    "$bin" plot "${leak_args[@]}" --title="Part 6: val loss both ways during training" --train=false --to="$plots/leak.svg" >/dev/null
    echo "![Part 6: val loss both ways during training](${plots#"$(dirname "$out")/"}/leak.svg)"
    echo
fi
samples=$runs/6_leak/pair_max+gavg/$(leak_seed pair_max+gavg)/samples.txt
if [ -f "$samples" ]; then
    echo "Samples of the final \`pair_max+gavg\` model (\`causalgrad sample --allow_leak --path=step\` and \`--path=full\`,"
    echo "sampling seed 1337, temperature 0.8): the full-sequence path is the one the model was trained on, which leaks."
    echo
    # Side by side: one column per "== path ==" section of samples.txt.
    awk 'function esc(t) { gsub(/&/, "\\&amp;", t); gsub(/</, "\\&lt;", t); gsub(/>/, "\\&gt;", t); return t }
        /^== .* ==$/ { n++; head[n] = substr($0, 4, length($0) - 6); next }
        n { body[n] = body[n] esc($0) "\n" }
        END {
            printf "<table><tr>"
            for (i = 1; i <= n; i++) printf "<th>%s</th>", esc(head[i])
            printf "</tr><tr>\n"
            for (i = 1; i <= n; i++) printf "<td><pre>\n%s</pre></td>\n", body[i]
            print "</tr></table>"
        }' "$samples"
    echo
fi
echo "Commands:"
echo
echo '```sh'
echo "study/run.sh   # trains $runs/6_leak/NAME/seed1337 250 steps at a time (--max_iters=250, 500, ... with --init_from=resume),"
echo "               # after each: causalgrad eval --out_dir=... --eval_iters=200"
echo "causalgrad sample --out_dir=$runs/6_leak/pair_max+gavg/seed1337 --max_new_tokens=300 --allow_leak --path=step   # and --path=full"
echo '```'
echo

echo "## Part 7. What trained attention does"
echo
echo "The paper's Figure 1 reports that trained decoder attention settles into a static pattern: each token"
echo "spreading uniform weight over the tokens before it. \`causalgrad attention\` measures each head of a"
echo "trained model on a prompt (the first characters of the val split: \`study/prompt_64.txt\`, and"
echo "\`study/prompt_256.txt\` for the larger model): for every query t >= 1, the KL divergence and the total"
echo "variation (TV, from 0 to 1) of its weights from uniform over tokens 0..t, and its weight on the token"
echo "itself and on the previous one (what pair_max hard-codes), averaged over the queries. A head is"
echo "*near* a pattern when its mean TV from it is below 1/2, the pattern nearest when several are."
echo "Counts are over every head of every finished seed."
echo
attention_runs=()
while IFS=$'\t' read -r part name seeds steps overrides; do
    [[ " $overrides " == *" run.attention="* ]] || continue
    for seed in ${seeds//,/ }; do
        f=$runs/$part/$name/seed$seed/attention.txt
        [ -f "$f" ] && attention_runs+=("$part/$name/seed$seed")
    done
done <"$tmp/grid.tsv"
if ((${#attention_runs[@]} == 0)); then
    echo "No run with its attention measured has finished yet."
    echo
else
    echo "| setting | steps | seeds | heads | near uniform | near previous | near itself | neither | KL from uniform | TV from uniform | on itself | on previous |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for r in "${attention_runs[@]}"; do printf '%s\t%s\n' "${r%/seed*}" "$runs/$r/attention.txt"; done |
        awk -F'\t' '
        { key = $1; if (!(key in seen)) { seen[key] = 1; keys[++n] = key }; seeds[key]++
          while ((getline line < $2) > 0) {
              if (line ~ /^checkpoint: .*\(step [0-9]+/) { st[key] = line; sub(/.*\(step /, "", st[key]); sub(/[^0-9].*/, "", st[key]) }
              if (split(line, c, " ") == 7 && c[1] ~ /^[0-9]+$/) {
                  heads[key]++; kl[key] += c[3]; tv[key] += c[4]; self[key] += c[5]; prev[key] += c[6]; near[key, c[7]]++
              }
          }
          close($2) }
        END {
            for (i = 1; i <= n; i++) {
                k = keys[i]; h = heads[k]; all += h; uni += near[k, "uniform"]
                printf "| %s | %s | %d | %d | %d | %d | %d | %d | %.3f | %.3f | %.3f | %.3f |\n", k, st[k], seeds[k], h,
                    near[k, "uniform"], near[k, "previous"], near[k, "self"], near[k, "neither"], kl[k] / h, tv[k] / h, self[k] / h, prev[k] / h
            }
            printf "\nVerdict on the observation: %d of %d trained attention heads are near the uniform causal average (TV below 1/2).\n", uni, all
        }'
    echo
    for r in "${attention_runs[@]}"; do
        [[ $r == */seed1337 ]] || continue
        f=attention_$(tr '/+' '__' <<<"${r%/seed*}").svg
        mkdir -p "$plots"
        cp "$runs/$r/attention.svg" "$plots/$f"
        echo "![Part 7: the heads of ${r%/seed*} (seed 1337)](${plots#"$(dirname "$out")/"}/$f)"
        echo
    done
fi
# The models of part 7 are those of parts 1 and 3 trained again: their final val losses side by side.
same_models=""
for pair in "attn_2k 1_small/attn" "attn_10k 3_budget/attn"; do
    read -r name other <<<"$pair"
    for d in "$runs/7_attention/$name"/seed*; do
        seed=${d##*/}
        [ -f "$d/eval.txt" ] && [ -f "$runs/$other/$seed/eval.txt" ] || continue
        same_models+="$(awk -v a="7_attention/$name/$seed" -v b="$other/$seed" 'FNR == 1 {file++} /full sequences/ {v[file] = $NF}
            END {printf "%s %s against %s %s", a, v[1], b, v[2]}' "$d/eval.txt" "$runs/$other/$seed/eval.txt"); "
    done
done
if [ -n "$same_models" ]; then
    echo "The same settings and seeds as parts 1 and 3, trained again, end at these val losses (200 batches): ${same_models%; }."
    echo
fi
echo "Commands (each run's final checkpoint; the models of part 7 are those of parts 1 and 3, trained again):"
echo
echo '```sh'
echo "causalgrad attention --out_dir=$runs/PART/NAME/seedS --start=FILE:study/prompt_64.txt --draw_tokens=32 --to=attention.svg"
echo '```'
echo
echo "## Verdicts"
echo
echo "Computed from the tables above (\`study/report.awk\`, function \`verdicts\`): a claim holds under a"
echo "condition when the replacement's mean val loss is below the other's."
echo
report verdicts
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($finished of $total runs finished)"

# The project README's summary of the study, between its two marker lines.
begin='<!-- study summary: written by make study-report -->'
end='<!-- end of study summary -->'
if [ "$out" = study/README.md ] && grep -qxF "$begin" README.md && grep -qxF "$end" README.md; then
    {
        echo "Where the study stands ($finished of $total runs finished; \`make study-report\` recomputes every"
        echo "number here and in [study/README.md](study/README.md) from the logs in \`study/runs/\`, \`make study\`"
        echo "retrains the missing runs; each run's \`causalgrad\` commands are listed beside its table there):"
        echo
        report summary
    } >"$tmp/summary.md"
    awk -v begin="$begin" -v end="$end" -v summary="$tmp/summary.md" '
        $0 == begin { print; while ((getline line < summary) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip' README.md >README.md.tmp
    mv README.md.tmp README.md
    echo "wrote the study summary in README.md"
fi
}
