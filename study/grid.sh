#!/usr/bin/env bash
# Expands a study grid (study/grid.conf) into its runs, one per line, in the
# order they start:  part <TAB> name <TAB> seed <TAB> steps <TAB> overrides
#
#   study/grid.sh [GRID]              (default study/grid.conf)
#   study/grid.sh --settings [GRID]   the settings instead, in file order:
#                                     part <TAB> name <TAB> seeds <TAB> steps <TAB> overrides
#
# A `defaults = key=value ...` line gives overrides for the settings after it.
# The `order = ...` line lists parts, each optionally restricted to one seed
# (`1_small:1337`); within an entry, runs go seed by seed (every setting's
# first seed, then every setting's second), settings in file order. Runs no
# entry names come last. A malformed line is an error naming file and line.
set -euo pipefail
settings=0
if [ "${1:-}" = --settings ]; then settings=1; shift; fi
grid=${1:-study/grid.conf}
[ -f "$grid" ] || { echo "study/grid.sh: no grid file at '$grid'" >&2; exit 1; }
awk -v file="$grid" -v settings="$settings" '
function die(msg) { printf "study/grid.sh: %s:%d: %s\n", file, FNR, msg > "/dev/stderr"; failed = 1; exit 1 }
{ sub(/#.*/, "") }
NF == 0 { next }
$1 == "defaults" {
    if ($2 != "=") die("expected \"defaults = key=value ...\"")
    for (i = 3; i <= NF; i++) defaults = defaults (defaults == "" ? "" : " ") $i
    next
}
$1 == "order" {
    if ($2 != "=") die("expected \"order = PART[:SEED] ...\"")
    for (i = 3; i <= NF; i++) order[++n_order] = $i
    next
}
{
    if (NF < 4) die("expected \"part name seeds steps [key=value...]\", got " NF " fields")
    if ($3 !~ /^[0-9]+(,[0-9]+)*$/) die("seeds must be a comma list of numbers, got \"" $3 "\"")
    if ($4 !~ /^[1-9][0-9]*$/) die("steps must be a positive number, got \"" $4 "\"")
    if (($1 "/" $2) in seen) die("setting \"" $1 "/" $2 "\" appears twice")
    seen[$1 "/" $2] = 1
    for (i = 5; i <= NF; i++) if ($i !~ /^[a-z_.]+=[^=]+$/) die("override \"" $i "\" is not key=value")
    n++
    part[n] = $1; name[n] = $2; steps[n] = $4
    # The defaults, then the setting'\''s own overrides, each key once: the last value wins.
    line = defaults
    for (i = 5; i <= NF; i++) line = line (line == "" ? "" : " ") $i
    n_items = split(line, items, " ")
    over[n] = ""
    for (i = 1; i <= n_items; i++) {
        key = items[i]; sub(/=.*/, "", key)
        later = 0
        for (j = i + 1; j <= n_items; j++) if (index(items[j], key "=") == 1) later = 1
        if (!later) over[n] = over[n] (over[n] == "" ? "" : " ") items[i]
    }
    seeds[n] = $3
    n_seeds[n] = split($3, s, ",")
    for (k = 1; k <= n_seeds[n]; k++) seed[n, k] = s[k]
    if (n_seeds[n] > max_seeds) max_seeds = n_seeds[n]
}
function emit(i, k) {
    if ((i, k) in done) return
    done[i, k] = 1
    printf "%s\t%s\t%s\t%s\t%s\n", part[i], name[i], seed[i, k], steps[i], over[i]
}
END {
    if (failed) exit 1
    if (settings) {
        for (i = 1; i <= n; i++) printf "%s\t%s\t%s\t%s\t%s\n", part[i], name[i], seeds[i], steps[i], over[i]
        exit 0
    }
    for (o = 1; o <= n_order; o++) {
        p = order[o]; only = ""
        if (index(p, ":")) { only = substr(p, index(p, ":") + 1); p = substr(p, 1, index(p, ":") - 1) }
        known = 0
        for (i = 1; i <= n; i++) if (part[i] == p) known = 1
        if (!known) { printf "study/grid.sh: %s: order names part \"%s\", which has no settings\n", file, p > "/dev/stderr"; exit 1 }
        for (k = 1; k <= max_seeds; k++)
            for (i = 1; i <= n; i++)
                if (part[i] == p && k <= n_seeds[i] && (only == "" || seed[i, k] == only)) emit(i, k)
    }
    for (k = 1; k <= max_seeds; k++)
        for (i = 1; i <= n; i++)
            if (k <= n_seeds[i]) emit(i, k)
}' "$grid"
