# syntax=docker/dockerfile:1
#
# The operator as a small static image:
#   docker build -t meetings-operator:0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
# scripts/image.sh builds the same image without a container engine (the
# test node imports it); tests/image.rs checks that the two agree.
# The binary is built for x86_64-unknown-linux-musl (fully static), with
# jemalloc as its allocator (the benchmark's choice: less CPU and RSS than
# musl's own), and runs as the non-root user 65532 on distroless/static.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
ARG TARGET=x86_64-unknown-linux-musl
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add "${TARGET}"
WORKDIR /build

# Dependencies first, against empty sources: this layer stays cached until
# Cargo.toml or Cargo.lock change.
# The simulator is a workspace member the image never builds: its manifest
# and empty sources only let cargo load the workspace.
COPY Cargo.toml Cargo.lock ./
COPY simulator/Cargo.toml simulator/
RUN mkdir -p src simulator/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > simulator/src/main.rs \
    && touch src/lib.rs simulator/src/lib.rs \
    && cargo build --release --locked --target "${TARGET}" --bin meetings-operator --features jemalloc \
    && rm -rf src

# The operator itself. Sources from the build context keep their mtimes,
# which may be older than the placeholder build: touch them so that cargo
# rebuilds the crate.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --target "${TARGET}" --bin meetings-operator --features jemalloc \
    && cp "target/${TARGET}/release/meetings-operator" /meetings-operator

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="meetings-operator" \
      org.opencontainers.image.description="Kubernetes operator for Vonage Meetings rooms and themes" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /meetings-operator /meetings-operator
USER 65532:65532
# Metrics, /healthz and /readyz (--metrics-addr).
EXPOSE 8080
ENTRYPOINT ["/meetings-operator"]
CMD ["run"]
