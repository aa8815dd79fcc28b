#!/usr/bin/env bash
# bench/soak.sh: the soak (issue 16 item 5; figures in RELIABILITY.md, "Soak"),
# on loopback only, with the release binaries.
#
# Runs the real control plane (SQLite, `--no-dataplane`), two scripted pools
# (`loadgen pool`, pool-a scheduled all day, pool-b the failover candidate),
# the `dataplane` binary linked to the control plane (its HTTP /metrics on),
# and MINERS miners submitting RATE shares/s in all (`loadgen shares`) for
# SOAK_MINUTES. Meanwhile:
#   - every SWITCH_EVERY s (300) the hashrate moves: `ctl override` to pool-b,
#     then `ctl override clear` (back to pool-a's schedule), alternately;
#   - every RESTART_EVERY s (420) the pool that has the hashrate is killed
#     (SIGKILL) and, RESTART_DOWN s (2) later, started again on the same ports;
#   - every SAMPLE_EVERY s (10) the data plane's and the control plane's RSS,
#     open files (/proc/PID/fd), threads, and gauges from both /metrics are
#     written to samples.csv.
# At the end: each series' least-squares slope per hour (over the sending
# period, from SLOPE_FROM s after the load started) with its start and end
# values, loadgen's shares sent / answered / unanswered, and the ledger check:
# once the data plane's spool has drained, the share events the control plane
# stored (`ctl stats`, and `SELECT count(*) FROM share_events`) must equal the
# shares loadgen saw answered, accepted and rejected alike. Exits 1 when a
# share went unanswered or the ledger differs.
#
# Usage: bench/soak.sh [--minutes N] [--miners N] [--rate R]
#        bench/soak.sh --report DIR   (the series table again, from DIR/samples.csv;
#                                      SLOPE_FROM applies)
# Knobs (environment): SOAK_MINUTES (30) MINERS (5000) RATE (2000 shares/s in
# all) SWITCH_EVERY (300) RESTART_EVERY (420) RESTART_DOWN (2) SAMPLE_EVERY (10)
# SLOPE_FROM (360) DRAIN (60 s for answers after sending stops) BENCH_OUT
# SKIP_BUILD=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

while [[ $# -gt 0 ]]; do
    case $1 in
        --minutes) SOAK_MINUTES=$2; shift 2 ;;
        --miners) MINERS=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --report) REPORT_DIR=$2; shift 2 ;;
        *) echo "usage: $0 [--minutes N] [--miners N] [--rate R] | --report DIR" >&2; exit 2 ;;
    esac
done
SOAK_MINUTES=${SOAK_MINUTES:-30}
MINERS=${MINERS:-5000}
RATE=${RATE:-2000}
SWITCH_EVERY=${SWITCH_EVERY:-300}
RESTART_EVERY=${RESTART_EVERY:-420}
RESTART_DOWN=${RESTART_DOWN:-2}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
# The data plane's RSS climbs for the first 300 s: each miner's duplicate-share
# cache fills up to its time-to-live (validation.share_cache_ttl, 300 s).
SLOPE_FROM=${SLOPE_FROM:-360}
DRAIN=${DRAIN:-60}
DIFFICULTY=1e-10 # every nonce is a valid share (BENCHMARKS.md)

