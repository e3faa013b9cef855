#!/usr/bin/env bash
# Builds Frontdoor and runs frontdoor-server with every role in one process:
# the default rule set (triage-rules/community-spa), the default service
# directory (triage-rules/directory.yaml) and a local data directory.
#
# Usage: scripts/run.sh [extra frontdoor-server flags ...]
# Options (env):
#   FRONTDOOR_BUILD_DIR    build directory (default build)
#   FRONTDOOR_DATA         data directory (default data, created if missing)
#   FRONTDOOR_LISTEN       gRPC address (default 127.0.0.1:50051)
#   FRONTDOOR_HTTP_LISTEN  HTTP address for /metrics and /healthz (default 127.0.0.1:8080)
#   FRONTDOOR_RULESET      rule set directory (default triage-rules/community-spa)
#
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it drains in-flight calls, flushes
# the store and exits 0.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${FRONTDOOR_BUILD_DIR:-build}"
DATA_DIR="${FRONTDOOR_DATA:-data}"
LISTEN="${FRONTDOOR_LISTEN:-127.0.0.1:50051}"
HTTP_LISTEN="${FRONTDOOR_HTTP_LISTEN:-127.0.0.1:8080}"
RULESET="${FRONTDOOR_RULESET:-triage-rules/community-spa}"
SERVER="$BUILD_DIR/services/server/frontdoor-server"
FRONTDOOR="$BUILD_DIR/services/cli/frontdoor"

scripts/setup.sh --build-dir "$BUILD_DIR"

for bin in "$SERVER" "$FRONTDOOR"; do
  if [[ ! -x "$bin" ]]; then
    echo "run: $bin does not exist: the build did not produce it" >&2
    exit 1
  fi
done

# A rule set with errors never loads; say why before starting.
"$FRONTDOOR" rules lint "$RULESET" >/dev/null || {
  "$FRONTDOOR" rules lint "$RULESET" >&2
  exit 1
}

mkdir -p "$DATA_DIR"
cat <<EOF_HELP

Starting frontdoor-server (Ctrl-C to stop). Then, in another terminal:

  $FRONTDOOR submit examples/referrals/news2-7-acute-deterioration.json --server=$LISTEN
  $FRONTDOOR worklist --pathway ACUTE --server=$LISTEN
  $FRONTDOOR get <reference> --server=$LISTEN
  curl http://$HTTP_LISTEN/metrics

EOF_HELP

exec "$SERVER" --listen="$LISTEN" --http_listen="$HTTP_LISTEN" --data_dir="$DATA_DIR" \
  --rules="$RULESET" --directory=triage-rules/directory.yaml "$@"
