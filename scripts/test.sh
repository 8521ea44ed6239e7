#!/usr/bin/env bash
# The project's test command. Builds the Kubernetes test tools if they are not
# built yet (scripts/kube-tools.sh), then runs, in order:
#   1. cargo fmt --check and cargo clippy --workspace --all-targets -- -D warnings
#   2. the operator's image, without a container engine (scripts/image.sh)
#   3. every unit and integration test of the operator and the simulator,
#      several test binaries at a time (scripts/run-tests.py; the same binaries
#      `cargo test --workspace --all-targets` runs); integration tests start a
#      real control plane (etcd, kube-apiserver, kube-controller-manager) on
#      loopback and the Meetings API simulator, answering as the spec says;
#      tests/node.rs adds a node (containerd, kubelet, kube-proxy, CoreDNS) in
#      namespaces of its own and installs the chart with the image of step 2.
#      The operator-level suites run again against the simulator answering as
#      the live service did (MEETINGS_SIM_WORLD=live), and the suites that
#      exercise the API server's handling of the CRDs, the chart and the
#      controllers run again against the oldest Kubernetes the chart supports
#      (the control plane in "$MEETINGS_KUBE_BIN/older", see kube-tools.sh)
#   4. the committed CRDs are current (meetings-operator crd --check)
#   5. hadolint on the Dockerfile (scripts/lint-image.sh)
#   6. the spec-driven fuzzer Schemathesis against the simulator
#      (scripts/schemathesis.sh)
#
# MEETINGS_TEST_JOBS sets how many test binaries run at a time (default 3).
#
# With arguments, only `cargo test "$@"` runs, e.g.
# `scripts/test.sh --test control_plane_smoke`; prefix MEETINGS_SIM_WORLD=live
# to run an operator-level suite in the live world.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${MEETINGS_KUBE_BIN:-}" ]; then
  MEETINGS_KUBE_BIN="$(bash scripts/kube-tools.sh | tail -n 1)"
  export MEETINGS_KUBE_BIN
fi

if [ "$#" -gt 0 ]; then
  exec cargo test "$@"
fi

# Suites that run the operator against the simulator: they run in both worlds.
OPERATOR_SUITES=(operator room_lifecycle health adoption logos callbacks chaos leader_election secrets bad_input node)
# Suites that run again against the oldest supported Kubernetes.
OLDER_KUBE_SUITES=(control_plane_smoke admission chart health operator)

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "the operator's image (scripts/image.sh)"
bash scripts/image.sh > /dev/null
step "every test binary; the operator-level suites in both worlds, some on the oldest Kubernetes too (scripts/run-tests.py)"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
again=()
for suite in "${OPERATOR_SUITES[@]}"; do again+=(--live "$suite"); done
for suite in "${OLDER_KUBE_SUITES[@]}"; do again+=(--older "$suite"); done
python3 scripts/run-tests.py --older-bin "$MEETINGS_KUBE_BIN/older" "${again[@]}" 2>&1 | tee "$results"
step "committed CRDs are current"
# The binary `cargo test` built (with the same features, so nothing is rebuilt).
"${CARGO_TARGET_DIR:-target}/debug/meetings-operator" crd --check crds --check charts/meetings-operator/files/crds
step "hadolint Dockerfile"
bash scripts/lint-image.sh
step "Schemathesis against the simulator"
# Builds the simulator binary (its library is already built by the tests).
bash scripts/schemathesis.sh

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$results"
