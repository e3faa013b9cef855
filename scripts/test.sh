#!/usr/bin/env bash
# Builds Frontdoor and runs every test suite:
#
#   build       scripts/setup.sh (packages, configure, build in build/)
#   ctest       unit and integration tests (ctest -j2, per-test timeout)
#   rules-lint  frontdoor rules lint triage-rules/community-spa
#   rules-test  frontdoor rules test triage-rules/community-spa
#   browser     tests/browser/run.sh: the portal in Debian's chromium against
#               the built frontdoor-server (screenshots in
#               BUILD_DIR/test-artifacts/browser/)
#   asan-build  the same tests built with address + undefined-behaviour
#   asan-ctest  sanitizers in build-asan/, then ctest there: every unit,
#               integration and end-to-end test again, failing on any memory
#               error, leak or undefined behaviour
#   fuzz:NAME   each libFuzzer target, built with clang + address/undefined
#               sanitizers in build-fuzz/, run for FRONTDOOR_FUZZ_SECONDS
#               (default 30) seeded from tests/fuzz/NAME_corpus/ if present
#
# Ends with one line "N passed, N failed[, N skipped]" counting suites and
# exits non-zero if any suite failed. Options (env):
#   FRONTDOOR_BUILD_DIR     main build directory (default build)
#   FRONTDOOR_TEST_TIMEOUT  ctest per-test timeout in seconds (default 300)
#   FRONTDOOR_FUZZ_SECONDS  seconds per fuzz target (default 30; 0 skips fuzz)
#   FRONTDOOR_ASAN          0 skips the sanitizer build and its ctest run
#   FRONTDOOR_RULESET       rule set to lint and test
#                           (default triage-rules/community-spa)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

BUILD_DIR="${FRONTDOOR_BUILD_DIR:-build}"
FUZZ_DIR=build-fuzz
ASAN_DIR=build-asan
TEST_TIMEOUT="${FRONTDOOR_TEST_TIMEOUT:-300}"
FUZZ_SECONDS="${FRONTDOOR_FUZZ_SECONDS:-30}"
RULESET="${FRONTDOOR_RULESET:-triage-rules/community-spa}"
FRONTDOOR="$BUILD_DIR/services/cli/frontdoor"

passed=0
failed=0
skipped=0
summary=()

record() {  # record NAME passed|failed|skipped DETAIL
  case "$2" in
    passed) passed=$((passed + 1)) ;;
    failed) failed=$((failed + 1)) ;;
    skipped) skipped=$((skipped + 1)) ;;
  esac
  summary+=("$(printf '%-28s %-8s %s' "$1" "$2" "$3")")
  printf '\n=== %s: %s %s\n' "$1" "$2" "$3"
}

# run_suite NAME CMD...: runs CMD, records whether it exited 0.
run_suite() {
  local name="$1" start=$SECONDS rc=0
  shift
  printf '\n=== %s: %s\n' "$name" "$*"
  "$@" </dev/null || rc=$?
  if [[ $rc -eq 0 ]]; then
    record "$name" passed "($((SECONDS - start)) s)"
  else
    record "$name" failed "(exit $rc, $((SECONDS - start)) s)"
  fi
  return $rc
}

# require_frontdoor NAME: fails NAME loudly if the CLI was not built.
require_frontdoor() {
  if [[ ! -x "$FRONTDOOR" ]]; then
    echo "test: $FRONTDOOR does not exist: the 'frontdoor' CLI target was not built" >&2
    record "$1" failed "($FRONTDOOR missing)"
    return 1
  fi
}

# --- build + ctest ---------------------------------------------------------------

build_ok=1
run_suite build scripts/setup.sh --build-dir "$BUILD_DIR" --browser || build_ok=0

if [[ $build_ok -eq 1 ]]; then
  run_suite ctest ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 \
    --timeout "$TEST_TIMEOUT" --no-tests=error
else
  record ctest failed "(not run: build failed)"
fi

# --- the rule set's own checks ----------------------------------------------------

for check in lint test; do
  if [[ $build_ok -eq 0 ]]; then
    record "rules-$check" failed "(not run: build failed)"
  elif require_frontdoor "rules-$check"; then
    run_suite "rules-$check" "$FRONTDOOR" rules "$check" "$RULESET"
  fi
done

# --- the portal in a browser -----------------------------------------------------

