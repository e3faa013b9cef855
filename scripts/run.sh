#!/usr/bin/env bash
# Builds Frontdoor and runs frontdoor-server with every role in one process:
# the default rule set (triage-rules/community-spa), the default service
# directory (triage-rules/directory.yaml) and a local data directory.
#
# Callers need a token. On the first run this makes DATA/tokens.txtpb (the
# server's identities file: tokens kept only as SHA-256) with two local
# callers, whose tokens it saves for you (mode 0600):
#   DATA/admin.token      principal local-admin, role admin (backups)
#   DATA/clinician.token  principal local-clinician, role clinician (submit,
#                         read, work the worklists, override triage)
# Later runs reuse them. More callers: frontdoor admin token create
# --tokens_file=DATA/tokens.txtpb --role=ROLE --principal=NAME (the running
# server picks them up within a second).
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

# Tokens: DATA/tokens.txtpb and one token file per local caller.
TOKENS="$DATA_DIR/tokens.txtpb"
if [[ ! -f "$TOKENS" ]]; then
  # Token files from an identities file that is gone no longer work.
  rm -f "$DATA_DIR/admin.token" "$DATA_DIR/clinician.token"
fi
# local_token ROLE: makes DATA/ROLE.token (principal local-ROLE) unless it exists.
local_token() {
  local role="$1" file="$DATA_DIR/$1.token" principal="local-$1" token
  [[ -s "$file" ]] && return 0
  # The token file was deleted: revoke the local callers of this role whose
  # token it held, and make a new one.
  if [[ -f "$TOKENS" ]] && grep -q "principal: \"$principal\"" "$TOKENS"; then
    "$FRONTDOOR" admin token list --tokens_file="$TOKENS" 2>/dev/null |
      awk -v p="$principal" '($1 == p || index($1, p "-") == 1) && $NF == "active" {print $1}' |
      while read -r lost; do
        "$FRONTDOOR" admin token revoke --tokens_file="$TOKENS" --principal="$lost" >/dev/null 2>&1 &&
          echo "run: revoked $lost (its token file $file is gone)"
      done
    principal="$principal-$(date +%Y%m%d%H%M%S)"
  fi
  if ! token="$("$FRONTDOOR" admin token create --tokens_file="$TOKENS" --role="$role" \
    --principal="$principal" 2>"$DATA_DIR/.token-create.err")"; then
    echo "run: frontdoor admin token create --role=$role failed:" >&2
    cat "$DATA_DIR/.token-create.err" >&2
    exit 1
  fi
  rm -f "$DATA_DIR/.token-create.err"
  (umask 077 && printf '%s\n' "$token" >"$file")
  echo "run: made $file ($principal, role $role)"
}
local_token admin
local_token clinician
chmod 600 "$TOKENS" "$DATA_DIR/admin.token" "$DATA_DIR/clinician.token"

cat <<EOF_HELP

Starting frontdoor-server (Ctrl-C to stop). Then, in another terminal:

  export FRONTDOOR_TOKEN_FILE=$DATA_DIR/clinician.token
  $FRONTDOOR submit examples/referrals/news2-7-acute-deterioration.json --server=$LISTEN
  $FRONTDOOR worklist --pathway ACUTE --server=$LISTEN
  $FRONTDOOR get <reference> --server=$LISTEN
  FRONTDOOR_TOKEN_FILE=$DATA_DIR/admin.token $FRONTDOOR admin backup /tmp/frontdoor-backup --server=$LISTEN

  Portal: http://$HTTP_LISTEN/ (paste the token from $DATA_DIR/clinician.token)
  curl -H "Authorization: Bearer \$(cat $DATA_DIR/clinician.token)" http://$HTTP_LISTEN/api/v1/whoami
  curl http://$HTTP_LISTEN/metrics

  Other roles (referrer, call_handler, rule_author, safety_officer, ...):
  $FRONTDOOR admin token create --tokens_file=$TOKENS --role=referrer --principal=NAME

EOF_HELP

exec "$SERVER" --listen="$LISTEN" --http_listen="$HTTP_LISTEN" --data_dir="$DATA_DIR" \
  --rules="$RULESET" --directory=triage-rules/directory.yaml --tokens_file="$TOKENS" "$@"
