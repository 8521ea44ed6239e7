#!/usr/bin/env bash
# A local demo on built-in defaults, with no cluster and no credentials:
# starts a Kubernetes control plane on loopback, the Meetings API simulator
# and the operator, applies examples/manifests/, waits for the rooms to be
# Ready and shows them with kubectl. Stops everything at the end, or keeps
# it running (printing the KUBECONFIG to use) with --keep.
#
# Usage: scripts/demo.sh [--keep]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

keep=false
case "${1:-}" in
  --keep) keep=true ;;
  "") ;;
  -h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "unknown argument: $1 (try --help)" >&2
    exit 2
    ;;
esac

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

say "Building the Kubernetes tools (first time only) and the operator"
MEETINGS_KUBE_BIN="$(bash scripts/kube-tools.sh --control-plane | tail -n 1)"
export MEETINGS_KUBE_BIN
export PATH="$MEETINGS_KUBE_BIN:$PATH"
cargo build --quiet --bin meetings-operator --example control_plane
cargo build --quiet -p meetings-simulator --bin meetings-simulator
operator="$ROOT/target/debug/meetings-operator"
simulator="$ROOT/target/debug/meetings-simulator"

work="$(mktemp -d -t meetings-demo-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2> /dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2> /dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_file() {
  local file="$1" what="$2" i
  for i in $(seq 1 600); do
    [ -s "$file" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $what; logs are in $work" >&2
  exit 1
}

say "Starting etcd, kube-apiserver and kube-controller-manager on loopback"
export KUBECONFIG="$work/kubeconfig"
"$ROOT/target/debug/examples/control_plane" --kubeconfig "$KUBECONFIG" > "$work/control-plane.log" 2>&1 &
pids+=($!)
wait_for_file "$KUBECONFIG" "the control plane"

say "Starting the Meetings API simulator"
"$simulator" --listen 127.0.0.1:0 --write-credentials "$work/credentials" > "$work/simulator.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q '^ready$' "$work/simulator.log" 2> /dev/null && break
  sleep 0.1
done
base_url="$(sed -n 's/^base_url=//p' "$work/simulator.log")"
[ -n "$base_url" ] || { echo "the simulator did not start: $(cat "$work/simulator.log")" >&2; exit 1; }
echo "Meetings API simulator at $base_url" >&2

say "Storing the application's credentials in a Secret"
kubectl create secret generic meetings-credentials -n default \
  --from-file=applicationId="$work/credentials/application_id" \
  --from-file=privateKey="$work/credentials/private.key" > /dev/null

say "Starting the operator"
RUST_LOG="${RUST_LOG:-info}" "$operator" run \
  --api-url "$base_url" \
  --default-credentials default/meetings-credentials \
  --metrics-addr 127.0.0.1:0 \
  --leader-election=false \
  --resync-period 1m > "$work/operator.log" 2>&1 &
pids+=($!)

say "Applying examples/manifests"
# Long-term rooms need an expiry within the next year: use one 30 days ahead.
expires="$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)"
kubectl apply -f examples/manifests/theme.yaml
sed "s/expiresAt: .*/expiresAt: \"$expires\"/" examples/manifests/rooms.yaml | kubectl apply -f -

say "Waiting for the theme and the rooms to become Ready"
kubectl wait --for=condition=Ready meetingtheme/acme --timeout=60s
kubectl wait --for=condition=Ready meetingroom --all --timeout=60s

say "kubectl get meetings -o wide"
kubectl get meetings -o wide

say "The host URL of weekly-sync is a credential: it lives only in its Secret"
kubectl get secret weekly-sync-host-url -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\n"}'

if $keep; then
  say "Still running. In another shell:"
  echo "export KUBECONFIG=$KUBECONFIG"
  echo "export PATH=$MEETINGS_KUBE_BIN:\$PATH"
  echo "kubectl get meetings"
  echo "Logs: $work/operator.log, $work/simulator.log. Ctrl-C stops everything."
  while true; do sleep 3600; done
fi
say "Stopping"