# The sampled series (samples.csv has t_s,utc,phase,route first).
COLS="dp_rss_kib dp_fds dp_threads cp_rss_kib cp_fds cp_threads dp_miners_connected dp_upstream_up dp_workers_online dp_prefixes_used dp_spool_events dp_spool_bytes dp_shares_total cp_events_ingested_total cp_db_bytes"
# slopes CSV: per column, least squares over the load phase from SLOPE_FROM s,
# per hour, and over its second half; first and last value of that window,
# min and max.
slopes() {
    local last half
    last=$(awk -F, '$3 == "load" { t = $1 } END { print t + 0 }' "$1")
    half=$(((SLOPE_FROM + last) / 2))
    awk -F, -v from="$SLOPE_FROM" -v half="$half" -v cols="$COLS" '
        function fit(k, x, v) {
            cnt[k]++; sx[k] += x; sy[k] += v; sxx[k] += x * x; sxy[k] += x * v
        }
        function slope(k,   d) {
            d = cnt[k] * sxx[k] - sx[k] * sx[k]
            return d != 0 ? (cnt[k] * sxy[k] - sx[k] * sy[k]) / d : 0
        }
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $3 != "load" || $1 < from { next }
        {
            n++
            ncols = split(cols, c, " ")
            for (k = 1; k <= ncols; k++) {
                v = $(idx[c[k]])
                if (v == "") continue
                x = $1 / 3600
                fit(k, x, v)
                if ($1 >= half) fit(k + 100, x, v)
                if (!(k in first)) first[k] = v
                last[k] = v
                if (!(k in mn) || v + 0 < mn[k]) mn[k] = v + 0
                if (!(k in mx) || v + 0 > mx[k]) mx[k] = v + 0
            }
        }
        END {
            printf "%-24s %12s %12s %12s %12s %14s %9s %14s\n", "series", "start", "end", "min", "max", "slope/hour", "% of mean", "2nd half /h"
            for (k = 1; k <= ncols; k++) {
                if (cnt[k] < 2) { printf "%-24s (no samples)\n", c[k]; continue }
                mean = sy[k] / cnt[k]
                printf "%-24s %12s %12s %12s %12s %14.1f %8.2f%% %14.1f\n", c[k], first[k], last[k], mn[k], mx[k], slope(k), (mean != 0 ? 100 * slope(k) / mean : 0), (cnt[k + 100] >= 2 ? slope(k + 100) : 0)
            }
            printf "(%d samples of the load phase from t=%d s; the 2nd half from t=%d s; *_total are counters: their slope is a rate)\n", n, from, half
        }' "$1"
}

if [[ -n ${REPORT_DIR:-} ]]; then
    slopes "$REPORT_DIR/samples.csv"
    exit 0
fi
SOAK_SECS=$(awk -v m="$SOAK_MINUTES" 'BEGIN { printf "%d", m * 60 }')
BENCH_OUT=${BENCH_OUT:-$(mktemp -d /tmp/switchyard-soak.XXXXXX)}
mkdir -p "$BENCH_OUT"

source "$ROOT/bench/lib.sh"

ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < MINERS + 1000)); then
    echo "the open-file limit $(ulimit -n) is too low for $MINERS miners" >&2
    exit 2
fi

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-tests -p switchyard-controlplane -p switchyard-ctl \
        -p switchyard-dataplane
fi
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
LOADGEN=$BIN/loadgen

log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }


forget() {
    local p keep=()
    for p in "${PIDS[@]}"; do [[ $p != "$1" ]] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# stop PID: SIGTERM, wait, forget it.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget "$1"
}


# The pools: fixed ports, so a restarted pool comes back where it was.
declare -A POOL_PORT CTRL_PORT POOL_PIDS STARTS
for p in pool-a pool-b; do
    POOL_PORT[$p]=$("$LOADGEN" free-port)
    CTRL_PORT[$p]=$("$LOADGEN" free-port)
    STARTS[$p]=0
done

# start_pool NAME: (re)starts it on its ports; sets POOL_PIDS[NAME].
start_pool() {
    local name=$1 out i
    STARTS[$name]=$((STARTS[$name] + 1))
    out=$BENCH_OUT/$name.${STARTS[$name]}.log
    for ((i = 0; i < 50; i++)); do
        "$LOADGEN" pool --difficulty "$DIFFICULTY" --listen "127.0.0.1:${POOL_PORT[$name]}" \
            --control "127.0.0.1:${CTRL_PORT[$name]}" >"$out" 2>&1 &
        POOL_PIDS[$name]=$!
        PIDS+=("${POOL_PIDS[$name]}")
        if wait_for "$out" '^control ' 10 2>/dev/null; then return 0; fi
        # The port may still be held for a moment: try again.
        stop "${POOL_PIDS[$name]}"
        sleep 0.2
    done
    echo "$name could not be started on 127.0.0.1:${POOL_PORT[$name]}:" >&2
    cat "$out" >&2
    return 1
}

