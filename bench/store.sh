#!/usr/bin/env bash
# bench/store.sh: the control plane's share-store benchmark (BENCHMARKS.md,
# "Control plane: share store").
#
# Builds `storebench` in release and runs it: 10 million synthetic share
# events through Store::insert_shares in batches of 1000 (ingest rate), then
# the operators' history queries, each 7 times (median and max), once as the
# ingest left the store and once with the most events not yet summarised.
# Prints a table against the design's targets. Takes about 3 minutes and
# about 3.5 GB in $TMPDIR (default /tmp), removed at the end.
#
# Arguments go to storebench (`--help`): --events N --batch N --workers N
# --pools N --sites N --days N --runs N --db PATH --keep --ingest-only ...
# Environment: SKIP_BUILD=1, CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p switchyard-controlplane --bin storebench
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
exec "$TARGET_DIR/release/storebench" "$@"
