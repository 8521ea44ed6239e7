#!/usr/bin/env bash
# The project's test command: builds the Kubernetes test tools if they are
# not built yet (scripts/kube-tools.sh), then runs the unit and integration
# tests. Integration tests start a real control plane (etcd, kube-apiserver,
# kube-controller-manager) on loopback; see README.md, section Tests.
#
# With arguments, runs `cargo test` with those instead of `--all-targets`,
# e.g. `scripts/test.sh --test control_plane_smoke`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${MEETINGS_KUBE_BIN:-}" ]; then
  MEETINGS_KUBE_BIN="$(bash scripts/kube-tools.sh | tail -n 1)"
  export MEETINGS_KUBE_BIN
fi

if [ "$#" -eq 0 ]; then
  set -- --all-targets
fi
cargo test "$@"
