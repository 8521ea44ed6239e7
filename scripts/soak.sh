#!/usr/bin/env bash
# The long fault soak: tests/chaos.rs with hundreds of rooms over minutes,
# in release mode. Sizes: SOAK_ROOMS (300), SOAK_SECONDS (300),
# SOAK_CONVERGE_SECONDS (300), SOAK_SEED (8). Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_ROOMS="${SOAK_ROOMS:-300}"
export SOAK_SECONDS="${SOAK_SECONDS:-300}"
export SOAK_CONVERGE_SECONDS="${SOAK_CONVERGE_SECONDS:-300}"
export SOAK_SEED="${SOAK_SEED:-8}"
export SOAK_STRICT_DELETION="${SOAK_STRICT_DELETION:-1}"
exec cargo test --release --test chaos "$@" -- --nocapture
