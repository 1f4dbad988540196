# The study's tables and verdicts, from the facts study/report.sh collects.
# Input files (tab-separated):
#   settings.tsv  part name seeds steps overrides ms_median
#   runs.tsv      part name seed steps val_full val_token_by_token best_val params params_nopos tokens_per_step
#   curves.tsv    part name seed step val      (the val rows of each finished run's log.csv)
# -v mode=table -v part=P   the table of part P (-v machines=TEXT: where the runs ran)
# -v mode=overtake          part 3: where attention overtakes, and equal wall-clock time
# -v mode=larger            part 5: training time, distance from nanoGPT, crossings, equal wall-clock time
# -v mode=verdicts          the verdict per claim, with every comparison
# -v mode=summary           the verdict per claim, one line each
# Every number printed comes from these files: nothing here knows a result.
BEGIN { FS = "\t" }
FILENAME ~ /settings.tsv$/ {
    key = $1 "/" $2
    order[++n_settings] = key
    s_part[key] = $1; s_name[key] = $2; s_seeds[key] = $3; s_steps[key] = $4; s_over[key] = $5; s_ms[key] = $6
    next
}
FILENAME ~ /runs.tsv$/ {
    key = $1 "/" $2
    k = ++n_runs[key]
    r_seed[key, k] = $3; r_steps[key, k] = $4; r_full[key, k] = $5; r_tbt[key, k] = $6; r_best[key, k] = $7
    r_params[key] = $8; r_nopos[key] = $9; r_tokens[key] = $10
    next
}
FILENAME ~ /curves.tsv$/ {
    key = $1 "/" $2
    c_sum[key, $4] += $5; c_n[key, $4]++
    if (!((key, $4) in c_seen)) { c_seen[key, $4] = 1; c_steps[key] = c_steps[key] " " $4 }
    next
}

function commas(n,    s, out) {
    s = sprintf("%d", n); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return s out
}
function count(key) { return (key in n_runs) ? n_runs[key] : 0 }
# Mean, sample standard deviation, min and max over the finished seeds of a column (full, tbt, best).
function stat(key, what,    k, v, sum, n, m, ss) {
    n = count(key); sum = 0; st_min = 1e300; st_max = -1e300
    for (k = 1; k <= n; k++) {
        v = (what == "full") ? r_full[key, k] : (what == "tbt") ? r_tbt[key, k] : r_best[key, k]
        sum += v
        if (v < st_min) st_min = v
        if (v > st_max) st_max = v
    }
    if (n == 0) return ""
    m = sum / n; ss = 0
    for (k = 1; k <= n; k++) {
        v = (what == "full") ? r_full[key, k] : (what == "tbt") ? r_tbt[key, k] : r_best[key, k]
        ss += (v - m) * (v - m)
    }
    st_mean = m; st_std = (n > 1) ? sqrt(ss / (n - 1)) : -1
    return m
}
function mean_std(key, what) {
    if (stat(key, what) == "") return "-"
    return st_std < 0 ? sprintf("%.3f", st_mean) : sprintf("%.3f ± %.3f", st_mean, st_std)
}
function mixers(key,    n, items, i, out) {
    n = split(s_over[key], items, " "); out = ""
    for (i = 1; i <= n; i++) if (items[i] !~ /^(eval_iters|eval_interval|config|run\.[a-z]+)=/) out = out (out == "" ? "" : " ") items[i]
    gsub(/mixer=/, "", out)
    return out
}
function leaks(key) { return s_over[key] ~ /gavg/ }

function table(p,    i, key, n, steps) {
    printf "| setting | mixer and overrides | parameters (without position emb.) | steps | tokens seen | seeds done | val loss, mean ± std | best val (mean) | ms/step (%s) | val token by token |\n", machines == "" ? "machine not recorded" : machines
    print "|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n_settings; i++) {
        key = order[i]
        if (s_part[key] != p) continue
        n = count(key)
        if (n == 0) {
            printf "| %s | `%s` | - | %s | - | 0 of %d | not finished yet | - | - | - |\n", s_name[key], mixers(key), commas(s_steps[key]), split(s_seeds[key], tmp, ",")
            continue
        }
        steps = r_steps[key, 1]
        printf "| %s | `%s` | %s (%s) | %s | %s | %d of %d | %s | %s | %s | %s%s |\n", s_name[key], mixers(key),
            commas(r_params[key]), commas(r_nopos[key]), commas(steps), commas(steps * r_tokens[key]),
            n, split(s_seeds[key], tmp, ","), mean_std(key, "full"), mean_std(key, "best"),
            s_ms[key] == "" ? "-" : sprintf("%.1f", s_ms[key]),
            r_tbt[key, 1] == "" ? "-" : mean_std(key, "tbt"), leaks(key) ? " (leaks)" : ""
    }
}

