#!/usr/bin/env bash
# bench/switch.sh: a scheduled switch through the real single-machine binary
# (BENCHMARKS.md, "Scheduled switch"), on loopback only.
#
# Builds in release, starts two scripted pools (`loadgen pool`), writes a
# seed-format config with pool-a 00:00-SWITCH_AT and pool-b SWITCH_AT-24:00 UTC,
# and runs `controlplane start --foreground` (control plane + embedded data
# plane) with SWITCHYARD_CLOCK_OFFSET_MS set so that SWITCH_AT (12:00) on its
# clock comes LEAD seconds after the start. `loadgen switch` (same clock
# offset) connects MINERS miners, keeps them submitting through the instant
# and reports when each had pool-b's job and what became of every share.
# Then the pools' own counters and the control plane's stored history
# (`ctl stats`) are checked against what the miners were told. Unless
# FANOUT_MS is given, the fan-out baseline (one job to MINERS miners through
# the standalone `dataplane`) is measured first, like bench/run.sh does.
#
# Ten seconds after the instant, `loadgen switch` also times a plain fan-out
# (`job dirty` to pool-b) through the same data plane to the same miners.
#
# Usage: bench/switch.sh [--miners N]
# Knobs (environment): MINERS (10000) RATE (2000 shares/s in all) LEAD
# (seconds to the instant; default 15 + MINERS/1000) BEFORE AFTER (10/15 s of
# submitting around it) LATE (1 old-job share per miner after the new job)
# GRACE (30) SWITCH_LEAD (10) SWITCH_AT (12:00, UTC) CPU_WINDOW (400 ms) PER_IP (100)
# FANOUT_MS FANOUT_ROUNDS (3) SKIP_BUILD=1. One run takes about 1.5 minutes.
# BENCH_OUT. PERF=1 records `perf record -a` from 1 s before the instant for 2 s.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

while [[ $# -gt 0 ]]; do
    case $1 in
        --miners) MINERS=$2; shift 2 ;;
        --miners=*) MINERS=${1#*=}; shift ;;
        *) echo "usage: $0 [--miners N]" >&2; exit 2 ;;
    esac
done
MINERS=${MINERS:-10000}
RATE=${RATE:-2000}
LEAD=${LEAD:-$((15 + MINERS / 1000))}
BEFORE=${BEFORE:-10}
AFTER=${AFTER:-15}
LATE=${LATE:-1}
GRACE=${GRACE:-30}
SWITCH_LEAD=${SWITCH_LEAD:-10}
SWITCH_AT=${SWITCH_AT:-12:00}
# Miners per loopback source address: single-machine mode keeps the data
# plane's per-IP defaults (256 connections, 120 a minute; the seed format
# has no setting for them), so the miners come from 127.1.x.y.
PER_IP=${PER_IP:-100}
FANOUT_ROUNDS=${FANOUT_ROUNDS:-3}
DIFFICULTY=1e-10 # every nonce is a valid share (BENCHMARKS.md)
BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-switch.XXXXXX)}
mkdir -p "$BENCH_OUT"

source "$ROOT/bench/lib.sh"

ulimit -n "$(ulimit -Hn)"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests -p switchyard-controlplane -p switchyard-ctl \
        -p switchyard-dataplane
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
LOADGEN=$BIN/loadgen

log() { echo "== $*" >&2; }




