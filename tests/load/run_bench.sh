#!/usr/bin/env bash
# RPC benchmark of frontdoor-server against the bare gRPC echo baseline,
# measured in the same run on loopback (docs/benchmarks.md, "RPCs").
#
#   tests/load/run_bench.sh            (from the source tree, after building
#                                       frontdoor-server, frontdoor-load,
#                                       frontdoor-echo and frontdoor)
#
# Starts frontdoor-echo and frontdoor-server (temporary data directory,
# default rule set and directory, durable writes; a tokens file made with
# `frontdoor admin token create`, and every call to the server carries a
# clinician's bearer token, as in production) on 127.0.0.1 ports that the
# kernel picks, then runs frontdoor-load (closed loop, gRPC callback client):
#
#   echo at 1 and 64 callers, submit at 1 and 64, get at 64
#
# and prints the ratios submit64/echo64, submit64/submit1 (group commit: the
# store shares one fsync between concurrent submissions, so 64 callers should
# get at least 5x the throughput of 1) and get64/echo64. Then h2load (an
# independent HTTP/2 client) with gRPC framing (build-notes section 7):
#
#   echo baseline            64 streams on 1 connection
#   SubmitReferral "replay"  h2load sends the same body every time, so all
#                            but the first request carry a request_id already
#                            stored: they measure the idempotent replay path
#                            (validation, triage and matching, the
#                            idempotency lookup; nothing written, no fsync),
#                            not new submissions
#   GetReferral              of a referral stored just before: the read path
#
# New durable submissions are measured by frontdoor-load only (each call
# there has a new request_id). Each run also reports how busy the machine was
# with other processes ("foreign" share of the 2 cores), since client and
# server share the machine with everything else on it.
#
# Environment: FRONTDOOR_BUILD_DIR (default build), BENCH_DURATION (seconds
# per run, default 5), BENCH_WARMUP (default 1), BENCH_H2LOAD=0 skips h2load.
# Takes about 1.5 minutes; every process it starts is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="${FRONTDOOR_BUILD_DIR:-build}"
DURATION="${BENCH_DURATION:-5}"
WARMUP="${BENCH_WARMUP:-1}"
USE_H2LOAD="${BENCH_H2LOAD:-1}"
LOAD="$BUILD/tests/load/frontdoor-load"
ECHO="$BUILD/tests/load/frontdoor-echo"
SERVER="$BUILD/services/server/frontdoor-server"
CLI="$BUILD/services/cli/frontdoor"
source tests/load/lib.sh
require_built run_bench "$LOAD" "$ECHO" "$SERVER" "$CLI"

with_processes frontdoor-bench

busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8; exit}' /proc/stat; }
proc_jiffies() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ="$(getconf CLK_TCK)"
NCPU="$(nproc)"

declare -A QPS P50 P99 FOREIGN
# load NAME SERVER_PID ARGS...: one frontdoor-load run; keeps its figures.
load() {
  local name="$1" spid="$2"
  shift 2
  local m0 s0 t0 m1 s1 t1 line
  m0="$(busy_jiffies)"; s0="$(proc_jiffies "$spid")"; t0="$(date +%s.%N)"
  timeout 120 "$LOAD" --duration="${DURATION}s" --warmup="${WARMUP}s" "$@" \
    >"$TMP/$name.txt" 2>&1 || true
  m1="$(busy_jiffies)"; s1="$(proc_jiffies "$spid")"; t1="$(date +%s.%N)"
  sed 's/^/  /' "$TMP/$name.txt"
  line="$(grep '^RESULT ' "$TMP/$name.txt" || true)"
  [[ -n "$line" ]] || { echo "run_bench: $name gave no RESULT" >&2; exit 1; }
  QPS[$name]="$(sed -n 's/.* qps=\([0-9.]*\).*/\1/p' <<<"$line")"
  P50[$name]="$(sed -n 's/.* p50_us=\([0-9.]*\).*/\1/p' <<<"$line")"
  P99[$name]="$(sed -n 's/.* p99_us=\([0-9.]*\).*/\1/p' <<<"$line")"
  local client
  client="$(sed -n 's/.* cpu_total_s=\([0-9.]*\).*/\1/p' <<<"$line")"
  # Other processes' share of the machine during the run.
  FOREIGN[$name]="$(awk -v m=$((m1 - m0)) -v s=$((s1 - s0)) -v c="$client" -v hz="$HZ" \
    -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" -v n="$NCPU" \
    'BEGIN{f=((m - s)/hz - c)/(w*n); if (f<0) f=0; printf "%.0f%%", 100*f}')"
  echo "  (other processes used ${FOREIGN[$name]} of the machine during this run)"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }

