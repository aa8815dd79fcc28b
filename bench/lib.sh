# bench/lib.sh: what the benchmark scripts share (sourced, not run): the
# child processes they started (PIDS, stopped on exit or interrupt), waiting
# for a line in a file, stopping one process, reading a loadgen RESULT
# value, a process's RSS.

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# wait_for FILE REGEX SECONDS: until a line of FILE matches.
wait_for() {
    local file=$1 re=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        if grep -qE "$re" "$file" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for /$re/ in $file:" >&2
    cat "$file" >&2 || true
    return 1
}

# stop PID: SIGTERM, wait, forget it.
stop() {
    local pid=$1 p keep=()
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# get KEY FILE: a value from the RESULT line of FILE.
get() { grep '^RESULT' "$2" | tail -1 | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# rss_kib PID: its resident memory in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start_pool NAME: a `loadgen pool` at DIFFICULTY logging to
# BENCH_OUT/NAME.pool.log; sets POOL_PID POOL_ADDR CTRL_ADDR (LOADGEN is the
# binary).
start_pool() {
    local out=$BENCH_OUT/$1.pool.log
    "$LOADGEN" pool --difficulty "$DIFFICULTY" >"$out" 2>&1 &
    POOL_PID=$!
    PIDS+=("$POOL_PID")
    wait_for "$out" '^control ' 10
    POOL_ADDR=$(awk '/^pool /{print $2}' "$out")
    CTRL_ADDR=$(awk '/^control /{print $2}' "$out")
}