# stat KEY LINE: a value from a pool's `stats accepted=.. rejected=..` answer.
stat() { echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# The fan-out baseline: one job to MINERS miners through the standalone data plane.
if [[ -z ${FANOUT_MS:-} ]]; then
    start_pool fanout-pool
    port=$("$LOADGEN" free-port)
    cat >"$BENCH_OUT/fanout-dataplane.yaml" <<EOF
listeners: { sha256: { bind: "127.0.0.1:$port", max_connections: 1000000 } }
limits: { allow: ["127.0.0.0/8"] }
logging: { level: warn }
pools: [ { name: bench, url: "stratum+tcp://$POOL_ADDR", username: bench-account, password: x } ]
EOF
    "$BIN/dataplane" start --foreground --config "$BENCH_OUT/fanout-dataplane.yaml" \
        >"$BENCH_OUT/fanout-dataplane.log" 2>&1 &
    DP_PID=$!
    PIDS+=("$DP_PID")
    for ((i = 0; i < 100; i++)); do
        if ss -Hltn "sport = :$port" | grep -q .; then break; fi
        sleep 0.1
    done
    log "fan-out baseline: $MINERS miners, $FANOUT_ROUNDS rounds"
    "$LOADGEN" fanout --target "127.0.0.1:$port" --control "$CTRL_ADDR" --miners "$MINERS" \
        --rounds "$FANOUT_ROUNDS" | tee "$BENCH_OUT/fanout.txt" >&2
    FANOUT_MS=$(get all_ms_median "$BENCH_OUT/fanout.txt")
    stop "$DP_PID"
    stop "$POOL_PID"
fi

start_pool pool-a
A_PID=$POOL_PID A_ADDR=$POOL_ADDR A_CTRL=$CTRL_ADDR
start_pool pool-b
B_PID=$POOL_PID B_ADDR=$POOL_ADDR B_CTRL=$CTRL_ADDR

CP_PORT=$("$LOADGEN" free-port)
CFG=$BENCH_OUT/config.yaml
cat >"$CFG" <<EOF
controlplane:
  listen: "127.0.0.1:$CP_PORT"
  database: "switchyard.db"
  grace_period: $GRACE
  switch_lead: $SWITCH_LEAD
  timezone: "UTC"
  site_name: "default"
proxy:
  global:
    max_connections: 1000000
  sha256:
    enabled: true
    bind_host: "127.0.0.1"
    bind_port: 0
servers:
  sha256:
    - { name: "pool-a", host: "127.0.0.1", port: ${A_ADDR##*:}, username: "bench.a", password: "x", start: "00:00", end: "$SWITCH_AT" }
    - { name: "pool-b", host: "127.0.0.1", port: ${B_ADDR##*:}, username: "bench.b", password: "x", start: "$SWITCH_AT", end: "24:00" }
logging:
  level: "INFO"
EOF
"$BIN/controlplane" validate "$CFG" >&2

# The instant: the last SWITCH_AT UTC before now, so the shifted clock runs
# behind (the share events' times stay in the past for `ctl stats`).
NOW_MS=$(date +%s%3N)
DAY_MS=86400000
AT_MS=$(((NOW_MS / DAY_MS) * DAY_MS + (10#${SWITCH_AT%:*} * 60 + 10#${SWITCH_AT#*:}) * 60000))
if ((AT_MS > NOW_MS)); then AT_MS=$((AT_MS - DAY_MS)); fi
export SWITCHYARD_CLOCK_OFFSET_MS=$((AT_MS - NOW_MS - LEAD * 1000))
AT_REAL_MS=$((AT_MS - SWITCHYARD_CLOCK_OFFSET_MS)) # the instant on the real clock
log "clock offset $SWITCHYARD_CLOCK_OFFSET_MS ms: $SWITCH_AT:00 UTC comes in $LEAD s"

CP_OUT=$BENCH_OUT/controlplane.out
TZ=UTC "$BIN/controlplane" start --foreground --config "$CFG" --pid-file "$BENCH_OUT/cp.pid" \
    --log-file "$BENCH_OUT/controlplane.log" >"$CP_OUT" 2>&1 &
CP_PID=$!
PIDS+=("$CP_PID")
wait_for "$CP_OUT" '^dataplane listening for sha256 miners on ' 60
DP_ADDR=$(awk '/^dataplane listening for sha256 miners on /{print $NF}' "$CP_OUT")
log "control plane pid $CP_PID on 127.0.0.1:$CP_PORT, miners to $DP_ADDR"

# sleep_until MS: until the real clock reads MS (unix ms).
sleep_until() { sleep "$(awk -v d=$(($1 - $(date +%s%3N))) 'BEGIN { print (d > 0 ? d / 1000 : 0) }')"; }
# snap PID...: busy jiffies of the whole machine, then utime+stime of each PID.
snap() {
    local p out
    out=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
    for p in "$@"; do out+=" $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)"; done
    echo "$out"
}
if [[ ${PERF:-0} == 1 ]]; then
    # System-wide (other processes' share of the 2 cores shows too), on the
    # real clock (perf script times compare with AT_REAL_MS).
    (sleep_until $((AT_REAL_MS - 1000)) && perf record -a -k CLOCK_REALTIME -F 2999 -g \
        -o "$BENCH_OUT/perf.data" -- sleep 2 >"$BENCH_OUT/perf.log" 2>&1) &
    PIDS+=("$!")
fi

log "switch: $MINERS miners at $RATE shares/s"
"$LOADGEN" switch --target "$DP_ADDR" --miners "$MINERS" --at "$AT_MS" --old-control "$A_CTRL" \
    --new-control "$B_CTRL" --rate "$RATE" --before "$BEFORE" --after "$AFTER" \
    --late-old-shares "$LATE" --grace "$GRACE" --per-source-ip "$PER_IP" >"$BENCH_OUT/switch.txt" 2>&1 &
LG_PID=$!
PIDS+=("$LG_PID")
# CPU use from 100 ms before the instant to CPU_WINDOW ms after it: ours and
# everyone else's (the snapshots fork, so none falls inside the switch).
CPU_WINDOW=${CPU_WINDOW:-400}
sleep_until $((AT_REAL_MS - 100))
S0=$(snap "$CP_PID" "$LG_PID" "$A_PID" "$B_PID")
sleep_until $((AT_REAL_MS + CPU_WINDOW))
S1=$(snap "$CP_PID" "$LG_PID" "$A_PID" "$B_PID")
# The same around the comparison fan-out, 10 s after the instant.
sleep_until $((AT_REAL_MS + 10000 - 100))
F0=$(snap "$CP_PID" "$LG_PID" "$A_PID" "$B_PID")
sleep_until $((AT_REAL_MS + 10000 + CPU_WINDOW))
F1=$(snap "$CP_PID" "$LG_PID" "$A_PID" "$B_PID")
wait "$LG_PID" || { cat "$BENCH_OUT/switch.txt" >&2; exit 1; }
cat "$BENCH_OUT/switch.txt" >&2
R=$BENCH_OUT/switch.txt
HZ=$(getconf CLK_TCK)
cores() { awk -v j=$(($1)) -v hz="$HZ" -v w=$((CPU_WINDOW + 100)) 'BEGIN { printf "%.2f", (j > 0 ? j : 0) / hz / (w / 1000) }'; }
# cpu_line "SNAP0" "SNAP1": cores used per process group between the two.
cpu_line() {
    local C0 C1
    read -r -a C0 <<<"$1"
    read -r -a C1 <<<"$2"
    echo "control plane $(cores "C1[1] - C0[1]"), loadgen $(cores "C1[2] - C0[2]"), pools $(cores "C1[3] - C0[3] + C1[4] - C0[4]"), all others $(cores "(C1[0] - C0[0]) - (C1[1] - C0[1]) - (C1[2] - C0[2]) - (C1[3] - C0[3]) - (C1[4] - C0[4])")"
}
CPU_LINE=$(cpu_line "$S0" "$S1")
CPU_FANOUT=$(cpu_line "$F0" "$F1")

# The pools' counters, and the control plane's history once every event is in.
A_STATS=$("$LOADGEN" ctl --control "$A_CTRL" stats)
B_STATS=$("$LOADGEN" ctl --control "$B_CTRL" stats)
CTL=("$BIN/ctl" --endpoint "http://127.0.0.1:$CP_PORT" --token-file "$BENCH_OUT/switchyard.db.admin-token" -o json)
answered=$(($(get before_accepted "$R") + $(get before_refused "$R") + $(get oldafter_accepted "$R") \
    + $(get oldafter_refused "$R") + $(get late_accepted "$R") + $(get late_refused "$R") \
    + $(get new_accepted "$R") + $(get new_refused "$R")))
for ((i = 0; i < 300; i++)); do
    "${CTL[@]}" stats --since 2d >"$BENCH_OUT/ctl-stats.json"
    stored=$(jq '[.[] | .accepted + .rejected] | add // 0' "$BENCH_OUT/ctl-stats.json")
    if ((stored >= answered)); then break; fi
    sleep 0.1
done
# The spool gauge comes with the data plane's reports: wait until it reads 0.
for ((i = 0; i < 100; i++)); do
    "${CTL[@]}" dataplane list >"$BENCH_OUT/ctl-dataplanes.json"
    if [[ $(jq '[.[] | .spool_events] | add // 0' "$BENCH_OUT/ctl-dataplanes.json") == 0 ]]; then break; fi
    sleep 0.2
done
cp_of() { jq -r --arg p "$1" --arg k "$2" '[.[] | select(.pool == $p) | .[$k]] | add // 0' "$BENCH_OUT/ctl-stats.json"; }
stop "$CP_PID"
grep -E 'connecting ahead|scheduled switch|route changed|routing plan applied|hashrate switched|statistics report' "$BENCH_OUT/controlplane.log" \
    >"$BENCH_OUT/switch-log.txt" || true

old_told=$(get old_pool_accepted "$R")
new_told=$(get new_pool_accepted "$R")
late_old=$(($(get oldafter_accepted "$R") + $(get late_accepted "$R")))
target=$(awk -v f="$FANOUT_MS" 'BEGIN { printf "%.1f", f + 20 }')
verdict() { if [[ $1 == "$2" ]]; then echo "agree"; else echo "DIFFER"; fi; }
{
    echo
    echo "Scheduled switch at $SWITCH_AT UTC, $MINERS miners, $RATE shares/s ($(nproc) cores; raw output in $BENCH_OUT)"
    printf '%-52s %s\n' "load average at the start / the end" "$LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-52s %s\n' "new pool's job, from the instant (ms)" \
        "first $(get first_ms "$R"), p50 $(get p50_ms "$R"), p99 $(get p99_ms "$R"), max $(get max_ms "$R"), all $(get all_ms "$R")"
    printf '%-52s %s\n' "CPU from -100 to +${CPU_WINDOW} ms (cores)" "$CPU_LINE"
    printf '%-52s %s\n' "miners with the new job" "$(get got_new "$R") of $(get miners "$R") (early: $(get early "$R"))"
    printf '%-52s %s\n' "target: fan-out + 20 ms" "$FANOUT_MS + 20 = $target ms (standalone data plane, median of $FANOUT_ROUNDS)"
    printf '%-52s %s\n' "fan-out of a new pool-b job, same set-up, 10 s later" \
        "p50 $(get fanout_p50_ms "$R"), all $(get fanout_all_ms "$R") ms ($(get fanout_got "$R") miners)"
    printf '%-52s %s\n' "  CPU from -100 to +${CPU_WINDOW} ms (cores)" "$CPU_FANOUT"
    printf '%-52s %s\n' "shares sent before / after the instant" \
        "$(get before_sent "$R") / $(($(get oldafter_sent "$R") + $(get late_sent "$R") + $(get new_sent "$R")))"
    printf '%-52s %s\n' "  old-pool jobs after the instant (late: accepted)" \
        "$(($(get oldafter_sent "$R") + $(get late_sent "$R"))) (late $(get late_sent "$R"): $(get late_accepted "$R"))"
    printf '%-52s %s\n' "refused / unanswered (target 0)" "$(get refused "$R") / $(get unanswered "$R")"
    printf '%-52s %s\n' "pool-a: miners told accepted / pool / control plane" \
        "$old_told / $(stat accepted "$A_STATS") / $(cp_of pool-a accepted) ($(verdict "$old_told" "$(stat accepted "$A_STATS")"), $(verdict "$old_told" "$(cp_of pool-a accepted)"))"
    printf '%-52s %s\n' "  of which after the instant (grace)" "$late_old"
    printf '%-52s %s\n' "pool-b: miners told accepted / pool / control plane" \
        "$new_told / $(stat accepted "$B_STATS") / $(cp_of pool-b accepted) ($(verdict "$new_told" "$(stat accepted "$B_STATS")"), $(verdict "$new_told" "$(cp_of pool-b accepted)"))"
    printf '%-52s %s\n' "rejected: pool-a / pool-b / control plane" \
        "$(stat rejected "$A_STATS") / $(stat rejected "$B_STATS") / $(jq '[.[] | .rejected] | add // 0' "$BENCH_OUT/ctl-stats.json")"
    printf '%-52s %s\n' "data plane: spooled / lost events" \
        "$(jq -r '[.[] | .spool_events] | add // 0' "$BENCH_OUT/ctl-dataplanes.json") / $(jq -r '[.[] | .events_dropped] | add // 0' "$BENCH_OUT/ctl-dataplanes.json")"
    echo "control-plane log around the switch:"
    sed 's/^/  /' "$BENCH_OUT/switch-log.txt"
} | tee "$BENCH_OUT/summary.txt"
