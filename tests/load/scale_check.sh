#!/usr/bin/env bash
# Scale check of frontdoor-server with a large referral store
# (docs/benchmarks.md, "RPCs"):
#
#   tests/load/scale_check.sh            (from the source tree, after building
#                                         frontdoor-server, frontdoor-load,
#                                         frontdoor-fill and frontdoor)
#
# 1. frontdoor-fill writes SCALE_COUNT (default 1,000,000) realistic referrals
#    (bench corpus, triaged by the default rule set, matched by the default
#    directory, spread over a year; the last 14 days on worklists, the rest
#    closed) straight into DATA/referrals with the storage library (large
#    commit groups, no fsync), then flushes and closes it.
# 2. frontdoor-server starts on that data directory (127.0.0.1, a free port);
#    the time from exec to grpc.health.v1 SERVING is measured by polling
#    Check every few milliseconds (frontdoor-load --wait_serving).
# 3. Warm-up: 2 s of first-page GetWorklist calls over every pathway.
# 4. Resident memory: VmRSS (and VmHWM, the peak) from /proc/PID/status.
# 5. GetWorklist first page (50 entries) p99 over 1,000 calls, one caller:
#    for the pathway with the most active referrals, and over all pathways
#    in turn.
# 6. Durable SubmitReferral and GetReferral at 64 callers against the big
#    store, and, as the baseline measured in the same run, against a server
#    on an empty data directory (ratios big/empty).
# 7. SIGTERM (exit code and time to exit), a second start on the same data
#    (time to SERVING again) and its resident memory.
#
# Every server start reads a tokens file made with `frontdoor admin token
# create` (in the temporary directory), and every call carries a clinician's
# bearer token (frontdoor-load --token_file).
#
# Environment: FRONTDOOR_BUILD_DIR (default build); SCALE_COUNT; SCALE_DATA_DIR
# to keep the filled store (reused by the next run if it holds SCALE_COUNT
# referrals; default: a temporary directory, removed at the end). The
# measurements take about 1 minute; filling 1,000,000 referrals takes several
# more on 2 shared cores (see docs/benchmarks.md); ~2 GB of disk.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="${FRONTDOOR_BUILD_DIR:-build}"
COUNT="${SCALE_COUNT:-1000000}"
LOAD="$BUILD/tests/load/frontdoor-load"
FILL="$BUILD/tests/load/frontdoor-fill"
SERVER="$BUILD/services/server/frontdoor-server"
CLI="$BUILD/services/cli/frontdoor"
source tests/load/lib.sh
require_built scale_check "$LOAD" "$FILL" "$SERVER" "$CLI"

TMP="$(mktemp -d /tmp/frontdoor-scale.XXXXXX)"
DATA="${SCALE_DATA_DIR:-$TMP/data}"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mib() { awk -v kb="$1" 'BEGIN{printf "%.1f MiB", kb/1024}'; }

echo "scale_check: $(date -u +%Y-%m-%dT%H:%M:%SZ), $COUNT referrals, $(nproc) CPUs (client and server share them)"

# The servers' identities file and a clinician's token (submit, get, worklists).
TOKENS="$TMP/tokens.txtpb"
TOKEN_FILE="$TMP/clinician.token"
make_token scale_check "$CLI" "$TOKENS" clinician scale-clinician "$TOKEN_FILE"

# --- 1. fill ------------------------------------------------------------------------
MARKER="$DATA/.frontdoor-fill-count"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$COUNT" ]]; then
  echo "== fill: reusing $DATA ($COUNT referrals)"
  cp "$DATA/.frontdoor-fill-output" "$TMP/fill.txt" 2>/dev/null || true
  FILL_LINE="(reused) $(head -1 "$TMP/fill.txt" 2>/dev/null | sed 's/^frontdoor-fill: //')"
