#!/usr/bin/env bash
# bench/cpcurves.sh: the control plane's cost curves against the number of
# connected data planes (BENCHMARKS.md, "Control-plane curves"; issue 15
# item 5). For each N in DATAPLANES a fresh `controlplane` (SQLite, no
# embedded data plane) and `cpsim` with N simulated data planes: plan-push
# time (an override flipped ROUNDS times; until every data plane has the new
# version) and ingest (every data plane ships batches of BATCH events back to
# back for DURATION s). Prints a table; raw output in $BENCH_OUT. About
# 2 minutes with the defaults.
#
# Environment: DATAPLANES ("1 10 100") ROUNDS (20) DURATION (10) BATCH (1000)
# BENCH_OUT SKIP_BUILD=1 PLOT=docs/cpcurves.png (a plot of the curves; needs
# matplotlib)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source bench/lib.sh
DATAPLANES=${DATAPLANES:-"1 10 100"}
ROUNDS=${ROUNDS:-20}
DURATION=${DURATION:-10}
BATCH=${BATCH:-1000}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-cpcurves.XXXXXX)}
mkdir -p "$BENCH_OUT"
ulimit -n "$(ulimit -Hn)"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests -p switchyard-controlplane --bin cpsim --bin controlplane
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CPSIM=$TARGET_DIR/release/cpsim
CONTROLPLANE=$TARGET_DIR/release/controlplane

# cpu_s PID: user+system CPU seconds the process has used.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

printf '%-12s %-26s %-20s %-26s %s\n' "data planes" "plan push p50 / worst (ms)" "ingest (events/s)" "batch round trip p50/p99" "cp CPU (cores)" | tee "$BENCH_OUT/summary.txt"
for n in $DATAPLANES; do
    name=cp-$n
    cfg=$BENCH_OUT/$name.yaml out=$BENCH_OUT/$name.out db=$BENCH_OUT/$name.db
    cat >"$cfg" <<Y
controlplane:
  timezone: "UTC"
  max_dataplanes_per_site: 10000
servers:
  sha256:
    - { name: bench, host: "127.0.0.1", port: 9, username: "bench-account", password: "x", start: "00:00", end: "12:00" }
    - { name: bench2, host: "127.0.0.1", port: 9, username: "bench-account", password: "x", start: "12:00", end: "24:00" }
Y
    "$CONTROLPLANE" start --foreground --config "$cfg" --db "$db" --listen 127.0.0.1:0 \
        --no-dataplane --pid-file "$BENCH_OUT/$name.pid" --log-file "$BENCH_OUT/$name.log" >"$out" 2>&1 &
    cp_pid=$!
    PIDS+=("$cp_pid")
    wait_for "$out" '^controlplane listening on ' 30
    endpoint=http://$(awk '/^controlplane listening on /{print $4}' "$out")
    c0=$(cpu_s "$cp_pid") t0=$(date +%s.%N)
    "$CPSIM" --endpoint "$endpoint" --site-token-file "$db.site-default.token" \
        --admin-token-file "$db.admin-token" --dataplanes "$n" --rounds "$ROUNDS" \
        --duration "$DURATION" --batch "$BATCH" | tee "$BENCH_OUT/$name.txt" >&2
    c1=$(cpu_s "$cp_pid") t1=$(date +%s.%N)
    stop "$cp_pid"
    f=$BENCH_OUT/$name.txt
    cores=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f", (b - a) / (e - s) }')
    printf '%-12s %-26s %-20s %-26s %s\n' "$n" "$(get push_p50_ms "$f") / $(get push_max_ms "$f")" \
        "$(get ingest_per_s "$f")" "$(get batch_p50_ms "$f") / $(get batch_p99_ms "$f") ms" "$cores" | tee -a "$BENCH_OUT/summary.txt"
done
csv=$BENCH_OUT/cpcurves.csv
echo "dataplanes,push_p50_ms,push_max_ms,ingest_per_s,batch_p50_ms,batch_p99_ms" >"$csv"
for n in $DATAPLANES; do
    f=$BENCH_OUT/cp-$n.txt
    [[ -f $f ]] || continue
    echo "$n,$(get push_p50_ms "$f"),$(get push_max_ms "$f"),$(get ingest_per_s "$f"),$(get batch_p50_ms "$f"),$(get batch_p99_ms "$f")" >>"$csv"
done
if [[ -n ${PLOT:-} ]]; then
    if python3 -c 'import matplotlib' 2>/dev/null; then
        python3 bench/plot_cpcurves.py "$csv" "$PLOT" && echo "plot: $PLOT"
    else
        echo "matplotlib is missing (pip install matplotlib): no plot"
    fi
fi
echo "raw output in $BENCH_OUT"