echo "run_bench: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) CPUs ($(uname -r)); client and server share them"
# The server's identities file and a clinician's token (submit, get, worklists).
TOKENS="$TMP/tokens.txtpb"
TOKEN_FILE="$TMP/clinician.token"
make_token run_bench "$CLI" "$TOKENS" clinician bench-clinician "$TOKEN_FILE"
TOKEN="$(cat "$TOKEN_FILE")"
start echo "$ECHO" --listen=127.0.0.1:0
ECHO_ADDR="$ADDR"; ECHO_PID="$LAST_PID"
start server "$SERVER" --listen=127.0.0.1:0 --http_listen= --data_dir="$TMP/data" --log_level=warn \
  --tokens_file="$TOKENS"
SERVER_ADDR="$ADDR"; SERVER_PID="$LAST_PID"
"$LOAD" --target="$SERVER_ADDR" --wait_serving --timeout=30s >/dev/null
echo "frontdoor-echo on $ECHO_ADDR, frontdoor-server on $SERVER_ADDR (data $TMP/data)"

echo; echo "== echo, 1 caller";    load echo1 "$ECHO_PID" --target="$ECHO_ADDR" --rpc=echo --concurrency=1
echo; echo "== echo, 64 callers";  load echo64 "$ECHO_PID" --target="$ECHO_ADDR" --rpc=echo --concurrency=64
echo; echo "== submit (durable), 1 caller"
load submit1 "$SERVER_PID" --target="$SERVER_ADDR" --token_file="$TOKEN_FILE" --rpc=submit \
  --concurrency=1 --nhs_slot=0
echo; echo "== submit (durable), 64 callers"
load submit64 "$SERVER_PID" --target="$SERVER_ADDR" --token_file="$TOKEN_FILE" --rpc=submit \
  --concurrency=64 --nhs_slot=300000
echo; echo "== get, 64 callers (reads 1000 referrals it submits first)"
load get64 "$SERVER_PID" --target="$SERVER_ADDR" --token_file="$TOKEN_FILE" --rpc=get \
  --concurrency=64 --nhs_slot=900000

# --- h2load -------------------------------------------------------------------------

declare -A HQPS HP50 HP99 HNOTE
# h2 NAME ADDR PATH BODY [HEADER...]: 64 streams on one connection; qps and
# latency from the per-request log. Each HEADER ("name: value") is sent with
# every request.
h2() {
  local name="$1" addr="$2" path="$3" body="$4"
  shift 4
  local url="http://$addr$path" headers=(-H 'content-type: application/grpc' -H 'te: trailers') h
  for h in "$@"; do headers+=(-H "$h"); done
  # gRPC answers HTTP 200 even for errors: check the trailer once first.
  if ! timeout 20 nghttp -v -d "$body" "${headers[@]}" \
      "$url" >"$TMP/$name.nghttp" 2>&1 || ! grep -q 'grpc-status: 0' "$TMP/$name.nghttp"; then
    echo "run_bench: $path via nghttp did not return grpc-status 0:" >&2
    grep -E 'grpc-status|grpc-message|:status' "$TMP/$name.nghttp" >&2 || tail -5 "$TMP/$name.nghttp" >&2
    exit 1
  fi
  timeout 120 h2load -c 1 -t 1 -m 64 -D "$DURATION" --warm-up-time="$WARMUP" -d "$body" \
    "${headers[@]}" --log-file="$TMP/$name.log" \
    "$url" >"$TMP/$name.h2" 2>&1 || true
  grep -E '^(finished in|requests:|status codes:)' "$TMP/$name.h2" | sed 's/^/  /'
  HQPS[$name]="$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$TMP/$name.h2")"
  read -r HP50[$name] HP99[$name] < <(awk -F'\t' '$2 == 200 {print $3}' "$TMP/$name.log" | sort -n |
    awk '{v[NR]=$1} END {if (NR == 0) {print "n/a n/a"; exit}
      i50=int(0.50*NR); if (i50 < 0.50*NR) i50++; i99=int(0.99*NR); if (i99 < 0.99*NR) i99++;
      print v[i50], v[i99]}')
  echo "  latency p50 ${HP50[$name]} us, p99 ${HP99[$name]} us (from --log-file)"
}

