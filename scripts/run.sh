#!/usr/bin/env bash
# Builds Frontdoor and shows the triage engine at work: lints the default
# rule set, then explains its decision for each example referral.
#
# Usage: scripts/run.sh [REFERRAL.json ...]
#   With no arguments, every examples/referrals/*.json is explained.
# Options (env):
#   FRONTDOOR_BUILD_DIR  build directory (default build)
#   FRONTDOOR_RULESET    rule set directory (default triage-rules/community-spa)
#
# Referral files use the protobuf JSON mapping of frontdoor.v1.Referral
# (protos/frontdoor/v1/referral.proto). Exits non-zero if the lint or any
# explanation fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${FRONTDOOR_BUILD_DIR:-build}"
RULESET="${FRONTDOOR_RULESET:-triage-rules/community-spa}"
FRONTDOOR="$BUILD_DIR/services/cli/frontdoor"

scripts/setup.sh --build-dir "$BUILD_DIR"

if [[ ! -x "$FRONTDOOR" ]]; then
  echo "run: $FRONTDOOR does not exist: the 'frontdoor' CLI target was not built" >&2
  exit 1
fi

if [[ $# -gt 0 ]]; then
  referrals=("$@")
else
  shopt -s nullglob
  referrals=(examples/referrals/*.json)
  shopt -u nullglob
  [[ ${#referrals[@]} -gt 0 ]] || { echo "run: no examples/referrals/*.json" >&2; exit 1; }
fi

status=0
printf '\n$ frontdoor rules lint %s\n' "$RULESET"
"$FRONTDOOR" rules lint "$RULESET" || status=1

for referral in "${referrals[@]}"; do
  printf '\n$ frontdoor rules explain %s %s\n' "$RULESET" "$referral"
  "$FRONTDOOR" rules explain "$RULESET" "$referral" || {
    echo "run: explain failed for $referral" >&2
    status=1
  }
done
exit $status
