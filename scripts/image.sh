#!/usr/bin/env bash
# Builds the operator's container image without a container engine, by the
# Dockerfile's own steps: the same static musl build of meetings-operator
# (with jemalloc), assembled into an image whose runtime stage matches the
# Dockerfile's
# (binary at /meetings-operator, user 65532:65532, port 8080, entrypoint
# /meetings-operator, command `run`, the same labels, CA certificates and a
# passwd naming nonroot, as distroless/static has). tests/image.rs fails when
# the two disagree.
#
# Also builds the pod sandbox image (`pause`) the test node needs and no
# registry can serve.
#
# The archives go to target/images/ (image archives that `ctr images import`
# and `docker load` read); the last line on stdout is that directory.
#
# Needs: the Rust target x86_64-unknown-linux-musl (`rustup target add
# x86_64-unknown-linux-musl`), musl-tools and ca-certificates
# (apt-get install musl-tools ca-certificates), and the tools
# of scripts/kube-tools.sh (`image`, `pause`).
#
# Usage: scripts/image.sh [--help]
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET=x86_64-unknown-linux-musl
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/images"
log() { echo "image.sh: $*" >&2; }

if [ -z "${MEETINGS_KUBE_BIN:-}" ]; then
  MEETINGS_KUBE_BIN="$(bash scripts/kube-tools.sh | tail -n 1)"
fi
IMAGE="$MEETINGS_KUBE_BIN/image"
for need in "$IMAGE" "$MEETINGS_KUBE_BIN/pause"; do
  [ -x "$need" ] || { log "missing $need: run scripts/kube-tools.sh"; exit 1; }
done
if ! rustup target list --installed 2> /dev/null | grep -qx "$TARGET"; then
  log "the Rust target $TARGET is missing: rustup target add $TARGET"
  exit 1
fi
command -v musl-gcc > /dev/null 2>&1 || { log "musl-gcc is missing: apt-get install musl-tools"; exit 1; }
CA_CERTS=/etc/ssl/certs/ca-certificates.crt
[ -s "$CA_CERTS" ] || { log "$CA_CERTS is missing: apt-get install ca-certificates"; exit 1; }

VERSION="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
REVISION="$(git rev-parse HEAD 2> /dev/null || echo unknown)"
# Reproducible: every entry and the image carry the last commit's time.
EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || echo 0)}"
mkdir -p "$OUT"

log "building meetings-operator for $TARGET (release)"
cargo build --quiet --release --locked --target "$TARGET" --bin meetings-operator -p meetings-operator \
  --features jemalloc
BINARY="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/release/meetings-operator"

# The Dockerfile's runtime stage, item by item.
"$IMAGE" --tag "localhost/meetings-operator:$VERSION" --out "$OUT/meetings-operator.tar" \
  --epoch "$EPOCH" --nonroot \
  --file "$BINARY:/meetings-operator:0755" \
  --file "$CA_CERTS:/etc/ssl/certs/ca-certificates.crt:0644" \
  --dir /tmp:1777 --dir /home/nonroot:0700 \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --user 65532:65532 --expose 8080/tcp \
  --entrypoint /meetings-operator --cmd run \
  --label org.opencontainers.image.title=meetings-operator \
  --label "org.opencontainers.image.description=Kubernetes operator for Vonage Meetings rooms and themes" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.revision=$REVISION" >&2

"$IMAGE" --tag localhost/meetings-pause:1 --out "$OUT/pause.tar" --epoch 0 \
  --file "$MEETINGS_KUBE_BIN/pause:/pause:0755" --user 65535:65535 --entrypoint /pause >&2

echo "localhost/meetings-operator:$VERSION" > "$OUT/meetings-operator.tag"

log "images in $OUT: $(cd "$OUT" && ls -- *.tar | tr '\n' ' ')"
echo "$OUT"