# "A 1.721 ± 0.002 vs B 1.894 ± 0.003": sets cmp_lower: 1 when A's mean is lower (and,
# with several seeds each, every seed of A is below every seed of B), 2 when A's
# mean is lower but the seeds overlap, 0 when it is not lower, -1 when a side has
# no finished run.
function compare(a, b, what_a, what_b,    ma, mina, maxa, na, mb, minb, maxb, nb, how) {
    if (count(a) == 0 || count(b) == 0) {
        cmp_lower = -1
        return sprintf("%s vs %s: not finished yet", label(a), label(b))
    }
    ma = stat(a, what_a); mina = st_min; maxa = st_max; na = count(a)
    mb = stat(b, what_b); minb = st_min; maxb = st_max; nb = count(b)
    cmp_lower = (ma < mb) ? 1 : 0
    if (na > 1 && nb > 1) {
        how = (maxa < minb) ? ", every seed lower" : (mina > maxb) ? ", every seed higher" : ", seeds overlap"
        if (cmp_lower && maxa >= minb) cmp_lower = 2  # lower on average only: within the seeds' spread
    } else how = sprintf(" (%d and %d seed%s: too few to compare the spreads)", na, nb, nb > 1 ? "s" : "")
    return sprintf("%s %s vs %s %s%s", label(a), mean_std(a, what_a), label(b), mean_std(b, what_b), how)
}
function label(key) { return "`" key "`" }

# One claim: a list of (condition, A, B, what_a, what_b) comparisons where A
# below B means the claim holds under that condition.
function claim(title,    n, i, text, holds, fails, missing, yes, no) {
    if (mode != "summary") print "**" title "**\n"
    n = n_cl
    holds = 0; fails = 0; unclear = 0; missing = 0; yes = ""; no = ""; maybe = ""; details = ""
    for (i = 1; i <= n; i++) {
        text = compare(cl_a[i], cl_b[i], cl_wa[i], cl_wb[i])
        if (cmp_lower == 1) { holds++; yes = yes (yes == "" ? "" : "; ") cl_cond[i] }
        else if (cmp_lower == 0) { fails++; no = no (no == "" ? "" : "; ") cl_cond[i] }
        else if (cmp_lower == 2) { unclear++; maybe = maybe (maybe == "" ? "" : "; ") cl_cond[i] }
        else missing++
        if (mode != "summary")
            printf "- %s: %s%s\n", cl_cond[i], text, cmp_lower == 1 ? ": **holds**" : cmp_lower == 0 ? ": **does not hold**" : cmp_lower == 2 ? ": **not shown** (lower on average, within the seeds' spread)" : ""
        else if (cmp_lower >= 0)
            details = details sprintf("  - %s: %s\n", cl_cond[i], text)
    }
    if (mode != "summary") print ""
    if (holds + fails + unclear == 0) verdict = "not finished yet"
    else if (fails + unclear == 0) verdict = "holds in every condition run so far"
    else if (holds + unclear == 0) verdict = "does not hold in any condition run so far"
    else {
        verdict = holds ? "holds only when: " yes : "holds clearly in no condition"
        if (fails) verdict = verdict ". Does not hold when: " no
        if (unclear) verdict = verdict ". Not shown (within the seeds' spread) when: " maybe
    }
    missing_text = missing ? sprintf(" %d comparison%s not finished yet.", missing, missing > 1 ? "s" : "") : ""
    if (mode == "summary") printf "- **%s** Verdict: %s.%s\n%s", title, verdict, missing_text, details
    else printf "Verdict: %s.%s\n\n", verdict, missing_text
    n_cl = 0
}
function add(cond, a, b, wa, wb) {
    n_cl++; cl_cond[n_cl] = cond; cl_a[n_cl] = a; cl_b[n_cl] = b; cl_wa[n_cl] = wa == "" ? "full" : wa; cl_wb[n_cl] = wb == "" ? "full" : wb
}

