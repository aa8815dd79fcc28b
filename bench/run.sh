#!/usr/bin/env bash
# bench/run.sh: the data plane's benchmarks (BENCHMARKS.md), on loopback only.
#
# Builds in release, then runs one measurement at a time (the machine has
# 2 cores): share throughput and latency straight to a scripted pool vs
# through the real `dataplane` binary (fixed rates and max), data-plane RSS
# per idle miner (IDLE_MINERS, then up to the open-file limit), and job
# fan-out time direct vs through the data plane. Every measurement gets a
# fresh pool (its share tables grow) and a fresh data plane. The ledger
# measurement compares, at LEDGER_RATE, a standalone data plane (no share
# events) with one linked to a real control plane (every share's event
# written to the spool before the miner's answer, shipped and stored in
# SQLite). Prints a summary table; raw outputs stay in $BENCH_OUT. Takes
# about 5 minutes.
#
# Knobs (environment): LAT_RATES MINERS DURATION WARMUP PREFILL MAX_MINERS MAX_WINDOW
# IDLE_MINERS IDLE_MAX FANOUT_MINERS ROUNDS LEDGER_RATE BENCH_OUT SKIP_BUILD=1
# EXTRAS=0 (throughput: only the fixed rates, without the one-connection
# upstream leg and the max-load pair) FORWARD=0 (without the bare 1:1
# forwarder, `loadgen forward`, measured at each fixed rate: one more hop
# with no parsing and no aggregation) DATAPLANE=PATH (another binary as ours)
# ONLY="throughput ledger idle fanout" (a subset). OLD_DATAPLANE=PATH: another
# `dataplane` binary (an older build, see bench/old.sh) measured under the
# same load right after ours in every throughput run, for a side-by-side.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

LAT_RATES=${LAT_RATES:-"2000 10000 20000"}
MINERS=${MINERS:-1000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
MAX_MINERS=${MAX_MINERS:-100}
MAX_WINDOW=${MAX_WINDOW:-16}
IDLE_MINERS=${IDLE_MINERS:-10000}
FANOUT_MINERS=${FANOUT_MINERS:-10000}
ROUNDS=${ROUNDS:-5}
# Shares sent before a fixed-rate run so the scripted pool's share tables do
# not resize (a stall of several ms) inside the measured period.
PREFILL=${PREFILL:-500000}
DIFFICULTY=1e-10 # <= 2.33e-10: every nonce is a valid share (see BENCHMARKS.md)
LEDGER_RATE=${LEDGER_RATE:-20000}
ONLY=${ONLY:-"throughput ledger idle fanout"}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-bench.XXXXXX)}
mkdir -p "$BENCH_OUT"

source "$ROOT/bench/lib.sh"

# As many open files as the hard limit allows (inherited by every process).
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
IDLE_MAX=${IDLE_MAX:-$((NOFILE - 100))}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests -p switchyard-dataplane -p switchyard-controlplane \
        --bin loadgen --bin dataplane --bin controlplane
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LOADGEN=$TARGET_DIR/release/loadgen
DATAPLANE=${DATAPLANE:-$TARGET_DIR/release/dataplane}
CONTROLPLANE=$TARGET_DIR/release/controlplane

log() { echo "== $*" >&2; }



# start_dp NAME POOL_ADDR: the real binary with a generated config; sets DP_PID DP_ADDR.
start_dp() {
    local name=$1 pool=$2 port cfg=$BENCH_OUT/$1.dataplane.yaml out=$BENCH_OUT/$1.dataplane.log
    port=$("$LOADGEN" free-port)
    cat >"$cfg" <<EOF
listeners:
  sha256:
    bind: "127.0.0.1:$port"
    max_connections: 1000000
limits:
  allow: ["127.0.0.0/8"]
logging:
  level: warn
pools:
  - name: bench
    url: "stratum+tcp://$pool"
    username: "bench-account"
    password: "x"
EOF
    "$DATAPLANE" start --foreground --config "$cfg" >"$out" 2>&1 &
    DP_PID=$!
    PIDS+=("$DP_PID")
    DP_ADDR=127.0.0.1:$port
    local i
    for ((i = 0; i < 100; i++)); do
        if ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
        sleep 0.1
    done
    echo "data plane did not listen on $DP_ADDR:" >&2
    cat "$out" >&2
    return 1
}

