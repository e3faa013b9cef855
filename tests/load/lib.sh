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

# with_processes NAME: makes TMP, a new directory /tmp/NAME.XXXXXX, and an
# empty PIDS; on exit (or SIGINT/SIGTERM) every process in PIDS is stopped
# and TMP removed.
with_processes() {
  TMP="$(mktemp -d "/tmp/$1.XXXXXX")"
  PIDS=()
  trap stop_processes EXIT
  trap 'exit 130' INT TERM
}
stop_processes() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}

# start NAME CMD...: starts CMD in the background (stdout $TMP/NAME.out),
# appends its pid to PIDS and sets LAST_PID, waits for its "listening" line
# and sets ADDR to the host:port it printed; exits 1 if it does not start.
# Needs TMP and PIDS (with_processes).
start() {
  local name="$1"
  shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=($!)
  LAST_PID=$!
  for _ in $(seq 1 200); do
    ADDR="$(sed -n 's/.*listening on \(grpc:\/\/\)\{0,1\}\([0-9.]*:[0-9]*\).*/\2/p' \
      "$TMP/$name.out" 2>/dev/null | head -1 || true)"
    [[ -n "$ADDR" ]] && return 0
    kill -0 "$LAST_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "$(basename "$0"): $name did not start:" >&2
  cat "$TMP/$name.out" "$TMP/$name.err" >&2
  exit 1
}
