#!/usr/bin/env bash
# bench/rxaleo.sh: share throughput and write-to-answer latency for RandomX
# and ALEO miners (BENCHMARKS.md, "RandomX and ALEO: throughput and
# latency"), on loopback only, as bench/run.sh does for SHA-256.
#
# Builds loadgen and dataplane in release, then runs one measurement at a
# time (the machine has 2 cores): `loadgen rx-shares` / `loadgen aleo-shares`
# straight to the harness's scripted pool (`loadgen rx-pool` / `loadgen
# aleo-pool`) vs through the real `dataplane` binary, at fixed rates and at
# max load. Every measurement gets a fresh pool (its share tables grow) and a
# fresh data plane. Prints a summary table; raw outputs stay in $BENCH_OUT.
# Every share the miners send is valid, so any rejection, unanswered share or
# connection error is unexpected: such a run's RESULT line says
# verdict=UNEXPECTED and its summary row is marked "!!!".
#
# Knobs (environment): ALGOS ("rx aleo"; "iceriver" adds ALEO's IceRiver
# dialect) RATES RX_MINERS ALEO_MINERS DURATION WARMUP PREFILL MAX_MINERS
# MAX_WINDOW BENCH_OUT SKIP_BUILD=1 MODES ("rates max"; "idle" measures the
# data plane's memory per idle miner with IDLE_RX / IDLE_ALEO miners, and
# the binary OLD_DATAPLANE's too when set) DATAPLANE=PATH (another binary as
# ours, e.g. under a profiler's wrapper)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

ALGOS=${ALGOS:-"rx aleo"}
RATES=${RATES:-"2000 10000"}
RX_MINERS=${RX_MINERS:-1000}
# ALEO is passthrough: each miner is its own pool connection.
ALEO_MINERS=${ALEO_MINERS:-200}
MODES=${MODES:-"rates max"}
IDLE_RX=${IDLE_RX:-10000}
# Passthrough: each idle ALEO miner holds its own pool connection too.
IDLE_ALEO=${IDLE_ALEO:-2000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
MAX_MINERS=${MAX_MINERS:-100}
MAX_WINDOW=${MAX_WINDOW:-16}
# Shares sent before a fixed-rate run: the scripted pools keep every request
# and share in Vecs and a HashSet that only grow; 540,000 puts them past the
# resizes at 458,752 (HashSet) and 524,288 (Vec), and the run stays below the
# next ones (917,504 and 1,048,576), so no resize stalls the measured period.
PREFILL=${PREFILL:-540000}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-rxaleo.XXXXXX)}
mkdir -p "$BENCH_OUT"

source "$ROOT/bench/lib.sh"

ulimit -n "$(ulimit -Hn)"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests --bin loadgen -p switchyard-dataplane --bin dataplane
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LOADGEN=$TARGET_DIR/release/loadgen
DATAPLANE=${DATAPLANE:-$TARGET_DIR/release/dataplane}

log() { echo "== $*" >&2; }



# The loadgen subcommands and data-plane pool settings of each algorithm.
pool_cmd() {
    case $1 in
    rx) echo "rx-pool --difficulty 1" ;;
    aleo) echo "aleo-pool --dialect aleostratum3" ;;
    iceriver) echo "aleo-pool --dialect iceriver" ;;
    esac
}
shares_cmd() {
    case $1 in
    rx) echo "rx-shares" ;;
    aleo) echo "aleo-shares --dialect aleostratum3" ;;
    iceriver) echo "aleo-shares --dialect iceriver" ;;
    esac
}
miners_of() { if [[ $1 == rx ]]; then echo "$RX_MINERS"; else echo "$ALEO_MINERS"; fi; }

# start_pool ALGO NAME: sets POOL_PID POOL_ADDR CTRL_ADDR.
start_pool() {
    local out=$BENCH_OUT/$2.pool.log
    # shellcheck disable=SC2046
    "$LOADGEN" $(pool_cmd "$1") >"$out" 2>&1 &
    POOL_PID=$!
    PIDS+=("$POOL_PID")
    wait_for "$out" '^control ' 10
    POOL_ADDR=$(awk '/^pool /{print $2}' "$out")
    CTRL_ADDR=$(awk '/^control /{print $2}' "$out")
}

