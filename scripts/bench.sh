#!/usr/bin/env bash
# Benchmark of the operator against the test control plane and the Meetings
# API simulator: convergence time against the rate-limit lower bound, API
# calls per room, steady-state reads and writes per resync period (with the
# naive one-GET-per-room design measured in the same run), the operator's
# peak RSS per phase and CPU time, and its start-up with the rooms present
# against a plain LIST of them. Every target is printed against its bound.
#
# Usage: scripts/bench.sh [--build musl|glibc] [OPTIONS]     (bench --help lists them all)
#   --build B          the operator build to measure: musl (default), the
#                      static build with jemalloc the image ships
#                      (scripts/image.sh), or glibc, the host's dynamic
#                      build; must come first
#   --rooms N          MeetingRooms (default 1000; e.g. 10000)
#   --namespaces N     namespaces they are spread over (default 10)
#   --themes N         MeetingThemes (default 5)
#   --latency-ms MS    latency the simulator adds to every call (default 50)
#   --rate-limit RPS   server-side rate limit; the operator's client matches it (default 50)
#   --server-burst B   the server's bucket (default: the rate)
#   --resync-secs S    the operator's resync period (default 30, or three
#                      listings' time if longer)
#   --periods K        listings of steady state measured (default 3)
#   --rss-bound-mib M  peak RSS allowed per phase (default 64, 256 above 10,000 rooms)
#   --out DIR          where report.json, run.svg and the operator logs go
#                      (default target/bench/<unix time>)
#
# Prints a table, then the JSON report; draws the run in <out>/run.svg.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${MEETINGS_KUBE_BIN:-}" ]; then
  MEETINGS_KUBE_BIN="$(bash scripts/kube-tools.sh --control-plane | tail -n 1)"
  export MEETINGS_KUBE_BIN
fi

target_dir="${CARGO_TARGET_DIR:-target}"
build=musl
if [ "${1:-}" = "--build" ]; then
  build="${2:-}"
  shift 2
fi
case "$build" in
  musl)
    cargo build --release --locked --target x86_64-unknown-linux-musl --bin meetings-operator \
      --features jemalloc
    operator="$target_dir/x86_64-unknown-linux-musl/release/meetings-operator"
    name="musl+jemalloc"
    ;;
  glibc)
    cargo build --release --locked --bin meetings-operator
    operator="$target_dir/release/meetings-operator"
    name="glibc"
    ;;
  *)
    echo "bench.sh: --build musl or --build glibc, not ${build:-nothing}" >&2
    exit 2
    ;;
esac
cargo build --release --locked --example bench
echo "bench.sh: measuring the $build build ($operator)" >&2
exec "$target_dir/release/examples/bench" --operator "$operator" --build-name "$name" "$@"