# kill_pool NAME: SIGKILL, like a crash (its share tables die with it).
kill_pool() {
    local pid=${POOL_PIDS[$1]}
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

start_pool pool-a
start_pool pool-b

# The control plane: seed-format config, pool-a all day, pool-b unscheduled
# (the failover candidate and the override's target); no embedded data plane.
CP_PORT=$("$LOADGEN" free-port)
CP_HTTP=127.0.0.1:$("$LOADGEN" free-port)
CFG=$BENCH_OUT/config.yaml
cat >"$CFG" <<EOF
controlplane:
  listen: "127.0.0.1:$CP_PORT"
  http_listen: "$CP_HTTP"
  database: "switchyard.db"
  timezone: "UTC"
  site_name: "default"
servers:
  sha256:
    - { name: "pool-a", host: "127.0.0.1", port: ${POOL_PORT[pool-a]}, username: "soak.a", password: "x", start: "00:00", end: "24:00" }
    - { name: "pool-b", host: "127.0.0.1", port: ${POOL_PORT[pool-b]}, username: "soak.b", password: "x" }
logging:
  level: "INFO"
EOF
"$BIN/controlplane" validate "$CFG" >&2
CP_OUT=$BENCH_OUT/controlplane.out
TZ=UTC "$BIN/controlplane" start --foreground --no-dataplane --config "$CFG" \
    --pid-file "$BENCH_OUT/cp.pid" --log-file "$BENCH_OUT/controlplane.log" >"$CP_OUT" 2>&1 &
CP_PID=$!
PIDS+=("$CP_PID")
wait_for "$CP_OUT" '^controlplane listening on ' 60
CTL=("$BIN/ctl" --endpoint "http://127.0.0.1:$CP_PORT" --token-file "$BENCH_OUT/switchyard.db.admin-token")
for ((i = 0; i < 100; i++)); do
    [[ -s $BENCH_OUT/switchyard.db.site-default.token ]] && break
    sleep 0.1
done

# The data plane, linked; per-IP limits off for loopback (all miners come
# from 127.0.0.1), /metrics on.
DP_PORT=$("$LOADGEN" free-port)
DP_HTTP=127.0.0.1:$("$LOADGEN" free-port)
DP_CFG=$BENCH_OUT/dataplane.yaml
cat >"$DP_CFG" <<EOF
listeners:
  sha256: { bind: "127.0.0.1:$DP_PORT", max_connections: 1000000 }
limits: { allow: ["127.0.0.0/8"] }
controlplane:
  endpoint: "http://127.0.0.1:$CP_PORT"
  token_file: "$BENCH_OUT/switchyard.db.site-default.token"
  state_dir: "$BENCH_OUT/dataplane-state"
http: { listen: "$DP_HTTP" }
logging: { level: info, file: "$BENCH_OUT/dataplane.log" }
EOF
"$BIN/dataplane" validate "$DP_CFG" >&2
"$BIN/dataplane" start --foreground --config "$DP_CFG" >"$BENCH_OUT/dataplane.out" 2>&1 &
DP_PID=$!
PIDS+=("$DP_PID")
for ((i = 0; i < 300; i++)); do
    if curl -sf "http://$DP_HTTP/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
curl -sf "http://$DP_HTTP/readyz" >/dev/null || {
    echo "the data plane is not ready:" >&2
    curl -s "http://$DP_HTTP/readyz" >&2 || true
    cat "$BENCH_OUT/dataplane.out" >&2
    exit 1
}
log "control plane pid $CP_PID (127.0.0.1:$CP_PORT, http $CP_HTTP), data plane pid $DP_PID (miners 127.0.0.1:$DP_PORT, http $DP_HTTP)"

# --- sampling -----------------------------------------------------------
proc_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo; }
proc_threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo; }
proc_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# msum FILE NAME [REGEX]: the sum of a metric's series (labels matching REGEX).
msum() {
    awk -v n="$2" -v re="${3:-}" '
        $1 ~ ("^" n "({|$)") && (re == "" || $1 ~ re) { s += $NF; found = 1 }
        END { if (found) printf "%.0f\n", s; else print "" }' "$1"
}
# The pool whose route_info reads 1.
route_pool() { awk '/^switchyard_route_info\{/ && $NF == 1 { if (match($1, /pool="[^"]*"/)) print substr($1, RSTART + 6, RLENGTH - 7) }' "$1" | head -1; }

