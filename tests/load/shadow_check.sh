#!/usr/bin/env bash
# Measures what shadow mode costs SubmitReferral: starts frontdoor-server on
# loopback, proposes and approves a candidate rule set (the default set with
# another title: a different version that decides identically), then
# alternates runs of frontdoor-load --rpc=submit with shadow evaluation off
# and on, and prints each run's median and p99 and the ratio of medians.
# Callers authenticate with tokens made by `frontdoor admin token create`: a
# rule author proposes, a safety officer approves and starts and stops the
# shadow (two people), a clinician submits.
#
# Usage: tests/load/shadow_check.sh   (env: BUILD_DIR=build, ROUNDS=3,
#        CONCURRENCY=1, DURATION=5s)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
ROUNDS="${ROUNDS:-3}"
CONCURRENCY="${CONCURRENCY:-1}"
DURATION="${DURATION:-5s}"
SERVER="$BUILD_DIR/services/server/frontdoor-server"
CLI="$BUILD_DIR/services/cli/frontdoor"
LOAD="$BUILD_DIR/tests/load/frontdoor-load"

work="$(mktemp -d)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

tokens="$work/tokens.txtpb"
source tests/load/lib.sh
require_built shadow_check "$SERVER" "$CLI" "$LOAD"
for who in rule_author:shadow-rule-author safety_officer:shadow-safety-officer \
  clinician:shadow-clinician; do
  make_token shadow_check "$CLI" "$tokens" "${who%%:*}" "${who#*:}" "$work/${who%%:*}.token"
done
cli_as() {  # cli_as ROLE ARGS...: the CLI with ROLE's token
  local role="$1"
  shift
  FRONTDOOR_TOKEN_FILE="$work/$role.token" "$CLI" "$@"
}

port=$(( 40000 + RANDOM % 20000 ))
addr="127.0.0.1:$port"
"$SERVER" --listen="$addr" --http_listen= --data_dir="$work/data" \
  --watch_rules=false --tokens_file="$tokens" > "$work/server.log" 2>&1 &
pid=$!
"$LOAD" --target="$addr" --wait_serving --timeout=60s > /dev/null

cp -r triage-rules/community-spa "$work/candidate"
sed -i 's/^title: .*/title: Community SPA default triage rules (shadow candidate)/' \
  "$work/candidate/ruleset.yaml"
version=$(cli_as rule_author rules propose "$work/candidate" --server="$addr" \
    --actor=shadow-rule-author --json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
cli_as safety_officer rules approve "$version" --server="$addr" --actor=shadow-safety-officer > /dev/null

run() {  # run LABEL
  "$LOAD" --target="$addr" --token_file="$work/clinician.token" --rpc=submit \
    --concurrency="$CONCURRENCY" --duration="$DURATION" --warmup=1s | grep '^RESULT' | sed "s/^RESULT/$1/"
}
for i in $(seq "$ROUNDS"); do
  cli_as safety_officer rules shadow stop --server="$addr" --actor=shadow-safety-officer \
    > /dev/null 2>&1 || true
  run "off"
  cli_as safety_officer rules shadow start "$version" --server="$addr" \
    --actor=shadow-safety-officer > /dev/null
  run "on "
done | tee "$work/results.txt"
cli_as safety_officer rules shadow report --server="$addr"
/usr/bin/python3 - "$work/results.txt" <<'PY'
import re, statistics, sys
p50 = {"off": [], "on": []}
for line in open(sys.argv[1]):
    m = re.search(r"p50_us=([0-9.]+)", line)
    if m:
        p50[line[:3].strip()].append(float(m.group(1)))
off, on = statistics.median(p50["off"]), statistics.median(p50["on"])
print(f"median p50 off {off:.0f} us, on {on:.0f} us: shadow adds {100 * (on / off - 1):+.1f}%")
PY