if [[ $build_ok -eq 0 ]]; then
  record browser failed "(not run: build failed)"
else
  run_suite browser tests/browser/run.sh "$BUILD_DIR"
fi

# --- every test again under AddressSanitizer + UBSan ------------------------------

if [[ "${FRONTDOOR_ASAN:-1}" == 0 ]]; then
  record asan skipped "(FRONTDOOR_ASAN=0)"
elif [[ $build_ok -eq 0 ]]; then
  record asan-build failed "(not run: build failed)"
elif run_suite asan-build scripts/setup.sh --build-dir "$ASAN_DIR" \
    --sanitize address --skip-deps; then
  # UBSan findings already abort (-fno-sanitize-recover); leaks fail the
  # process that has them at exit.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
    run_suite asan-ctest ctest --test-dir "$ASAN_DIR" --output-on-failure -j2 \
    --timeout "$TEST_TIMEOUT" --no-tests=error
else
  record asan-ctest failed "(not run: build failed)"
fi

# --- fuzz smoke -------------------------------------------------------------------

# Prints the build-dir-relative paths of every executable target named *_fuzz.
list_fuzz_targets() {
  ninja -C "$FUZZ_DIR" -t targets all 2>/dev/null |
    sed -n 's/^\(\([^ :]*\/\)\{0,1\}[A-Za-z0-9_]*_fuzz\): CXX_EXECUTABLE_LINKER.*/\1/p' |
    sort -u
}

run_fuzz_target() {  # run_fuzz_target PATH NAME
  local bin="$FUZZ_DIR/$1" name="$2"
  local corpus="tests/fuzz/${name}_corpus"
  local work="$FUZZ_DIR/fuzz-work/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  local args=(-max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus")
  if [[ -d "$corpus" ]]; then
    args+=("$corpus")  # read-only seeds: new inputs go to $work/corpus
  else
    echo "test: no seed corpus $corpus; $name starts from an empty corpus"
  fi
  local rc=0
  ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    timeout --kill-after=10 $((FUZZ_SECONDS + 120)) \
    "$bin" "${args[@]}" >"$work/log" 2>&1 </dev/null || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )' "$work/log" || true
  if [[ $rc -ne 0 ]]; then
    tail -n 60 "$work/log"
    find "$work/artifacts" -type f -printf "test: crash input: %p\n"
    echo "test: $name failed with exit $rc (full log: $work/log)" >&2
  fi
  return $rc
}

fuzz_smoke() {
  if [[ "$FUZZ_SECONDS" == 0 ]]; then
    record fuzz skipped "(FRONTDOOR_FUZZ_SECONDS=0)"
    return
  fi
  local start=$SECONDS
  printf '\n=== fuzz build: scripts/setup.sh --fuzz --configure-only\n'
  if ! scripts/setup.sh --fuzz --build-dir "$FUZZ_DIR" --skip-deps --configure-only </dev/null; then
    record fuzz-build failed "(configure failed)"
    return
  fi
  local targets=()
  mapfile -t targets < <(list_fuzz_targets)
  if [[ ${#targets[@]} -eq 0 ]]; then
    echo "test: no fuzz targets are defined yet (no frontdoor_cc_fuzz target); fuzz smoke skipped"
    record fuzz skipped "(no fuzz targets defined)"
    return
  fi
  local names=() t
  for t in "${targets[@]}"; do names+=("$(basename "$t")"); done
  printf '=== fuzz build: %s\n' "${names[*]}"
  local target_args=()
  for t in "${names[@]}"; do target_args+=(--target "$t"); done
  if ! scripts/setup.sh --fuzz --build-dir "$FUZZ_DIR" --skip-deps "${target_args[@]}" </dev/null; then
    record fuzz-build failed "(build failed, $((SECONDS - start)) s)"
    return
  fi
  record fuzz-build passed "($((SECONDS - start)) s)"
  for t in "${targets[@]}"; do
    run_suite "fuzz:$(basename "$t")" run_fuzz_target "$t" "$(basename "$t")"
  done
}
fuzz_smoke

# --- summary ------------------------------------------------------------------------

printf '\n=== summary\n'
printf '%s\n' "${summary[@]}"
if [[ $skipped -gt 0 ]]; then
  printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
else
  printf '%d passed, %d failed\n' "$passed" "$failed"
fi
[[ $failed -eq 0 ]]
