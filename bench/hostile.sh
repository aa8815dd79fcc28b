#!/usr/bin/env bash
# bench/hostile.sh: honest miners' share rate and latency, and the data
# plane's memory, while a hostile LAN device holds 10,000 silent connections
# (and reopens each one the data plane closes) against a listener of 1,024
# (single-machine mode's size; the LAN allow-listed). Loopback only; release
# build. Prints a summary; raw outputs stay in $BENCH_OUT. RELIABILITY.md
# records a run.
#
# Knobs: MINERS RATE DURATION WARMUP SILENT SOURCES MAX_CONNECTIONS BENCH_OUT SKIP_BUILD=1
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MINERS=${MINERS:-100}
RATE=${RATE:-2000}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
SILENT=${SILENT:-10000}
SOURCES=${SOURCES:-40}
MAX_CONNECTIONS=${MAX_CONNECTIONS:-1024}
BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-hostile.XXXXXX)}
mkdir -p "$BENCH_OUT"
ulimit -n "$(ulimit -Hn)"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests -p switchyard-dataplane --bin loadgen --bin dataplane
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LOADGEN=$TARGET_DIR/release/loadgen
DATAPLANE=$TARGET_DIR/release/dataplane

source "$ROOT/bench/lib.sh"


"$LOADGEN" pool --difficulty 1e-10 >"$BENCH_OUT/pool.log" 2>&1 &
PIDS+=("$!")
wait_for "$BENCH_OUT/pool.log" '^control ' 10
POOL_ADDR=$(awk '/^pool /{print $2}' "$BENCH_OUT/pool.log")
CTRL_ADDR=$(awk '/^control /{print $2}' "$BENCH_OUT/pool.log")
PORT=$("$LOADGEN" free-port)
HTTP_PORT=$("$LOADGEN" free-port)
cat >"$BENCH_OUT/dataplane.yaml" <<EOF
listeners:
  sha256:
    bind: "127.0.0.1:$PORT"
    max_connections: $MAX_CONNECTIONS
limits:
  allow: ["127.0.0.0/8"]
http:
  listen: "127.0.0.1:$HTTP_PORT"
logging:
  level: warn
pools:
  - name: bench
    url: "stratum+tcp://$POOL_ADDR"
    username: "bench-account"
    password: "x"
EOF
"$DATAPLANE" start --foreground --config "$BENCH_OUT/dataplane.yaml" >"$BENCH_OUT/dataplane.log" 2>&1 &
DP_PID=$!
PIDS+=("$DP_PID")
wait_for "$BENCH_OUT/dataplane.log" 'listening for sha256 miners' 10
DP=127.0.0.1:$PORT
sleep 1
RSS0=$(rss_kib "$DP_PID")

shares() { # NAME
    "$LOADGEN" shares --target "$DP" --miners "$MINERS" --rate "$RATE" --warmup "$WARMUP" \
        --duration "$DURATION" --cpu "dataplane=$DP_PID" >"$BENCH_OUT/$1.txt" 2>&1
}

echo "== honest miners alone" >&2
shares calm
RSS_CALM=$(rss_kib "$DP_PID")

# A new clean job: the second run's shares are not duplicates of the first's.
"$LOADGEN" ctl --control "$CTRL_ADDR" job clean >/dev/null
sleep 1

echo "== the same with $SILENT silent connections from $SOURCES hosts, reopened when closed" >&2
"$LOADGEN" silent --target "$DP" --connections "$SILENT" --sources "$SOURCES" --reconnect \
    --hold "$((DURATION + WARMUP + 5))" >"$BENCH_OUT/silent.txt" 2>&1 &
SILENT_PID=$!
PIDS+=("$SILENT_PID")
wait_for "$BENCH_OUT/silent.txt" '^READY ' 300
RSS_MAX=0
(while kill -0 "$SILENT_PID" 2>/dev/null; do rss_kib "$DP_PID"; sleep 1; done) >"$BENCH_OUT/rss.txt" &
shares attack
STATUS=$(curl -sf "http://127.0.0.1:$HTTP_PORT/status" || echo '{}')
EVICTED=$(echo "$STATUS" | jq '[.. | .evicted_unfinished_handshakes? // empty] | add' || true)
wait "$SILENT_PID" || true
RSS_MAX=$(sort -n "$BENCH_OUT/rss.txt" | tail -1)
sleep 2
RSS_AFTER=$(rss_kib "$DP_PID")

c=$BENCH_OUT/calm.txt a=$BENCH_OUT/attack.txt s=$BENCH_OUT/silent.txt
printf '%-40s %-22s %-22s\n' "honest miners ($MINERS, $RATE/s offered)" "alone" "under attack"
printf '%-40s %-22s %-22s\n' "  answers/s" "$(get rate "$c")" "$(get rate "$a")"
printf '%-40s %-22s %-22s\n' "  latency us p50/p99" "$(get p50_us "$c") / $(get p99_us "$c")" "$(get p50_us "$a") / $(get p99_us "$a")"
printf '%-40s %-22s %-22s\n' "  unanswered + rejected" "$(($(get unanswered "$c") + $(get rejected "$c")))" "$(($(get unanswered "$a") + $(get rejected "$a")))"
printf '%-40s %-22s %-22s\n' "  data plane CPU (cores)" "$(get cpu_dataplane "$c")" "$(get cpu_dataplane "$a")"
echo "attacker: $(grep '^RESULT' "$s" | cut -d' ' -f2-); data plane closed for room: ${EVICTED:-?}"
echo "data plane RSS (KiB): $RSS0 at start, $RSS_CALM after the calm run, max $RSS_MAX under attack, $RSS_AFTER after it"
