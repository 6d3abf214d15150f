#!/bin/sh
# compare.sh [N] [compare flags...]: build fleetbook and the asyncjobs peer, then alternate
# `fleetbook bench --only throughput` (one-step and 10-step runs) with the peer's no-op tasks N
# times (default 3) and print the medians in the shape of `fleetbook bench --json`, with the
# peer as baseline (ratio > 1: fleetbook ahead). Progress goes to stderr.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
n=${1:-3}
[ $# -gt 0 ] && shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$root" && go build -o "$out/fleetbook" ./cmd/fleetbook)
(cd "$here" && go build -o "$out/peer" . && go build -o "$out/compare" ./compare)
"$out/compare" -fleetbook "$out/fleetbook" -peer "$out/peer" -n "$n" "$@"