# start_dp ALGO NAME POOL_ADDR: the real binary with a generated config
# (only the listener of ALGO, on loopback); sets DP_PID DP_ADDR.
start_dp() {
    local algo=$1 name=$2 pool=$3 port listener pool_extra
    local cfg=$BENCH_OUT/$name.dataplane.yaml out=$BENCH_OUT/$name.dataplane.log
    port=$("$LOADGEN" free-port)
    case $algo in
    rx)
        listener=randomx
        pool_extra="    algorithm: randomx"
        ;;
    aleo | iceriver)
        listener=zksnark
        pool_extra="    algorithm: zksnark
    mode: passthrough
    dialect: $([[ $algo == aleo ]] && echo aleostratum3 || echo iceriver)"
        ;;
    esac
    cat >"$cfg" <<EOF
listeners:
  sha256: null
  $listener:
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
$pool_extra
EOF
    "$DATAPLANE" start --foreground --config "$cfg" >"$out" 2>&1 &
    DP_PID=$!
    PIDS+=("$DP_PID")
    DP_ADDR=127.0.0.1:$port
    wait_for "$out" "^dataplane listening for $listener miners on " 10
}


SUMMARY=$BENCH_OUT/summary.txt
: >"$SUMMARY"
row() { printf '%-46s %-24s %-24s %s\n' "$@" | tee -a "$SUMMARY" >/dev/null; }

# shares ALGO NAME TARGET ARGS...: one loadgen run into NAME.txt.
shares() {
    local algo=$1 name=$2 target=$3
    shift 3
    log "$algo $name -> $target $*"
    # shellcheck disable=SC2046
    "$LOADGEN" $(shares_cmd "$algo") --target "$target" --warmup "$WARMUP" --duration "$DURATION" "$@" \
        | tee "$BENCH_OUT/$name.txt" >&2
}

# pair ALGO TAG ARGS...: direct then through the data plane, same load.
pair() {
    local algo=$1 tag=$2
    shift 2
    start_pool "$algo" "$tag-direct"
    shares "$algo" "$tag-direct" "$POOL_ADDR" --cpu "pool=$POOL_PID" "$@" || true
    echo "pool after run: $("$LOADGEN" ctl --control "$CTRL_ADDR" stats)" | tee -a "$BENCH_OUT/$tag-direct.txt" >&2
    stop "$POOL_PID"
    start_pool "$algo" "$tag-dp"
    start_dp "$algo" "$tag" "$POOL_ADDR"
    shares "$algo" "$tag-dp" "$DP_ADDR" --cpu "pool=$POOL_PID" --cpu "dataplane=$DP_PID" "$@" || true
    echo "pool after run: $("$LOADGEN" ctl --control "$CTRL_ADDR" stats)" | tee -a "$BENCH_OUT/$tag-dp.txt" >&2
    stop "$DP_PID"
    stop "$POOL_PID"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
lat() { echo "$(get p50_us "$1") / $(get p90_us "$1") / $(get p99_us "$1")"; }
# bad FILE: rejected + unanswered + errors (+ the prefill's), "!!!" unless 0.
bad() {
    local f=$1 n
    if ! grep -q '^RESULT' "$f"; then
        echo "!!! no RESULT"
        return
    fi
    n=$(($(get rejected "$f") + $(get unanswered "$f") + $(get errors "$f") + $(get prefill_bad "$f")))
    if [[ $n -eq 0 ]]; then echo 0; else echo "!!! $n"; fi
}
# cpu FILE: cores busy (ours), the data plane's share, and other processes'.
cpu() {
    local dp=""
    [[ -n $(get cpu_dataplane "$1") ]] && dp=" dp $(get cpu_dataplane "$1");"
    echo "$(get cpu_total "$1") ($dp other $(get cpu_others "$1"))"
}

# idle ALGO NAME: the data plane's RSS with no miner, then with IDLE_RX or
# IDLE_ALEO idle miners of ALGO (`loadgen idle --algorithm`), into NAME.txt.
idle() {
    local algo=$1 n out=$BENCH_OUT/$2.txt rss0 rss1
    local args=(--algorithm aleo --dialect aleostratum3)
    n=$IDLE_ALEO
    case $algo in
    rx) n=$IDLE_RX args=(--algorithm randomx) ;;
    iceriver) args=(--algorithm aleo --dialect iceriver) ;;
    esac
    start_pool "$algo" "$2"
    start_dp "$algo" "$2" "$POOL_ADDR"
    sleep 1
    rss0=$(rss_kib "$DP_PID")
    log "$algo idle: $n miners -> $DP_ADDR"
    "$LOADGEN" idle "${args[@]}" --target "$DP_ADDR" --miners "$n" --max-failures 50 \
        >"$out.loadgen" 2>&1 &
    PIDS+=("$!")
    wait_for "$out.loadgen" '^READY ' 600
    n=$(awk '/^READY /{print $2}' "$out.loadgen")
    sleep 3
    rss1=$(rss_kib "$DP_PID")
    awk -v r0="$rss0" -v r1="$rss1" -v n="$n" 'BEGIN {
        printf "RESULT mode=idle-rss miners=%d rss0_kib=%d rss1_kib=%d per_miner=%.0f\n", n, r0, r1, (r1 - r0) * 1024 / n
    }' | tee "$out" >&2
    cleanup
}