SAMPLES=$BENCH_OUT/samples.csv
EVENTS=$BENCH_OUT/events.csv
echo "t_s,utc,phase,route,$(echo "$COLS" | tr ' ' ',')" >"$SAMPLES"
echo "t_s,utc,event,detail" >"$EVENTS"
event() {
    echo "$(($(date +%s) - T0)),$(date -u +%FT%TZ),$1,$2" >>"$EVENTS"
    log "$1 $2"
}

sample() {
    local phase=$1 dm=$BENCH_OUT/.dp.metrics cm=$BENCH_OUT/.cp.metrics
    curl -s --max-time 3 "http://$DP_HTTP/metrics" >"$dm" 2>/dev/null || : >"$dm"
    curl -s --max-time 3 "http://$CP_HTTP/metrics" >"$cm" 2>/dev/null || : >"$cm"
    local v=(
        "$(proc_rss "$DP_PID")" "$(proc_fds "$DP_PID")" "$(proc_threads "$DP_PID")"
        "$(proc_rss "$CP_PID")" "$(proc_fds "$CP_PID")" "$(proc_threads "$CP_PID")"
        "$(msum "$dm" switchyard_miners_connected)"
        "$(msum "$dm" switchyard_upstream_connections 'state="up"')"
        "$(msum "$dm" switchyard_workers 'state="online"')"
        "$(msum "$dm" switchyard_aggregation_prefixes_used)"
        "$(msum "$dm" switchyard_spool_events)"
        "$(msum "$dm" switchyard_spool_bytes)"
        "$(msum "$dm" switchyard_shares_total)"
        "$(msum "$cm" switchyard_cp_share_events_ingested_total)"
        "$(msum "$cm" switchyard_cp_db_size_bytes)"
    )
    local IFS=,
    echo "$(($(date +%s) - T0)),$(date -u +%FT%TZ),$phase,$(route_pool "$dm"),${v[*]}" >>"$SAMPLES"
}

# --- the load -------------------------------------------------------------
log "soak: $MINERS miners, $RATE shares/s, $SOAK_MINUTES min; switch every $SWITCH_EVERY s, pool restart every $RESTART_EVERY s; output in $BENCH_OUT"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
START_UTC=$(date -u +%FT%TZ)
T0=$(date +%s)
sample setup
"$LOADGEN" shares --target "127.0.0.1:$DP_PORT" --miners "$MINERS" --rate "$RATE" \
    --warmup 0 --duration "$SOAK_SECS" --drain "$DRAIN" --cpu dataplane="$DP_PID" \
    --cpu controlplane="$CP_PID" >"$BENCH_OUT/shares.txt" 2>&1 &
LG_PID=$!
PIDS+=("$LG_PID")
wait_for "$BENCH_OUT/shares.txt" '^handshake: ' 300
T0=$(date +%s) # the load starts now (+0.2 s)
event load "$(grep '^handshake: ' "$BENCH_OUT/shares.txt")"
END=$((T0 + SOAK_SECS))
ACTIVE=pool-a
next_sample=$T0 next_switch=$((T0 + SWITCH_EVERY)) next_restart=$((T0 + RESTART_EVERY))
switches=0 restarts=0 switch_failures=0
while kill -0 "$LG_PID" 2>/dev/null; do
    now=$(date +%s)
    if ((now < END && now >= next_switch)); then
        if [[ $ACTIVE == pool-a ]]; then
            if "${CTL[@]}" override --site default --algo sha256 --pool pool-b --until +1d >>"$BENCH_OUT/ctl.log" 2>&1; then
                ACTIVE=pool-b
            else switch_failures=$((switch_failures + 1)); fi
        else
            if "${CTL[@]}" override clear --site default --algo sha256 >>"$BENCH_OUT/ctl.log" 2>&1; then
                ACTIVE=pool-a
            else switch_failures=$((switch_failures + 1)); fi
        fi
        switches=$((switches + 1))
        event switch "to $ACTIVE"
        next_switch=$((next_switch + SWITCH_EVERY))
    fi
    if ((now < END && now >= next_restart)); then
        victim=$ACTIVE
        kill_pool "$victim"
        event pool-kill "$victim"
        sleep "$RESTART_DOWN"
        start_pool "$victim"
        restarts=$((restarts + 1))
        event pool-start "$victim (pid ${POOL_PIDS[$victim]})"
        next_restart=$((next_restart + RESTART_EVERY))
    fi
    if ((now >= next_sample)); then
        if ((now < END)); then sample load; else sample drain; fi
        next_sample=$((next_sample + SAMPLE_EVERY))
    fi
    sleep 0.5
