#!/usr/bin/env bash
# bench/callgrind_share.sh NAME DATAPLANE SECONDS: one data-plane binary under
# callgrind in front of a scripted pool, 10 miners at 300 shares/s for
# SECONDS; prints the shares and the instruction count (BENCHMARKS.md, "Side
# by side with the November binary"). Run it for 5 and 25 s and take the
# difference per share; outputs in /tmp/cg. Needs valgrind and a release build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source bench/lib.sh
LOADGEN=${CARGO_TARGET_DIR:-$ROOT/target}/release/loadgen
DIFFICULTY=1e-10
BENCH_OUT=${BENCH_OUT:-/tmp/cg}
mkdir -p "$BENCH_OUT"
NAME=${1:?usage: bench/callgrind_share.sh NAME DATAPLANE SECONDS} DP=$2 SECS=$3
start_pool "$NAME"
port=$($LOADGEN free-port)
cat >$BENCH_OUT/$NAME.yaml <<Y
listeners: { sha256: { bind: "127.0.0.1:$port", max_connections: 1000000 } }
limits: { allow: ["127.0.0.0/8"] }
logging: { level: warn }
pools: [ { name: bench, url: "stratum+tcp://$POOL_ADDR", username: bench-account, password: x } ]
Y
valgrind --tool=callgrind --callgrind-out-file=$BENCH_OUT/$NAME.out "$DP" start --foreground --config $BENCH_OUT/$NAME.yaml >$BENCH_OUT/$NAME.dp.log 2>&1 &
DPID=$!
PIDS+=("$DPID")
for ((i = 0; i < 600; i++)); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
sleep 2
$LOADGEN shares --target 127.0.0.1:$port --miners 10 --rate 300 --duration "$SECS" --warmup 0 --drain 10 > $BENCH_OUT/$NAME.shares.txt 2>&1
kill -TERM $DPID; wait $DPID || true
echo "$NAME sent=$(get sent_all $BENCH_OUT/$NAME.shares.txt) answered=$(get answered $BENCH_OUT/$NAME.shares.txt) Ir=$(grep -m1 '^summary:\|^totals:' $BENCH_OUT/$NAME.out | awk '{print $2}')"
