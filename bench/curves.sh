#!/usr/bin/env bash
# bench/curves.sh: the data plane's cost curves (issue 15, item 5) against
# the number of miners, each point a run of bench/run.sh:
#   - CPU per relayed share and added p50 at a fixed total rate (RATE,
#     10,000 shares/s) with 100, 1,000, 10,000 and CURVE_MAX miners;
#   - RSS per idle miner at 1,000, 5,000, 10,000 and the open-file limit;
#   - fan-out of one job to 1,000, 5,000, 10,000 and CURVE_MAX miners,
#     via the data plane and straight from the pool.
# Writes curves.csv and, with matplotlib (pip install matplotlib), the plot
# docs/curves.png (bench/plot_curves.py). About 15 minutes.
# Knobs (environment): RATE CURVE_MAX (18000) DURATION (10) BENCH_OUT
# SKIP_BUILD=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-curves.XXXXXX)}
mkdir -p "$OUT"
RATE=${RATE:-10000}
CURVE_MAX=${CURVE_MAX:-18000}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests --bin loadgen -p switchyard-dataplane --bin dataplane
fi
source "$ROOT/bench/lib.sh"
trap - EXIT
# run NAME VAR=VALUE...: one bench/run.sh into OUT/NAME.
run() {
    local name=$1
    shift
    echo "== curves: $name ($*)" >&2
    env SKIP_BUILD=1 BENCH_OUT="$OUT/$name" "$@" bench/run.sh >"$OUT/$name.log" 2>&1 ||
        echo "!!! $name failed: see $OUT/$name.log" >&2
}
for n in 100 1000 10000 "$CURVE_MAX"; do
    run "tp-$n" ONLY=throughput EXTRAS=0 LAT_RATES="$RATE" MINERS="$n" PREFILL=200000
done
run idle-small ONLY=idle IDLE_MINERS=1000 IDLE_MAX=5000
run idle-large ONLY=idle IDLE_MINERS=10000
for n in 1000 5000 10000 "$CURVE_MAX"; do
    run "fanout-$n" ONLY=fanout FANOUT_MINERS="$n" ROUNDS=3
done

csv=$OUT/curves.csv
echo "curve,miners,direct,via_dp,dp_cores" >"$csv"
for n in 100 1000 10000 "$CURVE_MAX"; do
    d=$OUT/tp-$n/rate-$RATE-direct.txt p=$OUT/tp-$n/rate-$RATE-dp.txt
    [[ -f $p ]] || continue
    echo "latency_p50_us,$n,$(get p50_us "$d"),$(get p50_us "$p"),$(get cpu_dataplane "$p")" >>"$csv"
done
for f in idle-small idle-large; do
    i=$OUT/$f/idle.txt
    [[ -f $i ]] || continue
    echo "idle_bytes,$(get n1 "$i"),,$(get per_miner_n1 "$i")," >>"$csv"
    echo "idle_bytes,$(get total "$i"),,$(get per_miner_total "$i")," >>"$csv"
done
for n in 1000 5000 10000 "$CURVE_MAX"; do
    d=$OUT/fanout-$n/fanout-direct.txt p=$OUT/fanout-$n/fanout-dp.txt
    [[ -f $p ]] || continue
    echo "fanout_ms,$n,$(get all_ms_median "$d"),$(get all_ms_median "$p")," >>"$csv"
done
cat "$csv"
if python3 -c 'import matplotlib' 2>/dev/null; then
    python3 bench/plot_curves.py "$csv" "$RATE" docs/curves.png && echo "plot: docs/curves.png"
else
    echo "matplotlib is missing (pip install matplotlib): no plot"
fi
