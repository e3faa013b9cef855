#!/usr/bin/env bash
# Measures what shadow mode costs SubmitReferral: starts frontdoor-server on
# loopback, proposes and approves a candidate rule set (the default set with
# another title: a different version that decides identically), then
# alternates runs of frontdoor-load --rpc=submit with shadow evaluation off
# and on, and prints each run's median and p99 and the ratio of medians.
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

port=$(( 40000 + RANDOM % 20000 ))
addr="127.0.0.1:$port"
"$SERVER" --listen="$addr" --http_listen= --data_dir="$work/data" \
  --watch_rules=false > "$work/server.log" 2>&1 &
pid=$!
"$LOAD" --target="$addr" --wait_serving --timeout=60s > /dev/null

cp -r triage-rules/community-spa "$work/candidate"
sed -i 's/^title: .*/title: Community SPA default triage rules (shadow candidate)/' \
  "$work/candidate/ruleset.yaml"
version=$("$CLI" rules propose "$work/candidate" --server="$addr" --actor=rule-author --json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
"$CLI" rules approve "$version" --server="$addr" --actor=safety-officer > /dev/null

run() {  # run LABEL
  "$LOAD" --target="$addr" --rpc=submit --concurrency="$CONCURRENCY" \
    --duration="$DURATION" --warmup=1s | grep '^RESULT' | sed "s/^RESULT/$1/"
}
for i in $(seq "$ROUNDS"); do
  "$CLI" rules shadow stop --server="$addr" --actor=ops > /dev/null 2>&1 || true
  run "off"
  "$CLI" rules shadow start "$version" --server="$addr" --actor=ops > /dev/null
  run "on "
done | tee "$work/results.txt"
"$CLI" rules shadow report --server="$addr"
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
