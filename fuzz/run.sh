#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...]: runs every fuzz target (or the ones
# named) for SECONDS each (libFuzzer
# through cargo-fuzz on the nightly toolchain), starting from the seed
# corpora in fuzz/seeds/; fails on the first crash (its input is left in
# fuzz/artifacts/TARGET/). Needs: rustup toolchain nightly, cargo install cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
TARGETS=${*:-$(cd fuzz && cargo +nightly fuzz list)}
for t in $TARGETS; do
    corpus=fuzz/corpus/$t
    mkdir -p "$corpus"
    seeds=fuzz/seeds/$t
    [[ -d $seeds ]] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: $t for ${SECONDS_EACH}s"
    (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" -max_len=65536 -print_final_stats=1) 2>&1 |
        grep -E "^(stat::|#[0-9]+[[:space:]]+DONE|==[0-9]+==|SUMMARY|Done|thread .* panicked)" || true
    if [[ -n $(ls -A "fuzz/artifacts/$t" 2>/dev/null) ]]; then
        echo "fuzz: $t CRASHED: see fuzz/artifacts/$t" >&2
        exit 1
    fi
done
echo "fuzz: every target ($(echo $TARGETS)) ran ${SECONDS_EACH}s without a crash"
