#!/usr/bin/env bash
# Starts a Kubernetes control plane on loopback for experiments and demos:
# etcd, kube-apiserver and kube-controller-manager (the same set-up the
# integration tests use), with the CRDs of crds/ installed. Prints the
# `export KUBECONFIG=...` line to use in another shell and stays in the
# foreground; Ctrl-C stops everything and removes its files.
#
# Usage: scripts/control-plane.sh [--kubeconfig PATH]
#   --kubeconfig PATH   also write the admin kubeconfig to PATH
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${MEETINGS_KUBE_BIN:-}" ]; then
  MEETINGS_KUBE_BIN="$(bash scripts/kube-tools.sh --control-plane | tail -n 1)"
  export MEETINGS_KUBE_BIN
fi

exec cargo run --quiet --example control_plane -- "$@"