done
wait "$LG_PID" || { cat "$BENCH_OUT/shares.txt" >&2; echo "loadgen failed" >&2; exit 1; }
forget "$LG_PID"
event loadgen-done "$(grep '^answered: ' "$BENCH_OUT/shares.txt")"
R=$BENCH_OUT/shares.txt

# --- the ledger ----------------------------------------------------------
answered=$(get answered "$R")
stored=0 spool=-1 prev=-1
# Until the spool reads empty (its gauge comes with the health reports) and
# the stored count stopped moving, at most 5 minutes.
for ((i = 0; i < 300; i++)); do
    "${CTL[@]}" -o json dataplane list >"$BENCH_OUT/ctl-dataplanes.json" 2>/dev/null || true
    spool=$(jq '[.[] | .spool_events] | add // 0' "$BENCH_OUT/ctl-dataplanes.json" 2>/dev/null || echo -1)
    "${CTL[@]}" -o json stats --since 1d >"$BENCH_OUT/ctl-stats.json" 2>/dev/null || true
    stored=$(jq '[.[] | .accepted + .rejected] | add // 0' "$BENCH_OUT/ctl-stats.json" 2>/dev/null || echo 0)
    if [[ $spool == 0 && $stored == "$prev" ]] && ((stored >= answered || i >= 30)); then break; fi
    prev=$stored
    sleep 1
done
sample after
event drained "spool $spool, stored $stored"
stored_acc=$(jq '[.[] | .accepted] | add // 0' "$BENCH_OUT/ctl-stats.json")
stored_rej=$(jq '[.[] | .rejected] | add // 0' "$BENCH_OUT/ctl-stats.json")
lost=$(jq '[.[] | .events_dropped] | add // 0' "$BENCH_OUT/ctl-dataplanes.json")
sql() { sqlite3 -readonly "$BENCH_OUT/switchyard.db" "$1"; }
sql_rows=$(sql "SELECT count(*) FROM share_events")
sql_dups=$(sql "SELECT count(*) - count(DISTINCT id) FROM share_events")
sql "SELECT pool, verdict, coalesce(reason, ''), count(*) FROM share_events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" \
    >"$BENCH_OUT/ledger-by-pool.txt"
sql "SELECT time_utc, from_pool, to_pool, reason FROM v_switches ORDER BY time_utc" >"$BENCH_OUT/switches.txt" 2>/dev/null || true
curl -s --max-time 3 "http://$DP_HTTP/metrics" >"$BENCH_OUT/dataplane.metrics" || true
curl -s --max-time 3 "http://$CP_HTTP/metrics" >"$BENCH_OUT/controlplane.metrics" || true
"${CTL[@]}" breaker list --site default >"$BENCH_OUT/breakers.txt" 2>&1 || true
stop "$DP_PID"
stop "$CP_PID"
for p in pool-a pool-b; do stop "${POOL_PIDS[$p]}"; done
count() { grep -cE "$1" "$2" 2>/dev/null || true; }
dp_errors=$(count ' ERROR |panicked' "$BENCH_OUT/dataplane.log")
cp_errors=$(count ' ERROR |panicked' "$BENCH_OUT/controlplane.log")
dp_warns=$(count ' WARN ' "$BENCH_OUT/dataplane.log")
cp_warns=$(count ' WARN ' "$BENCH_OUT/controlplane.log")
# by_label FILE METRIC LABEL: "value1 n1, value2 n2" of a counter's series.
by_label() {
    awk -v n="$2" -v l="$3" '$1 ~ ("^" n "{") && match($1, l "=\"[^\"]*\"") {
        s[substr($1, RSTART + length(l) + 2, RLENGTH - length(l) - 3)] += $NF }
        END { for (k in s) printf "%s%s %d", (o++ ? ", " : ""), k, s[k] }' "$1"
}

