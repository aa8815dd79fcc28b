#!/usr/bin/env bash
# The chaos suite (issue 16 item 2): the real dataplane and controlplane
# binaries and scripted pools on separate hosts (network namespaces joined
# by veth pairs), faults on the links (nftables, `ss -K`, chaos/wire.py for
# latency and loss), SIGKILLs, a full spool disk, hostile pools. See
# RELIABILITY.md, "Chaos suite".
#
#   chaos/run.sh [--full] [TEST FILTER / cargo test args...]
#
# --full cuts the control plane's link for the issue's full 10 minutes
# (SWITCHYARD_CHAOS_FULL=1) instead of 60 s. Needs root, iproute2 (ip, ss),
# nftables (nft) and python3; CI installs them in .ci/run and runs these
# tests as part of `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--full" ]; then
    export SWITCHYARD_CHAOS_FULL=1
    shift
fi
if [ "$(id -u)" != 0 ]; then
    echo "chaos/run.sh: needs root (network namespaces, nftables, tmpfs mounts)" >&2
    exit 1
fi
missing=
for tool in ip ss nft python3; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "chaos/run.sh: missing:$missing (apt-get install iproute2 nftables python3)" >&2
    exit 1
fi
# A missing prerequisite fails a test instead of skipping it.
export SWITCHYARD_CI=1
exec cargo test -p switchyard-tests --test chaos -- --nocapture "$@"