else
  rm -rf "$DATA"
  echo "== fill: $COUNT referrals into $DATA/referrals"
  t0="$(now_ns)"
  "$FILL" --data_dir="$DATA" --count="$COUNT" | tee "$TMP/fill.txt"
  cp "$TMP/fill.txt" "$DATA/.frontdoor-fill-output"
  t1="$(now_ns)"
  echo "$COUNT" >"$MARKER"
  FILL_LINE="$(head -1 "$TMP/fill.txt" | sed 's/^frontdoor-fill: //')"
  echo "  (wall $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f s", (b-a)/1e9}'))"
fi
DISK="$(du -sh "$DATA/referrals" | cut -f1)"
# The pathway with the most active referrals.
BIGGEST="$(sed -n 's/^  active by pathway: //p' "$TMP/fill.txt" 2>/dev/null | tr ' ' '\n' |
  awk -F= 'NF == 2 && $2 > max {max = $2; p = $1} END {print p}')"
BIGGEST="${BIGGEST:-CLINICAL_REVIEW}"

# --- 2. start -> SERVING ------------------------------------------------------------
# start_server LABEL: starts the server, sets SERVER_PID, SERVING_MS and ADDR.
start_server() {
  local port t0 line
  port="$(free_port)"
  ADDR="127.0.0.1:$port"
  t0="$(now_ns)"
  "$SERVER" --listen="$ADDR" --http_listen= --data_dir="$DATA" --log_level=warn \
    --tokens_file="$TOKENS" >"$TMP/server-$1.out" 2>"$TMP/server-$1.err" &
  SERVER_PID=$!
  if ! line="$("$LOAD" --target="$ADDR" --wait_serving --timeout=300s)"; then
    echo "scale_check: the server did not become SERVING:" >&2
    cat "$TMP/server-$1.err" >&2
    exit 1
  fi
  SERVING_MS="$(awk -v a="$t0" -v b="$(sed -n 's/.*unix_ns=\([0-9]*\).*/\1/p' <<<"$line")" \
    'BEGIN{printf "%.0f", (b-a)/1e6}')"
  echo "  exec -> SERVING: $SERVING_MS ms (pid $SERVER_PID, $ADDR)"
}

echo; echo "== start on the filled store"
start_server first
FIRST_MS="$SERVING_MS"
RSS_START="$(status_kb "$SERVER_PID" VmRSS)"

# --- 3. warm-up, 4. memory ------------------------------------------------------------
echo; echo "== warm-up: 2 s of GetWorklist over every pathway"
"$LOAD" --target="$ADDR" --token_file="$TOKEN_FILE" --rpc=worklist --worklist_pathway=all \
  --concurrency=4 --warmup=0s --duration=2s | grep -E '^(RESULT|  entries)' | sed 's/^/  /'
RSS_WARM="$(status_kb "$SERVER_PID" VmRSS)"
HWM_WARM="$(status_kb "$SERVER_PID" VmHWM)"
echo "  VmRSS $(mib "$RSS_WARM") (at SERVING $(mib "$RSS_START")), VmHWM $(mib "$HWM_WARM")"

# --- 5. worklist first page --------------------------------------------------------------
echo; echo "== GetWorklist first page, 1,000 calls, 1 caller: $BIGGEST (most active referrals)"
"$LOAD" --target="$ADDR" --token_file="$TOKEN_FILE" --rpc=worklist --worklist_pathway="$BIGGEST" \
  --concurrency=1 --requests=1000 --warmup=1s --label="pathway=$BIGGEST" |
  tee "$TMP/wl-big.txt" | sed 's/^/  /'
echo; echo "== GetWorklist first page, 1,000 calls, 1 caller: every pathway in turn"
"$LOAD" --target="$ADDR" --token_file="$TOKEN_FILE" --rpc=worklist --worklist_pathway=all \
  --concurrency=1 --requests=1000 --warmup=1s --label="pathway=all" |
  tee "$TMP/wl-all.txt" | sed 's/^/  /'
