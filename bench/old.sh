#!/usr/bin/env bash
# bench/old.sh REV: builds the release `dataplane` of an older revision in
# its own worktree and target directory (target/old-REV, kept between runs)
# and prints the binary's path, for `OLD_DATAPLANE=$(bench/old.sh 5a54f22)
# bench/run.sh` (issue 15: every figure side by side with the November
# binary, measured in the same run). A cold build takes 10-15 minutes on
# 2 cores; later calls reuse it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REV=${1:?usage: bench/old.sh REV}
SHORT=$(git -C "$ROOT" rev-parse --short "$REV")
TREE=$ROOT/target/old-$SHORT/src
BIN=$ROOT/target/old-$SHORT/target/release/dataplane
if [[ ! -x $BIN ]]; then
    if [[ ! -d $TREE ]]; then
        mkdir -p "$(dirname "$TREE")"
        git -C "$ROOT" worktree add --detach "$TREE" "$SHORT" >&2
    fi
    CARGO_TARGET_DIR=$ROOT/target/old-$SHORT/target cargo build --release --locked \
        --manifest-path "$TREE/Cargo.toml" -p switchyard-dataplane --bin dataplane >&2
fi
echo "$BIN"
