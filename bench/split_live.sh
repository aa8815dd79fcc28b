#!/usr/bin/env bash
# bench/split_live.sh: a weighted window on real sockets (BENCHMARKS.md,
# "Weighted split on real sockets"), loopback only.
#
# Builds in release, starts two scripted pools (`loadgen pool`), writes a
# seed-format config whose one window splits SHA-256 between them by
# WEIGHTS, and runs `controlplane start --foreground` (control plane +
# embedded data plane). `loadgen shares` connects MINERS miners of mixed
# speeds (log-uniform over 1 to SPREAD; with BIG, one miner does that part
# of all the work) submitting RATE shares/s in all for DURATION seconds.
# Then the control plane's share history (`ctl stats --window 1m`) gives
# each minute's accepted difficulty per pool: the script prints, per
# minute, pool-a's part in that minute and since the start (the weights ask
# it of the sliding hour), then the data plane's own `switchyard_split_*`
# series (its target and achieved ratios, miners per pool, moves).
#
# Usage: bench/split_live.sh
# Knobs (environment): MINERS (1000) RATE (2000) DURATION (600 s) SPREAD
# (100) BIG (0; 0.8 = one miner with 80% of the work) WEIGHTS (70,30)
# SKIP_BUILD=1 BENCH_OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

MINERS=${MINERS:-1000}
RATE=${RATE:-2000}
DURATION=${DURATION:-600}
SPREAD=${SPREAD:-100}
BIG=${BIG:-0}
WEIGHTS=${WEIGHTS:-70,30}
DIFFICULTY=1e-10 # every nonce is a valid share (BENCHMARKS.md)
BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-split.XXXXXX)}
mkdir -p "$BENCH_OUT"
WA=${WEIGHTS%,*}
WB=${WEIGHTS#*,}

source "$ROOT/bench/lib.sh"
ulimit -n "$(ulimit -Hn)"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests -p switchyard-controlplane -p switchyard-ctl
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
LOADGEN=$BIN/loadgen
log() { echo "== $*" >&2; }

start_pool pool-a
A_ADDR=$POOL_ADDR
start_pool pool-b
B_ADDR=$POOL_ADDR

CP_PORT=$("$LOADGEN" free-port)
CFG=$BENCH_OUT/config.yaml
cat >"$CFG" <<EOF
controlplane:
  listen: "127.0.0.1:$CP_PORT"
  database: "switchyard.db"
  timezone: "UTC"
  site_name: "default"
  http_listen: "127.0.0.1:0"
proxy:
  global:
    max_connections: 1000000
  sha256:
    enabled: true
    bind_host: "127.0.0.1"
    bind_port: 0
servers:
  sha256:
    - { name: "pool-a", host: "127.0.0.1", port: ${A_ADDR##*:}, username: "bench.a", password: "x", start: "00:00", end: "24:00", weight: $WA }
    - { name: "pool-b", host: "127.0.0.1", port: ${B_ADDR##*:}, username: "bench.b", password: "x", start: "00:00", end: "24:00", weight: $WB }
logging:
  level: "INFO"
EOF
"$BIN/controlplane" validate "$CFG" >&2

CP_OUT=$BENCH_OUT/controlplane.out
TZ=UTC "$BIN/controlplane" start --foreground --config "$CFG" --pid-file "$BENCH_OUT/cp.pid" \
    --log-file "$BENCH_OUT/controlplane.log" >"$CP_OUT" 2>&1 &
CP_PID=$!
PIDS+=("$CP_PID")
wait_for "$CP_OUT" '^dataplane listening for sha256 miners on ' 60
DP_ADDR=$(awk '/^dataplane listening for sha256 miners on /{print $NF}' "$CP_OUT")
wait_for "$CP_OUT" '^controlplane http listening on ' 30
HTTP=$(awk '/^controlplane http listening on /{print $NF}' "$CP_OUT")
wait_for "$BENCH_OUT/controlplane.log" 'weighted window' 30
CTL=("$BIN/ctl" --endpoint "http://127.0.0.1:$CP_PORT" --token-file "$BENCH_OUT/switchyard.db.admin-token")

START_MS=$(date +%s%3N)
log "$MINERS miners (speeds 1 to $SPREAD, big $BIG) at $RATE shares/s for $DURATION s, window $WA/$WB"
"$LOADGEN" shares --target "$DP_ADDR" --miners "$MINERS" --rate "$RATE" --spread "$SPREAD" \
    --big "$BIG" --duration "$DURATION" --warmup 0 --concurrency 32 --cpu "cp=$CP_PID" \
    >"$BENCH_OUT/shares.txt" 2>&1 || { cat "$BENCH_OUT/shares.txt" >&2; exit 1; }
cat "$BENCH_OUT/shares.txt" >&2
# The last batches reach the history.
sleep 3
MINUTES=$(((DURATION + 119) / 60))
"${CTL[@]}" -o json stats --since "${MINUTES}m" --window 1m >"$BENCH_OUT/stats.json"
"${CTL[@]}" stats --since "${MINUTES}m" | tail -n 3 >&2
curl -s "http://$HTTP/metrics" | grep '^switchyard_split_' >"$BENCH_OUT/split.metrics" || true

python3 - "$BENCH_OUT/stats.json" "$START_MS" "$WA" "$WB" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
start, wa, wb = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
target = 100 * wa / (wa + wb)
minutes = {}
for r in rows:
    t = r["window_start_unix_ms"]
    if t + 60000 <= start:
        continue
    m = minutes.setdefault(t, {"pool-a": 0.0, "pool-b": 0.0})
    m[r["pool"]] = m.get(r["pool"], 0.0) + r["accepted_difficulty"]
cum = {"pool-a": 0.0, "pool-b": 0.0}
worst_after_5 = 0.0
print(f"{'minute':>6} {'pool-a this minute':>19} {'pool-a since start':>19}")
for i, t in enumerate(sorted(minutes)):
    m = minutes[t]
    total = m["pool-a"] + m["pool-b"]
    for k in cum:
        cum[k] += m[k]
    c = 100 * cum["pool-a"] / max(cum["pool-a"] + cum["pool-b"], 1e-300)
    if i >= 5:
        worst_after_5 = max(worst_after_5, abs(c - target))
    print(f"{i:>6} {100 * m['pool-a'] / max(total, 1e-300):>18.2f}% {c:>18.2f}%")
final = 100 * cum["pool-a"] / max(cum["pool-a"] + cum["pool-b"], 1e-300)
print(f"RESULT target={target:.2f} achieved={final:.2f} error={final - target:+.2f} "
      f"worst_cumulative_after_5min={worst_after_5:.2f}")
EOF
echo "the data plane's view (last hour):" >&2
cat "$BENCH_OUT/split.metrics" >&2