if [[ "$USE_H2LOAD" != 0 ]] && command -v h2load >/dev/null && command -v nghttp >/dev/null; then
  "$LOAD" --rpc=echo --write_body="$TMP/echo.bin" >/dev/null
  "$LOAD" --rpc=submit --write_body="$TMP/submit.bin" --request_prefix="h2load-replay-$$" \
    --nhs_slot=600000 >/dev/null
  GET_ID="$("$LOAD" --rpc=get --target="$SERVER_ADDR" --token_file="$TOKEN_FILE" \
    --write_body="$TMP/get.bin" --nhs_slot=700000 |
    sed -n 's/.* id=\(.*\)/\1/p')"
  echo; echo "== h2load: echo baseline, 64 streams"
  h2 h2echo "$ECHO_ADDR" /frontdoor.echo.v1.EchoService/Echo "$TMP/echo.bin"
  echo; echo "== h2load: SubmitReferral replay path (one request_id, stored once, then replayed), 64 streams"
  h2 h2replay "$SERVER_ADDR" /frontdoor.v1.ReferralService/SubmitReferral "$TMP/submit.bin" \
    "authorization: Bearer $TOKEN"
  echo; echo "== h2load: GetReferral of $GET_ID, 64 streams"
  h2 h2get "$SERVER_ADDR" /frontdoor.v1.ReferralService/GetReferral "$TMP/get.bin" \
    "authorization: Bearer $TOKEN"
  H2=1
else
  echo; echo "(h2load skipped)"
  H2=0
fi

# --- summary ------------------------------------------------------------------------

echo
echo "== summary (frontdoor-load; qps, p50 and p99 in microseconds; other processes' share of the machine)"
printf '%-10s %10s %10s %10s %8s\n' run qps p50_us p99_us foreign
for n in echo1 echo64 submit1 submit64 get64; do
  printf '%-10s %10s %10s %10s %8s\n' "$n" "${QPS[$n]}" "${P50[$n]}" "${P99[$n]}" "${FOREIGN[$n]}"
done
if [[ "$H2" == 1 ]]; then
  echo "h2load (1 connection, 64 streams):"
  for n in h2echo h2replay h2get; do
    printf '%-10s %10s %10s %10s\n' "$n" "${HQPS[$n]}" "${HP50[$n]}" "${HP99[$n]}"
  done
fi
echo
echo "ratios (qps):"
echo "  submit64/echo64   = $(ratio "${QPS[submit64]}" "${QPS[echo64]}")"
GC="$(ratio "${QPS[submit64]}" "${QPS[submit1]}")"
echo "  submit64/submit1  = $GC   (group commit: want >= 5)"
echo "  get64/echo64      = $(ratio "${QPS[get64]}" "${QPS[echo64]}")"
if [[ "$H2" == 1 ]]; then
  echo "  h2load replay/echo = $(ratio "${HQPS[h2replay]}" "${HQPS[h2echo]}")"
  echo "  h2load get/echo    = $(ratio "${HQPS[h2get]}" "${HQPS[h2echo]}")"
fi
if awk -v r="$GC" 'BEGIN{exit !(r >= 5)}'; then
  echo "group commit: ok (64 callers get ${GC}x the durable submissions/s of 1)"
else
  echo "group commit: BELOW TARGET (64 callers get ${GC}x the durable submissions/s of 1, want >= 5)"
fi
