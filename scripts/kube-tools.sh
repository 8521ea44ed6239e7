#!/usr/bin/env bash
# Builds the Kubernetes tools the tests and the local control plane use:
# kube-apiserver, kube-controller-manager, kubectl, etcd and helm, from the
# pinned Go modules in tools/{kube,etcd,helm}, `health` (tools/health:
# kstatus and an Argo CD Lua health check run against an object) and
# `promtool` (tools/promtool: checks the chart's alerting rules).
# kube-apiserver and kube-controller-manager also at the oldest Kubernetes
# minor the chart supports (tools/kube-older), in <bin dir>/older/ beside
# links to the other tools: point MEETINGS_KUBE_BIN there to test against it.
# For the test node: kubelet, kube-proxy and kube-scheduler (tools/node),
# containerd, its runc shim and ctr (tools/containerd), runc (tools/runc,
# cgo with libseccomp), the CNI plugins bridge, host-local, loopback and
# portmap (tools/cni), the cluster DNS server coredns (tools/coredns), the
# pod sandbox process `pause` (tools/pause) and `image`, which assembles
# container images (tools/image).
#
# The binaries go to a versioned cache directory:
#   ${MEETINGS_TOOLS_DIR:-$HOME/.cache/meetings-operator/kube-tools}/<version-key>/bin
# where <version-key> is derived from the pinned versions, the Go version and
# a hash of the tools' go.mod/go.sum files. Binaries already built there are
# skipped. Progress goes to stderr; the last line on stdout is the bin dir.
#
# Usage:
#   scripts/kube-tools.sh              build what is missing, print the bin dir
#   scripts/kube-tools.sh --print-dir  only print the bin dir (builds nothing)
#   scripts/kube-tools.sh --control-plane  build only etcd, kube-apiserver,
#                                      kube-controller-manager, kubectl, helm
#                                      (what the demo and the benchmark need)
#   scripts/kube-tools.sh --check      exit 0 if every binary is built, else 1
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_SRC="$ROOT/tools"

mode=build
case "${1:-}" in
  "") ;;
  --print-dir) mode=print ;;
  --check) mode=check ;;
  --control-plane) mode=control-plane ;;
  -h | --help)
    sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "unknown argument: $1 (try --help)" >&2
    exit 2
    ;;
esac

log() { echo "kube-tools: $*" >&2; }

if ! command -v go > /dev/null 2>&1; then
  log "the Go toolchain (go) is required; see README.md, section Tests"
  exit 1
fi

# Version of a required module, read from a wrapper module's go.mod.
modver() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }
                 $1 == "require" && $2 == m { print $3; exit }' "$TOOLS_SRC/$1/go.mod"
}

K8S_VERSION="$(modver kube k8s.io/kubernetes)"
ETCD_VERSION="$(modver etcd go.etcd.io/etcd/server/v3)"
HELM_VERSION="$(modver helm helm.sh/helm/v3)"
PROMTOOL_VERSION="$(modver promtool github.com/prometheus/prometheus)"
for v in K8S_VERSION ETCD_VERSION HELM_VERSION PROMTOOL_VERSION; do
  if [ -z "${!v}" ]; then
    log "could not read $v from tools/*/go.mod"
    exit 1
  fi
done
GO_VERSION="$(go env GOVERSION)"

# The minor of a version such as v1.37.2.
minor_of() {
  local minor="${1#v}"
  minor="${minor#*.}"
  echo "${minor%%.*}"
}
# The linker flags of a Kubernetes build: stripped, and the version it reports.
k8s_ldflags_for() {
  local version="$1" minor flags="-s -w" pkg
  minor="$(minor_of "$version")"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1"
    flags+=" -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}
k8s_minor="$(minor_of "$K8S_VERSION")"
k8s_ldflags="$(k8s_ldflags_for "$K8S_VERSION")"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"


src_hash="$(cat "$TOOLS_SRC"/kube/go.mod "$TOOLS_SRC"/kube/go.sum \
  "$TOOLS_SRC"/etcd/go.mod "$TOOLS_SRC"/etcd/go.sum \
  "$TOOLS_SRC"/helm/go.mod "$TOOLS_SRC"/helm/go.sum \
  <(echo "$k8s_ldflags|$helm_ldflags|CGO_ENABLED=0") | sha256sum | cut -c1-12)"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_${GO_VERSION}_${src_hash}"
CACHE="${MEETINGS_TOOLS_DIR:-$HOME/.cache/meetings-operator/kube-tools}"
BIN="$CACHE/$KEY/bin"

# health and promtool are small and change on their own: each binary is named
# by a hash of its module (go.mod, go.sum, any *.go) and its build flags, so a
# change rebuilds it alone; `health` and `promtool` link to the current ones.
hashed() {
  local name="$1" dir="$2" ldflags="$3"
  local hash
  hash="$(cat "$TOOLS_SRC/$dir"/go.mod "$TOOLS_SRC/$dir"/go.sum \
    $(find "$TOOLS_SRC/$dir" -maxdepth 1 -name '*.go' | sort) \
    <(echo "$ldflags|CGO_ENABLED=0") | sha256sum | cut -c1-12)"
  echo "$name-$hash"
}
health_ldflags="-s -w"
HEALTH="$(hashed health health "$health_ldflags")"
promtool_ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMTOOL_VERSION"
PROMTOOL="$(hashed promtool promtool "$promtool_ldflags")"

# The node's tools, each named by the hash of its module and flags as above.
CONTAINERD_VERSION="$(modver containerd github.com/containerd/containerd/v2)"
RUNC_VERSION="$(modver runc github.com/opencontainers/runc)"
containerd_ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
runc_ldflags="-s -w -X main.version=${RUNC_VERSION#v}"
runc_tags="seccomp urfave_cli_no_docs"
NODE_K8S="$(hashed node node "$k8s_ldflags")"
CONTAINERD="$(hashed containerd containerd "$containerd_ldflags")"
RUNC="$(hashed runc runc "$runc_ldflags|$runc_tags|CGO_ENABLED=1")"
CNI="$(hashed cni cni "-s -w")"
PAUSE="$(hashed pause pause "-s -w")"
IMAGE="$(hashed image image "-s -w")"
COREDNS="$(hashed coredns coredns "-s -w")"
# The oldest supported Kubernetes, in older/ (see the header).
OLDER_K8S_VERSION="$(modver kube-older k8s.io/kubernetes)"
older_ldflags="$(k8s_ldflags_for "$OLDER_K8S_VERSION")"
OLDER_K8S="$(hashed kube-older kube-older "$older_ldflags")"
OLDER_TOOLS=(older/kube-apiserver older/kube-controller-manager older/etcd older/kubectl
  older/helm older/health older/promtool)
NODE_TOOLS=(kubelet kube-proxy kube-scheduler containerd containerd-shim-runc-v2 ctr runc
  bridge host-local loopback portmap coredns pause image)

ALL=(etcd kube-apiserver kube-controller-manager kubectl helm "$HEALTH" "$PROMTOOL" "${NODE_TOOLS[@]}"
  "${OLDER_TOOLS[@]}")

all_built() {
  local b
  for b in "${ALL[@]}"; do
    [ -x "$BIN/$b" ] || return 1
  done
}

case "$mode" in
  print)
    echo "$BIN"
    exit 0
    ;;
  check)
    all_built
    exit $?
    ;;