# --- the report ------------------------------------------------------------
SLOPES=$BENCH_OUT/slopes.txt
slopes "$SAMPLES" >"$SLOPES"

unanswered=$(get unanswered "$R")
errors=$(get errors "$R")
ok=1
verdict() { if [[ $1 == "$2" ]]; then echo "equal"; else echo "DIFFER"; fi; }
{
    echo
    echo "Soak: $MINERS miners, $RATE shares/s, $SOAK_MINUTES min from $START_UTC ($(nproc) cores; raw output in $BENCH_OUT)"
    printf '%-46s %s\n' "load average at the start / the end" "$LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-46s %s\n' "switches (ctl override / clear), failed" "$switches, $switch_failures"
    printf '%-46s %s\n' "pool restarts (SIGKILL, ${RESTART_DOWN} s down)" "$restarts"
    printf '%-46s %s\n' "route changes in the ledger (v_switches)" "$(wc -l <"$BENCH_OUT/switches.txt")"
    printf '%-46s %s\n' "shares sent / answered" "$(get sent_all "$R") / $answered"
    printf '%-46s %s\n' "  accepted / rejected" "$(get accepted "$R") / $(get rejected "$R")"
    printf '%-46s %s\n' "unanswered / miner connections lost (target 0)" "$unanswered / $errors"
    printf '%-46s %s\n' "answer latency p50 / p99 / max (us)" "$(get p50_us "$R") / $(get p99_us "$R") / $(get max_us "$R")"
    printf '%-46s %s\n' "CPU (cores): data plane / control plane / loadgen" "$(get cpu_dataplane "$R") / $(get cpu_controlplane "$R") / $(get cpu_loadgen "$R")"
    printf '%-46s %s\n' "ledger: stored (ctl stats) vs answered" "$stored vs $answered ($(verdict "$stored" "$answered"))"
    printf '%-46s %s\n' "  accepted stored vs told" "$stored_acc vs $(get accepted "$R") ($(verdict "$stored_acc" "$(get accepted "$R")"))"
    printf '%-46s %s\n' "  rejected stored vs told" "$stored_rej vs $(get rejected "$R") ($(verdict "$stored_rej" "$(get rejected "$R")"))"
    printf '%-46s %s\n' "  share_events rows (SQL) / duplicate ids" "$sql_rows / $sql_dups ($(verdict "$sql_rows" "$answered"))"
    printf '%-46s %s\n' "  spooled / lost events at the end" "$spool / $lost"
    printf '%-46s %s\n' "after the miners left: DP RSS KiB / fds / threads" \
        "$(awk -F, '$3 == "after" { print $5 " / " $6 " / " $7 }' "$SAMPLES" | tail -1)"
    printf '%-46s %s\n' "ERROR / WARN lines: data plane, control plane" "$dp_errors / $dp_warns, $cp_errors / $cp_warns"
    printf '%-46s %s\n' "data plane: route changes by reason" "$(by_label "$BENCH_OUT/dataplane.metrics" switchyard_pool_switches_total reason)"
    printf '%-46s %s\n' "  pool connects by result" "$(by_label "$BENCH_OUT/dataplane.metrics" switchyard_upstream_connect_attempts_total result)"
    printf '%-46s %s\n' "  miner disconnects by cause" "$(by_label "$BENCH_OUT/dataplane.metrics" switchyard_miner_disconnects_total cause)"
    echo "rejections by pool and reason (ledger): $(awk -F'|' '$2 != "accepted" { printf "%s %s %s: %s; ", $1, $2, $3, $4 }' "$BENCH_OUT/ledger-by-pool.txt")"
    echo "series (sampled every $SAMPLE_EVERY s; CSV in $SAMPLES):"
    sed 's/^/  /' "$SLOPES"
} | tee "$BENCH_OUT/summary.txt"
if ((unanswered > 0)); then echo "FAIL: $unanswered shares unanswered" >&2; ok=0; fi
if [[ $stored != "$answered" || $sql_rows != "$answered" || $stored_acc != "$(get accepted "$R")" ]]; then
    echo "FAIL: the ledger differs from what the miners were answered" >&2
    ok=0
fi
((ok == 1)) || exit 1
echo "soak ok" >&2
