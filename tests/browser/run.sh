#!/usr/bin/env bash
# The portal in a real browser: starts the built frontdoor-server on free
# ports with a fresh data directory, the default rules and directory, and a
# tokens file (two referrers and a call handler, made by the CLI), then
# drives Debian's chromium through playwright-core (portal.test.mjs).
#
# Usage: tests/browser/run.sh [BUILD_DIR]     (default: build)
#
# Screenshots of every step, the server's log and the test output go to
# BUILD_DIR/test-artifacts/browser/. Exits non-zero if a test failed or the
# run could not start. Needs chromium, node and npm (scripts/setup.sh
# --browser installs them); `npm ci` installs playwright-core from the
# committed package-lock.json. Env: CHROMIUM (default /usr/bin/chromium),
# FRONTDOOR_BROWSER_TIMEOUT (seconds for the whole node run, default 240).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${1:-build}"
[[ "$BUILD_DIR" == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SERVER="$BUILD_DIR/services/server/frontdoor-server"
CLI="$BUILD_DIR/services/cli/frontdoor"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
ARTIFACTS="$BUILD_DIR/test-artifacts/browser"

log() { printf 'browser: %s\n' "$*" >&2; }
die() { printf 'browser: error: %s\n' "$*" >&2; exit 1; }

[[ -x "$SERVER" ]] || die "$SERVER not found: build the frontdoor-server target"
[[ -x "$CLI" ]] || die "$CLI not found: build the frontdoor target"
[[ -x "$CHROMIUM" ]] || die "$CHROMIUM not found: scripts/setup.sh --browser installs Debian's chromium"
command -v node >/dev/null || die "node not found: scripts/setup.sh --browser installs nodejs"
command -v npm >/dev/null || die "npm not found: scripts/setup.sh --browser installs npm"

# playwright-core, exactly as locked. Skipped when node_modules already holds
# the locked version (npm ci would delete and reinstall it).
installed="$(node -e 'try{console.log(require(process.argv[1]).version)}catch(e){}' \
  "$HERE/node_modules/playwright-core/package.json" 2>/dev/null || true)"
locked="$(node -e 'console.log(require(process.argv[1]).packages["node_modules/playwright-core"].version)' \
  "$HERE/package-lock.json")"
if [[ "$installed" != "$locked" ]]; then
  log "npm ci (playwright-core $locked)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/frontdoor-browser.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Two free ports on the loopback interface (the kernel picks them).
read -r GRPC_PORT HTTP_PORT < <(node -e '
  const net = require("net");
  const pick = () => new Promise((ok) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  Promise.all([pick(), pick()]).then((p) => console.log(p.join(" ")));')

# Tokens: two referrers and a call handler.
TOKENS="$WORK/tokens.textproto"
token() {  # token ROLE PRINCIPAL: prints the new token
  "$CLI" admin token create --tokens_file="$TOKENS" --role="$1" --principal="$2" 2>>"$ARTIFACTS/cli.log" |
    tail -n 1
}
TOKEN_A="$(token referrer dr-a)" || die "frontdoor admin token create failed (see $ARTIFACTS/cli.log)"
TOKEN_B="$(token referrer dr-b)" || die "frontdoor admin token create failed"
TOKEN_HANDLER="$(token call_handler handler-1)" || die "frontdoor admin token create failed"
[[ -n "$TOKEN_A" && -n "$TOKEN_B" && -n "$TOKEN_HANDLER" ]] || die "a token came out empty (see $ARTIFACTS/cli.log)"

log "starting frontdoor-server (grpc 127.0.0.1:$GRPC_PORT, http 127.0.0.1:$HTTP_PORT)"
"$SERVER" \
  --listen="127.0.0.1:$GRPC_PORT" \
  --http_listen="127.0.0.1:$HTTP_PORT" \
  --data_dir="$WORK/data" \
  --rules="$ROOT/triage-rules/community-spa" \
  --directory="$ROOT/triage-rules/directory.yaml" \
  --tokens_file="$TOKENS" \
  >"$ARTIFACTS/server.log" 2>&1 </dev/null &
server_pid=$!

rc=0
FRONTDOOR_URL="http://127.0.0.1:$HTTP_PORT" \
  TOKEN_A="$TOKEN_A" TOKEN_B="$TOKEN_B" TOKEN_HANDLER="$TOKEN_HANDLER" \
  ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" SERVER_PID="$server_pid" \
  timeout --kill-after=10 "${FRONTDOOR_BROWSER_TIMEOUT:-240}" \
  node --test-reporter=spec --test-reporter-destination=stdout "$HERE/portal.test.mjs" </dev/null \
  2>&1 | tee "$ARTIFACTS/test.log" || rc=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  log "frontdoor-server exited during the run; its log:"
  tail -n 40 "$ARTIFACTS/server.log" >&2
  rc=1
fi
log "screenshots and logs: $ARTIFACTS"
exit "$rc"