function verdicts() {
    n_cl = 0
    add("small model, 2,000 steps (part 1)", "1_small/pair_max", "1_small/attn")
    add("pair_min instead of pair_max (part 1)", "1_small/pair_min", "1_small/attn")
    add("attention shrunk to pair_max's parameters: 3 blocks (part 2)", "1_small/pair_max", "2_equal_params/attn_3_layers")
    add("attention shrunk to pair_max's parameters: n_embd 112 (part 2)", "1_small/pair_max", "2_equal_params/attn_n_embd_112")
    add("pair_max grown to attention's parameters: 5 blocks (part 2)", "2_equal_params/pair_max_5_layers", "1_small/attn")
    add("pair_max grown to attention's parameters: n_embd 148 (part 2)", "2_equal_params/pair_max_n_embd_148", "1_small/attn")
    add("10,000 steps (part 3)", "3_budget/pair_max", "3_budget/attn")
    add("equal wall-clock time, 15,000 pair_max steps against 10,000 of attention (part 3)", "3_budget/pair_max_equal_time", "3_budget/attn")
    add("context 256, 2,000 steps (part 4)", "4_context/pair_max_2k", "4_context/attn_2k")
    add("context 256, 10,000 steps (part 4)", "4_context/pair_max_10k", "4_context/attn_10k")
    add("the larger model (part 5)", "5_larger/pair_max", "5_larger/attn")
    claim("Claim 1: the generative function (pairwise max/min with the previous token) gives a lower val loss than attention, with a smaller model.")

    add("small model (part 1)", "1_small/pair_max+avg", "1_small/pair_max")
    add("with pair_min (part 1)", "1_small/pair_min+avg", "1_small/pair_min")
    add("10,000 steps (part 3)", "3_budget/pair_max+avg", "3_budget/pair_max")
    add("context 256, 2,000 steps (part 4)", "4_context/pair_max+avg_2k", "4_context/pair_max_2k")
    add("context 256, 10,000 steps (part 4)", "4_context/pair_max+avg_10k", "4_context/pair_max_10k")
    add("the larger model (part 5)", "5_larger/pair_max+avg", "5_larger/pair_max")
    claim("Claim 2a: a causal average context (the running mean, what the paper's Figure 1 describes) lowers the loss further.")

    add("pair_max, full-sequence loss (part 1)", "1_small/pair_max+gavg", "1_small/pair_max")
    add("pair_min, full-sequence loss (part 1)", "1_small/pair_min+gavg", "1_small/pair_min")
    add("pair_max, token-by-token loss, where the future is not there to see (part 1)", "1_small/pair_max+gavg", "1_small/pair_max", "tbt")
    add("pair_min, token-by-token loss (part 1)", "1_small/pair_min+gavg", "1_small/pair_min", "tbt")
    claim("Claim 2b: the published average context (the mean over the whole sequence, future included) lowers the loss further.")
}