RSS_AFTER="$(status_kb "$SERVER_PID" VmRSS)"

# --- 6. writes and reads at scale, against an empty store ---------------------------------
# rpc64 LABEL RPC ADDR: 64 callers for 5 s.
rpc64() {
  "$LOAD" --target="$3" --token_file="$TOKEN_FILE" --rpc="$2" --concurrency=64 --warmup=1s --duration=5s \
    --nhs_slot="$4" --label="store=$1" 2>/dev/null | tee "$TMP/$2-$1.txt" | sed 's/^/  /'
}
echo; echo "== SubmitReferral (durable) and GetReferral, 64 callers, $COUNT referrals stored"
rpc64 big submit "$ADDR" 500000
rpc64 big get "$ADDR" 700000

# --- 7. stop, restart ------------------------------------------------------------------
echo; echo "== SIGTERM and a second start"
t0="$(now_ns)"
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
t1="$(now_ns)"
SERVER_PID=""
STOP_MS="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", (b-a)/1e6}')"
echo "  exit code $rc after $STOP_MS ms"
start_server second
SECOND_MS="$SERVING_MS"
sleep 1
RSS_SECOND="$(status_kb "$SERVER_PID" VmRSS)"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""

echo; echo "== baseline: the same runs against a server on an empty data directory"
EMPTY="$TMP/empty"
"$SERVER" --listen=127.0.0.1:0 --http_listen= --data_dir="$EMPTY" --log_level=warn \
  --tokens_file="$TOKENS" >"$TMP/server-empty.out" 2>"$TMP/server-empty.err" &
SERVER_PID=$!
for _ in $(seq 1 200); do
  EADDR="$(sed -n 's/.*grpc:\/\/\([0-9.]*:[0-9]*\).*/\1/p' "$TMP/server-empty.out" 2>/dev/null |
    head -1 || true)"
  [[ -n "$EADDR" ]] && break
  sleep 0.05
done
[[ -n "$EADDR" ]] || { echo "scale_check: the empty-store server did not start" >&2; exit 1; }
"$LOAD" --target="$EADDR" --wait_serving --timeout=60s >/dev/null
rpc64 empty submit "$EADDR" 500000
rpc64 empty get "$EADDR" 700000

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1"; }
echo
echo "== summary ($COUNT referrals; store $DISK on disk)"
echo "fill:                     $FILL_LINE"
echo "exec -> SERVING:          $FIRST_MS ms (first start after the fill), $SECOND_MS ms (restart)"
echo "VmRSS after warm-up:      $(mib "$RSS_WARM") (at SERVING $(mib "$RSS_START"); after the worklist runs $(mib "$RSS_AFTER"); peak $(mib "$HWM_WARM"); after restart $(mib "$RSS_SECOND"))"
echo "GetWorklist page 1, $BIGGEST: p50 $(field "$TMP/wl-big.txt" p50_us) us, p99 $(field "$TMP/wl-big.txt" p99_us) us, max $(field "$TMP/wl-big.txt" max_us) us ($(field "$TMP/wl-big.txt" qps) calls/s)"
echo "GetWorklist page 1, all pathways: p50 $(field "$TMP/wl-all.txt" p50_us) us, p99 $(field "$TMP/wl-all.txt" p99_us) us, max $(field "$TMP/wl-all.txt" max_us) us"
echo "SIGTERM:                  exit $rc in $STOP_MS ms"
for r in submit get; do
  big="$(field "$TMP/$r-big.txt" qps)"; empty="$(field "$TMP/$r-empty.txt" qps)"
  echo "$r, 64 callers:         $big/s with $COUNT stored (p99 $(field "$TMP/$r-big.txt" p99_us) us) vs $empty/s on an empty store (p99 $(field "$TMP/$r-empty.txt" p99_us) us): ratio $(awk -v a="$big" -v b="$empty" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }')"
done