for algo in $ALGOS; do
    miners=$(miners_of "$algo")
    if [[ " $MODES " == *" rates "* ]]; then
        for r in $RATES; do
            pair "$algo" "$algo-rate-$r" --miners "$miners" --rate "$r" --prefill "$PREFILL"
        done
    fi
    if [[ " $MODES " == *" max "* ]]; then
        pair "$algo" "$algo-max" --miners "$MAX_MINERS" --rate 0 --window "$MAX_WINDOW"
    fi
    if [[ " $MODES " == *" idle "* ]]; then
        idle "$algo" "$algo-idle"
        if [[ -n ${OLD_DATAPLANE:-} ]]; then
            DATAPLANE=$OLD_DATAPLANE idle "$algo" "$algo-idle-old"
        fi
    fi
done

for algo in $ALGOS; do
    if [[ " $MODES " == *" idle "* ]]; then
        f=$BENCH_OUT/$algo-idle.txt
        row "$algo: idle memory" "$(get miners "$f") miners" "$(get per_miner "$f") B/miner" "target (<= 1536)"
        if [[ -n ${OLD_DATAPLANE:-} ]]; then
            f=$BENCH_OUT/$algo-idle-old.txt
            row "  old binary" "$(get miners "$f") miners" "$(get per_miner "$f") B/miner" ""
        fi
    fi
    [[ " $MODES " == *" rates "* && " $MODES " == *" max "* ]] || continue
    miners=$(miners_of "$algo")
    row "$algo: latency, $miners miners (us p50/p90/p99)" "direct" "via data plane" "added p50 (<100); p99 ratio (<=2)"
    for r in $RATES; do
        d=$BENCH_OUT/$algo-rate-$r-direct.txt p=$BENCH_OUT/$algo-rate-$r-dp.txt
        row "  $r shares/s offered" "$(lat "$d")" "$(lat "$p")" \
            "$(($(get p50_us "$p") - $(get p50_us "$d"))) us; $(ratio "$(get p99_us "$p")" "$(get p99_us "$d")")"
        row "    answers/s; rejected+unanswered+errors" "$(get rate "$d"); $(bad "$d")" "$(get rate "$p"); $(bad "$p")" ""
        row "    CPU busy (cores of $(nproc), other processes)" "$(cpu "$d")" "$(cpu "$p")" ""
    done
    d=$BENCH_OUT/$algo-max-direct.txt p=$BENCH_OUT/$algo-max-dp.txt
    row "$algo: max load, $MAX_MINERS miners x window $MAX_WINDOW" "direct" "via data plane" "ratio (>= 0.5)"
    row "  answers/s" "$(get rate "$d")" "$(get rate "$p")" "$(ratio "$(get rate "$p")" "$(get rate "$d")")"
    row "  latency us p50/p90/p99" "$(lat "$d")" "$(lat "$p")" ""
    row "  rejected+unanswered+errors" "$(bad "$d")" "$(bad "$p")" "0"
    row "  CPU busy (cores)" "$(cpu "$d")" "$(cpu "$p")" ""
done

echo
echo "Switchyard RandomX / ALEO benchmarks ($(nproc) cores; raw output in $BENCH_OUT)"
cat "$SUMMARY"
if grep -q '!!!' "$SUMMARY"; then
    echo "!!! some runs had unexpected rejections, unanswered shares or errors: see the rows marked !!!"
    exit 1
fi