esac

mkdir -p "$BIN/older"
# One build at a time per cache entry, even if several callers race.
exec 9> "$CACHE/$KEY/.lock"
flock 9

# build NAME MODULE_DIR PACKAGE LDFLAGS [GO_BUILD_ARGS...]
# CGO_ENABLED=0 unless the caller sets CGO=1.
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" start tmp
  shift 4
  tmp="$(dirname "$BIN/$name")/.$(basename "$name").tmp"
  if [ -x "$BIN/$name" ]; then
    log "$name: already built"
    return 0
  fi
  log "$name: building $pkg (this can take several minutes)"
  start=$SECONDS
  # Build to a temporary name so that an interrupted build never leaves a
  # binary that looks complete.
  (cd "$TOOLS_SRC/$dir" &&
    CGO_ENABLED="${CGO:-0}" go build -mod=readonly -buildvcs=false -trimpath -ldflags="$ldflags" \
      "$@" -o "$tmp" "$pkg")
  mv -f "$tmp" "$BIN/$name"
  log "$name: built in $((SECONDS - start))s"
}

total_start=$SECONDS
# Sequential on purpose: each `go build` already uses every core.
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
build kube-apiserver kube k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kube-controller-manager kube k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
build kubectl kube k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build helm helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
if [ "$mode" = control-plane ]; then
  log "control-plane tools ready in $BIN ($((SECONDS - total_start))s)"
  echo "$BIN"
  exit 0
fi
# build_linked LINK HASHED_PREFIX MODULE_DIR PACKAGE LDFLAGS [GO_BUILD_ARGS...]
# builds LINK-<hash of HASHED_PREFIX> and points LINK at it.
build_linked() {
  local link="$1" hashed_name="$1-${2##*-}"
  shift 2
  build "$hashed_name" "$@"
  ln -sfn "$hashed_name" "$BIN/$link"
}
build_linked health "$HEALTH" health . "$health_ldflags"
build_linked promtool "$PROMTOOL" promtool github.com/prometheus/prometheus/cmd/promtool "$promtool_ldflags"
build_linked image "$IMAGE" image . "-s -w"
build_linked pause "$PAUSE" pause . "-s -w"
for cmd in kubelet kube-proxy kube-scheduler; do
  build_linked "$cmd" "$NODE_K8S" node "k8s.io/kubernetes/cmd/$cmd" "$k8s_ldflags"
done
for cmd in containerd containerd-shim-runc-v2 ctr; do
  build_linked "$cmd" "$CONTAINERD" containerd "github.com/containerd/containerd/v2/cmd/$cmd" "$containerd_ldflags"
done
for plugin in main/bridge ipam/host-local main/loopback meta/portmap; do
  build_linked "${plugin#*/}" "$CNI" cni "github.com/containernetworking/plugins/plugins/$plugin" "-s -w"
done
if ! pkg-config --exists libseccomp 2> /dev/null; then
  log "runc needs libseccomp's headers: apt-get install libseccomp-dev pkg-config"
  exit 1
fi
CGO=1 build_linked runc "$RUNC" runc github.com/opencontainers/runc "$runc_ldflags" -tags "$runc_tags"
build_linked coredns "$COREDNS" coredns github.com/coredns/coredns "-s -w"
for cmd in kube-apiserver kube-controller-manager; do
  build "older/$cmd-${OLDER_K8S##*-}" kube-older "k8s.io/kubernetes/cmd/$cmd" "$older_ldflags"
  ln -sfn "$cmd-${OLDER_K8S##*-}" "$BIN/older/$cmd"
done
# The other tools work with either version.
for tool in etcd kubectl helm health promtool; do
  ln -sfn "../$tool" "$BIN/older/$tool"
done
log "all tools ready in $BIN ($((SECONDS - total_start))s)"
echo "$BIN"