# Mean val curve of a setting over its seeds: sets cv[step] and the ordered step list cv_steps[1..cv_n].
function curve(key,    n, i, parts) {
    delete cv; cv_n = 0
    n = split(c_steps[key], parts, " ")
    for (i = 1; i <= n; i++) {
        if (c_n[key, parts[i]] != count(key)) continue  # only steps every seed has
        cv_n++; cv_steps[cv_n] = parts[i] + 0; cv[parts[i] + 0] = c_sum[key, parts[i]] / c_n[key, parts[i]]
    }
}
# Where attention's mean val curve goes below each named setting's of part p, and stays there.
function crossings(p, list,    names, n, i, j, key, a, attn_val, since, last) {
    n = split(list, names, " ")
    a = p "/attn"
    if (count(a) == 0) { print "Attention's runs have not finished yet."; return }
    curve(a)
    for (j = 1; j <= cv_n; j++) attn_val[cv_steps[j]] = cv[cv_steps[j]]
    for (i = 1; i <= n; i++) {
        key = p "/" names[i]
        if (count(key) == 0) { printf "- `%s`: not finished yet\n", names[i]; continue }
        curve(key)
        since = ""; last = ""
        for (j = 1; j <= cv_n; j++) {
            if (!(cv_steps[j] in attn_val)) continue
            last = cv_steps[j]
            if (attn_val[last] < cv[last]) { if (since == "") since = last }
            else since = ""
        }
        if (last == "") { printf "- `%s`: no evaluation at a step attention has\n", names[i]; continue }
        if (since == "")
            printf "- `%s`: attention stays above it at every evaluation up to step %s (%.3f against %.3f there)\n", names[i], commas(last), attn_val[last], cv[last]
        else
            printf "- `%s`: attention is below it from step %s on (%.3f against %.3f at step %s)\n", names[i], commas(since), attn_val[last], cv[last], commas(last)
    }
}
function overtake(    names, n, i, key) {
    crossings("3_budget", "pair_max pair_max+avg hybrid_attn_first hybrid_attn_last")
    print ""
    print "Equal wall-clock time (training steps times the median ms/step; evaluations left out):"
    print ""
    n = split("attn pair_max_equal_time pair_max+avg_equal_time", names, " ")
    for (i = 1; i <= n; i++) {
        key = "3_budget/" names[i]
        if (count(key) == 0 || s_ms[key] == "") { printf "- `%s`: not finished yet\n", names[i]; continue }
        printf "- `%s`: %s steps x %.1f ms = %.0f minutes, val %s\n", names[i], commas(r_steps[key, 1]), s_ms[key],
            r_steps[key, 1] * s_ms[key] / 60000, mean_std(key, "full")
    }
}
function larger(    i, key, fastest, t, j, reached, at) {
    for (i = 1; i <= n_settings; i++) {
        key = order[i]
        if (s_part[key] != "5_larger") continue
        if (count(key) == 0) { printf "- `%s`: %s steps planned, not finished yet\n", s_name[key], commas(s_steps[key]); continue }
        stat(key, "full")
        printf "- `%s`: %s steps, median %.0f ms/step, so about %.1f hours of training (evaluations not counted); val %s, %+.3f from nanoGPT's 1.47 (batch 64, 5,000 steps on a GPU)\n", s_name[key],
            commas(r_steps[key, 1]), s_ms[key], r_steps[key, 1] * s_ms[key] / 3600000, mean_std(key, "full"), st_mean - 1.47
    }
    print ""
    print "Where attention's val curve (mean of seeds, 200-batch evaluations) goes below the others':"
    print ""
    crossings("5_larger", "pair_max pair_max+avg hybrid_attn_last")
    fastest = ""
    for (i = 1; i <= n_settings; i++) {
        key = order[i]
        if (s_part[key] != "5_larger" || count(key) == 0 || s_ms[key] == "") continue
        t = r_steps[key, 1] * s_ms[key]
        if (fastest == "" || t < fastest) fastest = t
    }
    if (fastest == "") return
    printf "\nEqual wall-clock time: each setting's val at %.1f hours of training, the time the fastest finished setting took for all its steps (steps x median ms/step; the last evaluation at or before the step reached by then, on a schedule that was not yet annealed for the slower ones):\n\n", fastest / 3600000
    for (i = 1; i <= n_settings; i++) {
        key = order[i]
        if (s_part[key] != "5_larger" || count(key) == 0 || s_ms[key] == "") continue
        reached = int(fastest / s_ms[key]); at = ""
        curve(key)
        for (j = 1; j <= cv_n; j++) if (cv_steps[j] <= reached) at = cv_steps[j]
        if (at == "") printf "- `%s`: no evaluation by step %s\n", s_name[key], commas(reached)
        else printf "- `%s`: step %s of %s by then; val %.3f at step %s\n", s_name[key], commas(reached), commas(r_steps[key, 1]), cv[at], commas(at)
    }
}

END {
    if (mode == "table") table(part)
    else if (mode == "overtake") overtake()
    else if (mode == "larger") larger()
    else if (mode == "verdicts" || mode == "summary") verdicts()
}
