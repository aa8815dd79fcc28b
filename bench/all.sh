#!/usr/bin/env bash
# bench/all.sh: every data-plane benchmark of issue 15 in one command, on a
# fresh clone: bench/run.sh (SHA-256 throughput, the bare upstream leg,
# idle memory, fan-out), bench/rxaleo.sh (RandomX and ALEO throughput, max
# load, idle memory), bench/switch.sh (the scheduled switch) and
# bench/cpcurves.sh (the control plane against 1, 10, 100 data planes), one after
# the other (the machine has 2 cores). Then one table: each target of the
# issue, what this run measured, whether it is met, and the same figure of
# an older binary measured in the same run when OLD_REV is set (built by
# bench/old.sh into target/old-REV; 10-15 minutes the first time).
#
# Usage: bench/all.sh            # about 20 minutes
#        OLD_REV=055351b bench/all.sh
# Knobs (environment): OLD_REV BENCH_OUT SKIP_BUILD=1, REPORT_ONLY=1 (only
# the table, from the results already in BENCH_OUT), and those of the
# scripts it runs (LAT_RATES is fixed to "2000 20000": the targets are at
# 20,000 shares/s). Each script's own summary and raw output stay in
# $BENCH_OUT/{run,rxaleo,switch,cpcurves}. Exits 1 if a script failed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-all.XXXXXX)}
mkdir -p "$OUT"
if [[ ${SKIP_BUILD:-0} != 1 && ${REPORT_ONLY:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests --bin loadgen --bin cpsim -p switchyard-dataplane --bin dataplane \
        -p switchyard-controlplane --bin controlplane -p switchyard-ctl --bin ctl
fi
OLD=""
if [[ -n ${OLD_REV:-} && ${REPORT_ONLY:-0} != 1 ]]; then
    OLD=$(bench/old.sh "$OLD_REV")
fi
failed=()
# step NAME SCRIPT [VAR=VALUE...]: one script, its output in NAME.log.
step() {
    local name=$1 script=$2
    shift 2
    echo "== bench/all.sh: $script ($name), output in $OUT/$name.log" >&2
    if ! env SKIP_BUILD=1 BENCH_OUT="$OUT/$name" OLD_DATAPLANE="$OLD" "$@" "$script" >"$OUT/$name.log" 2>&1; then
        failed+=("$name")
        echo "!!! $script failed: see $OUT/$name.log" >&2
    fi
}
if [[ ${REPORT_ONLY:-0} != 1 ]]; then
    step run bench/run.sh ONLY="throughput idle fanout" LAT_RATES="2000 20000"
    step rxaleo bench/rxaleo.sh ALGOS="rx aleo" MODES="rates max idle" RATES="2000"
    step switch bench/switch.sh
    step cpcurves bench/cpcurves.sh
fi

source "$ROOT/bench/lib.sh"
trap - EXIT
R=$OUT/run X=$OUT/rxaleo S=$OUT/switch C=$OUT/cpcurves
# v FILE KEY: a RESULT value, or "-" when the run did not produce it.
v() { if [[ -f $1 ]]; then local x; x=$(get "$2" "$1"); echo "${x:--}"; else echo "-"; fi; }
# judge VALUE OP LIMIT: "yes" or "no" (or "?" without a value).
judge() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
    if (a == "-" || a == "" || a == "n/a") { print "?"; exit }
    ok = (op == "<=") ? (a + 0 <= b + 0) : (a + 0 >= b + 0); print ok ? "yes" : "no" }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.0f", a - b }'; }
TABLE=$OUT/table.txt
line() { printf '| %s | %s | %s | %s | %s |\n' "$@" | tee -a "$TABLE"; }
: >"$TABLE"
echo
line "Target (issue 15)" "Limit" "Measured" "Met" "Old binary, same run"
line "---" "---" "---" "---" "---"

# 1. Relay overhead at 20,000/s: added p50 minus the bare upstream leg.
added=$(sub "$(v "$R/rate-20000-dp.txt" p50_us)" "$(v "$R/rate-20000-direct.txt" p50_us)")
leg=$(v "$R/one-conn.txt" p50_us)
over=$(sub "$added" "$leg")
old_added=$(sub "$(v "$R/rate-20000-old.txt" p50_us)" "$(v "$R/rate-20000-direct.txt" p50_us)")
line "Relay overhead at 20,000/s: added p50 - bare upstream leg (µs)" "<= 40" \
    "$added - $leg = $over" "$(judge "$over" "<=" 40)" "$(sub "$old_added" "$leg")"
fwd=$(sub "$(v "$R/rate-20000-fwd.txt" p50_us)" "$(v "$R/rate-20000-direct.txt" p50_us)")
line "  for scale: a bare 1:1 forwarder's added p50 at 20,000/s (µs)" "-" "$fwd" "-" "-"
p99=$(div "$(v "$R/rate-20000-dp.txt" p99_us)" "$(v "$R/rate-20000-direct.txt" p99_us)")
line "p99 at 20,000/s, via data plane / direct" "<= 2" "$p99" "$(judge "$p99" "<=" 2)" \
    "$(div "$(v "$R/rate-20000-old.txt" p99_us)" "$(v "$R/rate-20000-direct.txt" p99_us)")"
cpu=$(v "$R/rate-20000-dp.txt" cpu_dataplane)
line "Data-plane CPU at 20,000/s (cores; µs a share)" "-" \
    "$cpu; $(awk -v c="$cpu" 'BEGIN { if (c == "-") print "-"; else printf "%.1f", c * 1e6 / 20000 }')" "-" \
    "$(v "$R/rate-20000-old.txt" cpu_dataplane)"

# 2. Memory per idle miner.
line "Idle SHA-256 miner at $(v "$R/idle.txt" n1) (bytes)" "<= 1536" "$(v "$R/idle.txt" per_miner_n1)" \
    "$(judge "$(v "$R/idle.txt" per_miner_n1)" "<=" 1536)" "$(v "$R/idle-old.txt" per_miner_n1)"
line "Idle SHA-256 miner at $(v "$R/idle.txt" total), the open-file limit (bytes)" "<= 1536" \
    "$(v "$R/idle.txt" per_miner_total)" "$(judge "$(v "$R/idle.txt" per_miner_total)" "<=" 1536)" \
    "$(v "$R/idle-old.txt" per_miner_total)"
line "Idle RandomX miner at $(v "$X/rx-idle.txt" miners) (bytes)" "<= 1536" "$(v "$X/rx-idle.txt" per_miner)" \
    "$(judge "$(v "$X/rx-idle.txt" per_miner)" "<=" 1536)" "$(v "$X/rx-idle-old.txt" per_miner)"
line "Idle ALEO miner at $(v "$X/aleo-idle.txt" miners), passthrough (bytes)" "<= 1536" \
    "$(v "$X/aleo-idle.txt" per_miner)" "$(judge "$(v "$X/aleo-idle.txt" per_miner)" "<=" 1536)" \
    "$(v "$X/aleo-idle-old.txt" per_miner)"

# 3. Fan-out and the scheduled switch.
fan=$(div "$(v "$R/fanout-dp.txt" all_ms_median)" "$(v "$R/fanout-direct.txt" all_ms_median)")
line "Fan-out to $(v "$R/fanout-dp.txt" miners) miners, via data plane / the pool's own (ms)" "<= 0.6" \
    "$(v "$R/fanout-dp.txt" all_ms_median) / $(v "$R/fanout-direct.txt" all_ms_median) = $fan" \
    "$(judge "$fan" "<=" 0.6)" "-"
sw=$(v "$S/switch.txt" all_ms)
fo=$(v "$S/fanout.txt" all_ms_median)
line "Switch: every miner has the new job, after the instant (ms)" "<= fan-out + 10" \
    "$sw (fan-out $fo)" "$(judge "$(sub "$sw" "$fo")" "<=" 10)" "-"
bad=$(awk -v a="$(v "$S/switch.txt" refused)" -v b="$(v "$S/switch.txt" unanswered)" \
    'BEGIN { if (a == "-" || b == "-") print "-"; else print a + b }')
line "Switch: shares refused / unanswered" "0" "$(v "$S/switch.txt" refused) / $(v "$S/switch.txt" unanswered)" \
    "$(judge "$bad" "<=" 0)" "-"

# 4. RandomX and ALEO at max load.
for a in rx aleo; do
    limit=0.9
    [[ $a == aleo ]] && limit=0.8
    r=$(div "$(v "$X/$a-max-dp.txt" rate)" "$(v "$X/$a-max-direct.txt" rate)")
    line "$a max load, via data plane / direct" ">= $limit" "$r" "$(judge "$r" ">=" "$limit")" "-"
done

# 5. The control plane against the number of data planes (no limits: curves).
for n in 1 10 100; do
    f=$C/cp-$n.txt
    line "Control plane, $n data planes: plan push p50 / worst (ms); ingest (events/s)" "-" \
        "$(v "$f" push_p50_ms) / $(v "$f" push_max_ms); $(v "$f" ingest_per_s)" "-" "-"
done

echo
echo "bench/all.sh ($(nproc) cores; raw output in $OUT)"
if ((${#failed[@]})); then
    echo "!!! failed: ${failed[*]}"
    exit 1
fi
