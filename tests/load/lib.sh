# Shared by the load scripts (run_bench.sh, scale_check.sh, shadow_check.sh):
# sourced, not run.

# require_built SCRIPT BINARY...: exits 2 naming the first binary not built.
require_built() {
  local script="$1" b
  shift
  for b in "$@"; do
    [[ -x "$b" ]] || { echo "$script: $b is not built" >&2; exit 2; }
  done
}

# make_token SCRIPT CLI TOKENS_FILE ROLE PRINCIPAL OUT: adds PRINCIPAL with
# ROLE to TOKENS_FILE and writes its new token to OUT (mode 0600); exits 1
# with the CLI's message on failure.
make_token() {
  local script="$1" cli="$2" tokens="$3" role="$4" principal="$5" out="$6"
  local err="$out.err"
  (umask 077 && "$cli" admin token create --tokens_file="$tokens" --role="$role" \
    --principal="$principal" >"$out" 2>"$err") || {
    echo "$script: frontdoor admin token create failed:" >&2
    cat "$err" >&2
    exit 1
  }
}
