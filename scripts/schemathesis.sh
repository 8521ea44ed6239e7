#!/usr/bin/env bash
# Fuzzes the Meetings API simulator against api/meetings-openapi.yaml with Schemathesis.
#
# Steps: install Schemathesis into a cached virtualenv (once per version), build the
# binary, start `meetings-simulator` on a free port with generated credentials,
# fetch a bearer token from the simulator's control API, seed a room, themes, a session and
# recordings so operations on existing objects are reached, and run Schemathesis against a
# corrected copy of the spec (see patch_spec below). Exits non-zero when Schemathesis
# reports a failure or anything else goes wrong.
#
# Environment:
#   SCHEMATHESIS_VERSION       Schemathesis release to use (default 4.32.5)
#   MEETINGS_CACHE_DIR         cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/meetings-operator)
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation (default 20)
#   SCHEMATHESIS_CHECKS        checks to run (default not_a_server_error,response_schema_conformance,content_type_conformance)
#   SCHEMATHESIS_BASE_PATH     API base path to test (default /v1/meetings)
#   SCHEMATHESIS_SEED          random seed (default 1)
#   SCHEMATHESIS_EXTRA_ARGS    extra arguments passed to `schemathesis run`
#   SKIP_BUILD=1               use the already built binary
#   MEETINGS_SIMULATOR_BIN     binary to run (default target/debug/meetings-simulator)
#
# Usage: scripts/schemathesis.sh [--help]
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
CACHE="${MEETINGS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meetings-operator}"
VENV="$CACHE/schemathesis-$VERSION"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-20}"
CHECKS="${SCHEMATHESIS_CHECKS:-not_a_server_error,response_schema_conformance,content_type_conformance}"
BASE_PATH="${SCHEMATHESIS_BASE_PATH:-/v1/meetings}"
BIN="${MEETINGS_SIMULATOR_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/meetings-simulator}"

log() { echo "schemathesis.sh: $*" >&2; }

install_schemathesis() {
  if "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$VERSION"; then
    return
  fi
  log "installing schemathesis $VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
}

# The spec's CallbackUrls patterns are written '^https?:\\/\\/.*$' in single quotes, so read
# literally they reject every real URL; and its timestamps are typed `format: date` although
# they carry full ISO 8601 date-times. Test against a copy with both corrected.
patch_spec() {
  python3 - "$ROOT/api/meetings-openapi.yaml" "$1" <<'PY'
import re
import sys

source, target = sys.argv[1], sys.argv[2]
text = open(source, encoding="utf-8").read()
bad_pattern = "'^https?:\\\\/\\\\/.*$'"
count = text.count(bad_pattern)
if count == 0:
    sys.exit("schemathesis.sh: the CallbackUrls pattern changed; review patch_spec")
text = text.replace(bad_pattern, "'^https?://.*$'")
text = re.sub(r"format: date$", "format: date-time", text, flags=re.M)
open(target, "w", encoding="utf-8").write(text)
PY
}

WORK="$(mktemp -d)"
SIM_PID=""
cleanup() {
  if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

install_schemathesis

if [[ "${SKIP_BUILD:-}" != "1" ]]; then
  log "building meetings-simulator"
  (cd "$ROOT" && cargo build --quiet -p meetings-simulator --bin meetings-simulator)
fi
if [[ ! -x "$BIN" ]]; then
  log "no binary at $BIN"
  exit 1
fi

log "starting the simulator"
"$BIN" --listen 127.0.0.1:0 --write-credentials "$WORK/credentials" \
  >"$WORK/simulator.out" 2>"$WORK/simulator.err" &
SIM_PID=$!
for _ in $(seq 1 600); do
  if grep -qx ready "$WORK/simulator.out" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$SIM_PID" 2>/dev/null; then
    log "the simulator exited early:"
    cat "$WORK/simulator.err" >&2
    exit 1
  fi
  sleep 0.1
done
if ! grep -qx ready "$WORK/simulator.out"; then
  log "the simulator did not become ready"
  cat "$WORK/simulator.err" >&2
  exit 1
fi
LISTENING="$(sed -n 's/^listening=//p' "$WORK/simulator.out")"
CONTROL="$(sed -n 's/^control_url=//p' "$WORK/simulator.out")"
log "simulator at $LISTENING"

TOKEN="$(python3 - "$CONTROL/token?ttl_secs=7200" <<'PY'
import json
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
    print(json.load(response)["token"])
PY
)"

patch_spec "$WORK/meetings-openapi.yaml"

# Existing objects for path parameters; deletions get objects of their own.
log "seeding objects"
python3 - "$LISTENING$BASE_PATH" "$CONTROL" "$TOKEN" >"$WORK/schemathesis.toml" <<'PY'
import datetime
import json
import sys
import urllib.request

api, control, token = sys.argv[1:4]


def call(method, url, body=None, auth=True):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
theme = call("POST", api + "/themes", {"main_color": "#12f64e", "brand_text": "Seed"})["theme_id"]
doomed_theme = call("POST", api + "/themes", {"main_color": "#fff", "brand_text": "Doomed"})["theme_id"]
room = call("POST", api + "/rooms", {
    "display_name": "Seed",
    "type": "long_term",
    "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "theme_id": theme,
})["id"]
session = call("POST", control + "/rooms/" + room + "/sessions", auth=False)["id"]
recordings = []
for _ in range(2):
    recording = call("POST", control + "/sessions/" + session + "/recordings", auth=False)["id"]
    call("POST", control + "/recordings/" + recording + "/stop", auth=False)
    call("POST", control + "/recordings/" + recording + "/upload", auth=False)
    recordings.append(recording)

print(f"""[parameters]
room_id = "{room}"
theme_id = "{theme}"
session_id = "{session}"
recording_id = "{recordings[0]}"

[[operations]]
include-name = "DELETE /themes/{{theme_id}}"
parameters = {{ theme_id = "{doomed_theme}" }}

[[operations]]
include-name = "DELETE /recordings/{{recording_id}}"
parameters = {{ recording_id = "{recordings[1]}" }}
""")
PY

log "running schemathesis $VERSION (max $MAX_EXAMPLES examples per operation; checks: $CHECKS)"
set +e
# Run from the scratch directory so Schemathesis' caches stay out of the repository.
cd "$WORK"
# shellcheck disable=SC2086 # SCHEMATHESIS_EXTRA_ARGS is split on purpose.
"$VENV/bin/schemathesis" --no-color --config-file "$WORK/schemathesis.toml" run "$WORK/meetings-openapi.yaml" \
  --url "$LISTENING$BASE_PATH" \
  --header "Authorization: Bearer $TOKEN" \
  --checks "$CHECKS" \
  --phases examples,coverage,fuzzing \
  --max-examples "$MAX_EXAMPLES" \
  --request-timeout 10 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  ${SCHEMATHESIS_EXTRA_ARGS:-}
status=$?
set -e
cd "$ROOT"
if ! kill -0 "$SIM_PID" 2>/dev/null || grep -q panicked "$WORK/simulator.err"; then
  log "the simulator died or panicked:"
  cat "$WORK/simulator.err" >&2
  exit 1
fi
exit "$status"
