#!/usr/bin/env bash
# The layer order, checked: each folder is one layer, and a file includes only
# its own folder or lower ones. Also: a mixer or activation is looked up in the
# mixer table (nn/mixers.cpp, whose element-wise activations are the rows of
# autograd/unary.cpp that offer themselves as one), never recognised by
# comparing its name as a string.
# Prints every violation as file:line and exits 1 if there is one.
#   bash tests/layer_check.sh            the tree this script is in
#   bash tests/layer_check.sh DIR        another tree (the test of this script uses it)
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# Lowest first. tests/ and examples/ stand above all of them and may include any.
layers=(tensor io autograd nn models data train tools cli)

rank() {
    local i
    for i in "${!layers[@]}"; do
        [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
    done
    echo -1
}

status=0
files=0
for folder in "${layers[@]}"; do
    own=$(rank "$folder")
    while IFS= read -r file; do
        files=$((files + 1))
        # #include "folder/...": the folder must not rank above this file's.
        while IFS=: read -r line target; do
            to=${target%%/*}
            r=$(rank "$to")
            if [ "$r" -gt "$own" ] || [ "$to" = tests ] || [ "$to" = examples ]; then
                echo "$file:$line: includes \"$target\": $folder/ may include only ${layers[*]:0:$((own + 1))}"
                status=1
            fi
        done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]+/' "$file" |
                 sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
    done < <(find "$folder" \( -name '*.h' -o -name '*.cpp' \) 2>/dev/null | sort)
done

# The names of the mixer table's rows: the first field of each row in nn/mixers.cpp, and the
# name of each row of kUnaryOps in autograd/unary.cpp that ends in Activation{...} (a row may
# take several lines: each starts with "row").
names=$(sed -n 's/^[[:space:]]*{"\([a-z_+]*\)", ".*/\1/p' nn/mixers.cpp)
activations=$(awk '/kUnaryOps\[\] = \{/ { inside = 1; next }
    inside && (/^[[:space:]]*row/ || /^};/) { if (row ~ /Activation\{/) print row; row = "" }
    inside && /^};/ { exit }
    inside { row = row $0 }' autograd/unary.cpp 2>/dev/null | sed -n 's/^[^(]*("\([a-z_0-9]*\)".*/\1/p')
names=$(printf '%s\n%s\n' "$names" "$activations" | sed '/^$/d')
if [ -z "$names" ]; then
    echo "nn/mixers.cpp: no rows found; this check reads the table's rows as {\"name\", \"help\", ...}"
    exit 1
fi
alternation=$(echo "$names" | sed 's/+/\\+/g' | paste -sd'|')
# In the layers' code: name == "x", "x" != name, .find("x,") or .find("x").
compare="[!=]=[[:space:]]*\"($alternation)\"|\"($alternation)\"[[:space:]]*[!=]=|find\\(\"($alternation)[,\"]"
# Anywhere, tests included: a literal that is a list of the table's names ("gelu, silu, relu"),
# which goes stale when a row is added.
list="\"($alternation)(, ($alternation))+\""
report() {
    while IFS= read -r hit; do
        echo "$hit: $1"
        status=1
    done
}
report "a mixer or activation name compared as a string; ask its row in nn/mixers.cpp (find_mixer_kind) instead" < <(
    find "${layers[@]}" \( -name '*.h' -o -name '*.cpp' \) ! -path nn/mixers.cpp 2>/dev/null | sort |
    xargs grep -nE "$compare" 2>/dev/null | cut -d: -f1,2)
report "the mixer table's names written out as a list; take them from mixer_kind_names() instead" < <(
    find "${layers[@]}" tests \( -name '*.h' -o -name '*.cpp' \) ! -path nn/mixers.cpp 2>/dev/null | sort |
    xargs grep -nE "$list" 2>/dev/null | cut -d: -f1,2)

if [ $status -eq 0 ]; then
    echo "layer check: $files files in ${layers[*]} (lowest first) include only their own layer or lower ones;" \
         "no mixer or activation name is compared outside nn/mixers.cpp"
fi
exit $status