# start_cp NAME POOL_ADDR: the real control plane (SQLite, no embedded data
# plane) with the pool scheduled all day; sets CP_PID CP_ENDPOINT CP_DB.
start_cp() {
    local name=$1 pool=$2 cfg=$BENCH_OUT/$1.cp.yaml out=$BENCH_OUT/$1.cp.out
    CP_DB=$BENCH_OUT/$name.db
    cat >"$cfg" <<EOF
controlplane:
  timezone: "UTC"
servers:
  sha256:
    - { name: bench, host: "${pool%:*}", port: ${pool##*:}, username: "bench-account", password: "x", start: "00:00", end: "24:00" }
EOF
    "$CONTROLPLANE" start --foreground --config "$cfg" --db "$CP_DB" --listen 127.0.0.1:0 \
        --no-dataplane --pid-file "$BENCH_OUT/$name.cp.pid" --log-file "$BENCH_OUT/$name.cp.log" >"$out" 2>&1 &
    CP_PID=$!
    PIDS+=("$CP_PID")
    wait_for "$out" '^controlplane listening on ' 30
    CP_ENDPOINT=http://$(awk '/^controlplane listening on /{print $4}' "$out")
}

# start_linked_dp NAME: a data plane linked to the control plane (pools from
# its plan, share events spooled and shipped); sets DP_PID DP_ADDR.
start_linked_dp() {
    local name=$1 port cfg=$BENCH_OUT/$1.dataplane.yaml out=$BENCH_OUT/$1.dataplane.log
    port=$("$LOADGEN" free-port)
    DP_HTTP_PORT=$("$LOADGEN" free-port)
    cat >"$cfg" <<EOF
controlplane:
  endpoint: "$CP_ENDPOINT"
  token_file: "$CP_DB.site-default.token"
  state_dir: "$BENCH_OUT/$name.dp-state"
listeners:
  sha256:
    bind: "127.0.0.1:$port"
    max_connections: 1000000
limits:
  allow: ["127.0.0.0/8"]
http:
  listen: "127.0.0.1:$DP_HTTP_PORT"
logging:
  level: info
EOF
    "$DATAPLANE" start --foreground --config "$cfg" >"$out" 2>&1 &
    DP_PID=$!
    PIDS+=("$DP_PID")
    DP_ADDR=127.0.0.1:$port
    wait_for "$out" 'site settings from the routing plan applied' 30
    sleep 1 # the upstream connects to the pool
}



SUMMARY=$BENCH_OUT/summary.txt
: >"$SUMMARY"
row() { printf '%-44s %-22s %-22s %s\n' "$@" | tee -a "$SUMMARY" >/dev/null; }

# shares NAME TARGET ARGS...: one loadgen shares run into NAME.txt.
shares() {
    local name=$1 target=$2
    shift 2
    log "shares $name -> $target $*"
    "$LOADGEN" shares --target "$target" --warmup "$WARMUP" --duration "$DURATION" "$@" \
        | tee "$BENCH_OUT/$name.txt" >&2
}

# throughput_pair TAG ARGS...: direct then through the data plane, same load.
throughput_pair() {
    local tag=$1
    shift
    start_pool "$tag-direct"
    shares "$tag-direct" "$POOL_ADDR" --cpu "pool=$POOL_PID" "$@"
    echo "pool after run: $("$LOADGEN" ctl --control "$CTRL_ADDR" stats)" >>"$BENCH_OUT/$tag-direct.txt"
    stop "$POOL_PID"
    start_pool "$tag-dp"
    start_dp "$tag" "$POOL_ADDR"
    shares "$tag-dp" "$DP_ADDR" --cpu "pool=$POOL_PID" --cpu "dataplane=$DP_PID" "$@"
    echo "pool after run: $("$LOADGEN" ctl --control "$CTRL_ADDR" stats)" >>"$BENCH_OUT/$tag-dp.txt"
    stop "$DP_PID"
    stop "$POOL_PID"
    if [[ -n ${OLD_DATAPLANE:-} ]]; then
        start_pool "$tag-old"
        DATAPLANE=$OLD_DATAPLANE start_dp "$tag-old" "$POOL_ADDR"
        shares "$tag-old" "$DP_ADDR" --cpu "pool=$POOL_PID" --cpu "dataplane=$DP_PID" "$@"
        stop "$DP_PID"
        stop "$POOL_PID"
    fi
    if [[ ${FORWARD:-1} == 1 ]]; then
        # A yardstick: a bare 1:1 forwarder (loadgen forward) under the same
        # load: one more hop through a process with no parsing, but also no
        # aggregation (a pool connection per miner, so no batched writes).
        start_pool "$tag-fwd"
        local out=$BENCH_OUT/$tag-fwd.forward.log
        "$LOADGEN" forward --target "$POOL_ADDR" >"$out" 2>&1 &
        local fwd=$!
        PIDS+=("$fwd")
        wait_for "$out" '^forward ' 10
        shares "$tag-fwd" "$(awk '/^forward /{print $2}' "$out")" --cpu "pool=$POOL_PID" --cpu "dataplane=$fwd" "$@"
        stop "$fwd"
        stop "$POOL_PID"
    fi
}

# fwd_row NAME DIRECT DP: the bare forwarder's line, and the data plane's
# p50 minus the forwarder's (negative: the data plane is faster).
fwd_row() {
    [[ ${FORWARD:-1} == 1 ]] || return 0
    local f=$BENCH_OUT/$1-fwd.txt
    row "    bare 1:1 forwarder (no parsing)" "" "$(lat "$f")" \
        "$(($(get p50_us "$f") - $(get p50_us "$2"))) us; $(ratio "$(get p99_us "$f")" "$(get p99_us "$2")"); fwd $(get cpu_dataplane "$f")"
    row "    data plane minus forwarder (p50)" "" "" "$(($(get p50_us "$3") - $(get p50_us "$f"))) us"
}

# old_row NAME DIRECT: the older binary's line under one of ours.
old_row() {
    [[ -n ${OLD_DATAPLANE:-} ]] || return 0
    local o=$BENCH_OUT/$1-old.txt
    row "    older binary" "" "$(lat "$o")" \
        "$(($(get p50_us "$o") - $(get p50_us "$2"))) us; $(ratio "$(get p99_us "$o")" "$(get p99_us "$2")"); dp $(get cpu_dataplane "$o")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
lat() { echo "$(get p50_us "$1") / $(get p90_us "$1") / $(get p99_us "$1")"; }

if [[ " $ONLY " == *" throughput "* ]]; then
    for r in $LAT_RATES; do
        throughput_pair "rate-$r" --miners "$MINERS" --rate "$r" --prefill "$PREFILL"
    done
    top=${LAT_RATES##* }
    if [[ ${EXTRAS:-1} == 1 ]]; then
        # The data plane's upstream leg on its own: one connection carries the
        # whole load to the pool (what a relayed share crosses a second time).
        start_pool one-conn
        shares one-conn "$POOL_ADDR" --cpu "pool=$POOL_PID" --miners 1 --rate "$top" --prefill "$PREFILL"
        stop "$POOL_PID"
        throughput_pair max --miners "$MAX_MINERS" --rate 0 --window "$MAX_WINDOW"
    fi
    row "latency, $MINERS miners (us p50/p90/p99)" "direct" "via data plane" "added p50 (<100); p99 ratio (<=2)"
    for r in $LAT_RATES; do
        d=$BENCH_OUT/rate-$r-direct.txt p=$BENCH_OUT/rate-$r-dp.txt
        row "  $r shares/s offered" "$(lat "$d")" "$(lat "$p")" \
            "$(($(get p50_us "$p") - $(get p50_us "$d"))) us; $(ratio "$(get p99_us "$p")" "$(get p99_us "$d")")"
        row "    answers/s; rejected+unanswered" "$(get rate "$d"); $(($(get rejected "$d") + $(get unanswered "$d")))" \
            "$(get rate "$p"); $(($(get rejected "$p") + $(get unanswered "$p")))" ""
        row "    CPU busy (cores of $(nproc))" "$(get cpu_total "$d")" \
            "$(get cpu_total "$p") (dp $(get cpu_dataplane "$p"))" ""
        old_row "rate-$r" "$d"
        fwd_row "rate-$r" "$d" "$p"
    done
    if [[ ${EXTRAS:-1} == 1 ]]; then
        row "  1 connection, $top/s, straight to pool" "$(lat "$BENCH_OUT/one-conn.txt")" "" "(the upstream leg alone)"
        d=$BENCH_OUT/max-direct.txt p=$BENCH_OUT/max-dp.txt
        row "max load, $MAX_MINERS miners x window $MAX_WINDOW" "direct" "via data plane" "ratio (>= 0.5)"
        row "  answers/s" "$(get rate "$d")" "$(get rate "$p")" "$(ratio "$(get rate "$p")" "$(get rate "$d")")"
        row "  rejected+unanswered" "$(($(get rejected "$d") + $(get unanswered "$d")))" \
            "$(($(get rejected "$p") + $(get unanswered "$p")))" "0"
        row "  CPU busy (cores)" "$(get cpu_total "$d")" "$(get cpu_total "$p") (dp $(get cpu_dataplane "$p"))" ""
        if [[ -n ${OLD_DATAPLANE:-} ]]; then
            o=$BENCH_OUT/max-old.txt
            row "  older binary: answers/s" "" "$(get rate "$o")" "$(ratio "$(get rate "$o")" "$(get rate "$d")")"
        fi
    fi
fi

# prefill NAME TARGET: fills the pool's share tables past their last resize
# (PREFILL shares, uncounted) before a measured run, as --prefill does; then
# a new clean job, so the measured run's shares are not the prefill's again
# (the same miners find the same shares on the same job: duplicates).
prefill() {
    log "prefill $1: $PREFILL shares -> $2"
    "$LOADGEN" shares --target "$2" --miners "$MINERS" --rate 0 --window 16 --warmup 0 --duration 1 \
        --prefill "$PREFILL" >"$BENCH_OUT/$1.prefill.txt" 2>&1
    "$LOADGEN" ctl --control "$CTRL_ADDR" job clean >/dev/null
    sleep 1
}

# spool_drained: waits until the linked data plane's spool is empty (every
# event of the prefill shipped and stored), so the measured run does not
# share the machine with the control plane catching up on a backlog.
spool_drained() {
    local i events
    for ((i = 0; i < 600; i++)); do
        events=$(curl -sf "http://127.0.0.1:$DP_HTTP_PORT/status" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["spool"]["events"])' 2>/dev/null || echo "?")
        [[ $events == 0 ]] && return 0
        sleep 1
    done
    echo "the spool did not drain (events: $events)" >&2
    return 1
}

if [[ " $ONLY " == *" ledger "* ]]; then
    # The same load through a standalone data plane and a linked one, each
    # after a prefill (and, linked, once the prefill's events are stored).
    start_pool ledger-off
    start_dp ledger-off "$POOL_ADDR"
    prefill ledger-off "$DP_ADDR"
    shares ledger-off "$DP_ADDR" --cpu "pool=$POOL_PID" --cpu "dataplane=$DP_PID" \
        --miners "$MINERS" --rate "$LEDGER_RATE"
    stop "$DP_PID"
    stop "$POOL_PID"
    start_pool ledger-on
    start_cp ledger-on "$POOL_ADDR"
    start_linked_dp ledger-on
    prefill ledger-on "$DP_ADDR"
    spool_drained
    # The durable write before the answer alone: the control plane stopped
    # (SIGSTOP), so every event is spooled and none shipped or stored while
    # measured; the difference to "no events" is the data plane's own cost.
    kill -STOP "$CP_PID"
    shares ledger-spool "$DP_ADDR" --cpu "pool=$POOL_PID" --cpu "dataplane=$DP_PID" \
        --miners "$MINERS" --rate "$LEDGER_RATE"
    kill -CONT "$CP_PID"
    "$LOADGEN" ctl --control "$CTRL_ADDR" job clean >/dev/null
    spool_drained
    shares ledger-on "$DP_ADDR" --cpu "pool=$POOL_PID" --cpu "dataplane=$DP_PID" --cpu "controlplane=$CP_PID" \
        --miners "$MINERS" --rate "$LEDGER_RATE"
    spool=$(du -sk "$BENCH_OUT/ledger-on.dp-state/spool" | cut -f1)
    stop "$DP_PID"
    stop "$CP_PID"
    stop "$POOL_PID"
    off=$BENCH_OUT/ledger-off.txt on=$BENCH_OUT/ledger-on.txt sp=$BENCH_OUT/ledger-spool.txt
    row "share ledger, $LEDGER_RATE/s (us p50/p90/p99)" "no events" "events spooled+shipped" "added p50 (<50)"
    row "  latency via data plane" "$(lat "$off")" "$(lat "$on")" "$(($(get p50_us "$on") - $(get p50_us "$off"))) us"
    row "  spooled only (control plane stopped)" "" "$(lat "$sp")" "$(($(get p50_us "$sp") - $(get p50_us "$off"))) us (dp $(get cpu_dataplane "$sp"))"
    row "  CPU busy (cores)" "$(get cpu_total "$off") (dp $(get cpu_dataplane "$off"))" \
        "$(get cpu_total "$on") (dp $(get cpu_dataplane "$on"), cp $(get cpu_controlplane "$on"))" "spool at end: ${spool} KiB"
fi

# idle_batch NAME N: one more loadgen holding N idle miners on the data plane
# (each loadgen process has its own open-file limit); sets CONNECTED.
idle_batch() {
    local name=$1 n=$2 out=$BENCH_OUT/$1.txt
    log "idle: $n more miners -> $DP_ADDR"
    "$LOADGEN" idle --target "$DP_ADDR" --miners "$n" --max-failures 50 >"$out" 2>&1 &
    PIDS+=("$!")
    wait_for "$out" '^READY ' 600
    CONNECTED=$(get connected "$out")
    cat "$out" >&2
}

# idle_run NAME: data-plane RSS with no miner, IDLE_MINERS, then IDLE_MAX
# in all, into NAME.txt.
idle_run() {
    local name=$1 out=$BENCH_OUT/$1.txt rss0 rss1 rss2 n1 n2 fds
    start_pool "$name"
    start_dp "$name" "$POOL_ADDR"
    sleep 1
    rss0=$(rss_kib "$DP_PID")
    idle_batch "$name-a" "$IDLE_MINERS"
    n1=$CONNECTED
    sleep 3
    rss1=$(rss_kib "$DP_PID")
    idle_batch "$name-b" "$((IDLE_MAX - IDLE_MINERS))"
    n2=$CONNECTED
    sleep 3
    rss2=$(rss_kib "$DP_PID")
    fds=$(find "/proc/$DP_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
    {
        echo "data plane RSS (KiB): $rss0 with no miner, $rss1 with $n1, $rss2 with $((n1 + n2)) ($fds open files)"
        awk -v r0="$rss0" -v r1="$rss1" -v r2="$rss2" -v n1="$n1" -v n2="$n2" 'BEGIN {
            printf "RESULT mode=idle-rss n1=%d n2=%d total=%d rss0_kib=%d rss1_kib=%d rss2_kib=%d per_miner_n1=%.0f per_miner_total=%.0f marginal=%.0f\n",
                n1, n2, n1 + n2, r0, r1, r2, (r1 - r0) * 1024 / n1, (r2 - r0) * 1024 / (n1 + n2), (n2 > 0 ? (r2 - r1) * 1024 / n2 : 0)
        }'
    } >"$out"
    cat "$out" >&2
    cleanup
}

if [[ " $ONLY " == *" idle "* ]]; then
    idle_run idle
    f=$BENCH_OUT/idle.txt
    row "idle memory (open-file limit $NOFILE)" "miners" "data-plane bytes/miner" "target (<= 1536)"
    row "  first batch" "$(get n1 "$f")" "$(get per_miner_n1 "$f")" ""
    row "  both batches" "$(get total "$f")" "$(get per_miner_total "$f")" ""
    row "  second batch only (marginal)" "$(get n2 "$f")" "$(get marginal "$f")" ""
    if [[ -n ${OLD_DATAPLANE:-} ]]; then
        DATAPLANE=$OLD_DATAPLANE idle_run idle-old
        f=$BENCH_OUT/idle-old.txt
        row "  old binary: first batch / both / marginal" "$(get n1 "$f") / $(get total "$f")" \
            "$(get per_miner_n1 "$f") / $(get per_miner_total "$f") / $(get marginal "$f")" ""
    fi
fi

# fanout_run NAME via-dp?: N miners, ROUNDS new jobs.
fanout_run() {
    local name=$1 via=$2 target
    start_pool "$name"
    target=$POOL_ADDR
    if [[ $via == dp ]]; then
        start_dp "$name" "$POOL_ADDR"
        target=$DP_ADDR
    fi
    log "fanout $name: $FANOUT_MINERS miners -> $target"
    "$LOADGEN" fanout --target "$target" --control "$CTRL_ADDR" --miners "$FANOUT_MINERS" \
        --rounds "$ROUNDS" | tee "$BENCH_OUT/$name.txt" >&2
    if [[ $via == dp ]]; then stop "$DP_PID"; fi
    stop "$POOL_PID"
}

if [[ " $ONLY " == *" fanout "* ]]; then
    fanout_run fanout-direct direct
    fanout_run fanout-dp dp
    d=$BENCH_OUT/fanout-direct.txt p=$BENCH_OUT/fanout-dp.txt
    row "fan-out to $FANOUT_MINERS miners (ms, median of $ROUNDS)" "direct" "via data plane" "target"
    row "  all miners have the job" "$(get all_ms_median "$d")" "$(get all_ms_median "$p")" \
        "ratio $(ratio "$(get all_ms_median "$p")" "$(get all_ms_median "$d")") (<= 1.2)"
    row "  half the miners have it" "$(get p50_ms_median "$d")" "$(get p50_ms_median "$p")" ""
fi

echo
echo "Switchyard data-plane benchmarks ($(nproc) cores, open-file limit $NOFILE; raw output in $BENCH_OUT)"
cat "$SUMMARY"
