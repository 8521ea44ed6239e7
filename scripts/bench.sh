#!/usr/bin/env bash
# Benchmark of the operator against the test control plane and the Meetings
# API simulator: convergence time against the rate-limit lower bound, API
# calls per room, steady-state reads and writes per resync period (with the
# naive one-GET-per-room design measured in the same run), the operator's
# peak RSS and CPU time, and its start-up time with the rooms present.
#
# Usage: scripts/bench.sh [OPTIONS]     (bench --help lists them all)
#   --rooms N          MeetingRooms (default 1000; e.g. 10000)
#   --latency-ms MS    latency the simulator adds to every call (default 50)
#   --rate-limit RPS   server-side rate limit; the operator's client matches it (default 50)
#   --resync-secs S    the operator's resync period (default 30)
#   --periods K        resync periods of steady state measured (default 3)
#   --out DIR          where report.json and the operator logs go
#                      (default target/bench/<unix time>)
#
# Prints a table, then the JSON report.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${MEETINGS_KUBE_BIN:-}" ]; then
  MEETINGS_KUBE_BIN="$(bash scripts/kube-tools.sh | tail -n 1)"
  export MEETINGS_KUBE_BIN
fi

cargo build --release --locked --bin meetings-operator --example bench
exec target/release/examples/bench --operator target/release/meetings-operator "$@"
