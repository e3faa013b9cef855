#!/usr/bin/env bash
# ctest load_smoke_test: frontdoor-load against a real frontdoor-server and
# frontdoor-echo, briefly, so that the tool behind docs/benchmarks.md is known
# to work: every RPC it measures, with replies read as views (the default)
# and parsed in full, must complete every call without an error, and every
# submission must be stored as a new, triaged referral. Timings are printed,
# never checked.
#
#   tests/load/load_smoke_test.sh LOAD ECHO SERVER CLI
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
LOAD="$1" ECHO="$2" SERVER="$3" CLI="$4"
source tests/load/lib.sh
require_built load_smoke_test "$LOAD" "$ECHO" "$SERVER" "$CLI"

with_processes frontdoor-load-smoke

make_token load_smoke_test "$CLI" "$TMP/tokens.txtpb" clinician smoke-clinician "$TMP/token"
start echo "$ECHO" --listen=127.0.0.1:0
ECHO_ADDR="$ADDR"
start server "$SERVER" --listen=127.0.0.1:0 --http_listen= --data_dir="$TMP/data" \
  --log_level=warn --tokens_file="$TMP/tokens.txtpb"
SERVER_ADDR="$ADDR"
"$LOAD" --target="$SERVER_ADDR" --wait_serving --timeout=30s >/dev/null

FAILED=0
# run NAME EXPECT ARGS...: one short frontdoor-load run that must exit 0 and
# print a line matching the extended regex EXPECT.
run() {
  local name="$1" expect="$2"
  shift 2
  echo "== $name"
  if ! "$LOAD" --concurrency=8 --warmup=0s --requests=200 "$@" >"$TMP/$name.txt" 2>&1; then
    echo "FAIL: $name exited non-zero" >&2
    FAILED=1
  elif ! grep -Eq "$expect" "$TMP/$name.txt"; then
    echo "FAIL: $name printed no line matching /$expect/" >&2
    FAILED=1
  fi
  sed 's/^/  /' "$TMP/$name.txt"
}

run echo 'RESULT rpc=echo .* calls=200 errors=0' --target="$ECHO_ADDR" --rpc=echo
for replies in false true; do
  run "submit-parse_replies=$replies" '^  stored as TRIAGED=200$' --target="$SERVER_ADDR" \
    --token_file="$TMP/token" --rpc=submit --parse_replies="$replies"
  run "get-parse_replies=$replies" 'RESULT rpc=get .* calls=200 errors=0' \
    --target="$SERVER_ADDR" --token_file="$TMP/token" --rpc=get --get_pool=20 \
    --parse_replies="$replies"
done
run worklist 'RESULT rpc=worklist .* calls=200 errors=0' --target="$SERVER_ADDR" \
  --token_file="$TMP/token" --rpc=worklist

# A call the server refuses is counted as an error and fails the run.
echo "== get without a token (must fail)"
if "$LOAD" --target="$SERVER_ADDR" --rpc=get --get_pool=1 --requests=5 --warmup=0s \
    >"$TMP/refused.txt" 2>&1; then
  echo "FAIL: a run whose calls were refused exited 0" >&2
  sed 's/^/  /' "$TMP/refused.txt"
  FAILED=1
fi

[[ "$FAILED" == 0 ]] && echo "load_smoke_test: OK"
exit "$FAILED"
