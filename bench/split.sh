#!/usr/bin/env bash
# The weighted split (issue 14) over simulated hours: `splitsim` runs the
# data plane's own splitter (dataplane/src/route/split.rs) on a simulated
# farm, 1,000 miners of mixed speeds unless said otherwise, and writes the
# achieved split minute by minute; this script runs the scenarios, prints
# one summary table, and plots them to docs/split.png (matplotlib, installed
# into target/bench-venv with pip the first time).
#
#   bench/split.sh                 # build, run, plot
#   SKIP_BUILD=1 bench/split.sh    # reuse target/release/splitsim
#   NO_PLOT=1 bench/split.sh       # the table only
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-split.XXXXXX)}
mkdir -p "$OUT"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests --bin splitsim
fi
SIM=${CARGO_TARGET_DIR:-$ROOT/target}/release/splitsim

# name | arguments
SCENARIOS=(
    "mixed-70-30|--weights 70,30 --miners 1000"
    "mixed-98-2|--weights 98,2 --miners 1000"
    "big80-70-30|--weights 70,30 --miners 21 --big 0.8"
    "three-50-30-20|--weights 50,30,20 --miners 1000"
    "down-70-30|--weights 70,30 --miners 1000 --down 1@80-100"
)

printf '%-16s %-12s %8s %14s %14s %16s\n' scenario weights miners "worst (points)" "moves/tick" "moves/miner/h" | tee "$OUT/summary.txt"
for s in "${SCENARIOS[@]}"; do
    name=${s%%|*} args=${s#*|}
    # shellcheck disable=SC2086
    line=$("$SIM" $args --hours 3 --csv "$OUT/$name.csv" | grep '^RESULT')
    get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    printf '%-16s %-12s %8s %14s %14s %16s\n' "$name" "$(get weights)" "$(get miners)" \
        "$(get worst_points_after_first_hour)" "$(get moves_per_tick)" "$(get moves_per_miner_hour)" | tee -a "$OUT/summary.txt"
done
echo "(worst: the largest distance, in percentage points, between a pool's part of the last hour's accepted difficulty and its weight, checked every simulated minute from the end of the first hour)"

if [[ ${NO_PLOT:-0} != 1 ]]; then
    VENV=${CARGO_TARGET_DIR:-$ROOT/target}/bench-venv
    if [[ ! -x $VENV/bin/python ]]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet matplotlib
    fi
    "$VENV/bin/python" "$ROOT/bench/plot_split.py" "$OUT" "$ROOT/docs/split.png"
    echo "plot: docs/split.png"
fi
echo "output in $OUT"
