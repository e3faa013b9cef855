#!/usr/bin/env bash
# Installs the Debian 12 packages Frontdoor builds with, then configures and
# builds it with CMake + Ninja.
#
# Usage: scripts/setup.sh [options]
#
#   --build-dir DIR     build directory (env FRONTDOOR_BUILD_DIR; default
#                       build, build-asan, build-tsan or build-fuzz)
#   --build-type TYPE   CMAKE_BUILD_TYPE (env FRONTDOOR_BUILD_TYPE;
#                       default RelWithDebInfo)
#   --sanitize KIND     address (address+undefined) or thread
#                       (env FRONTDOOR_SANITIZE)
#   --fuzz              libFuzzer build: clang, FRONTDOOR_FUZZ=ON,
#                       address+undefined sanitizers, no benchmarks
#                       (env FRONTDOOR_FUZZ=ON)
#   --target T          build only target T; repeatable
#                       (env FRONTDOOR_TARGETS, space-separated)
#   --jobs N            parallel compile jobs (env FRONTDOOR_JOBS; default nproc)
#   --deps-only         install packages, do not configure or build
#   --configure-only    install packages and configure, do not build
#   --skip-deps         do not check or install packages
#                       (env FRONTDOOR_SKIP_DEPS=1)
#   --browser           also install what the browser tests need: chromium,
#                       fonts-liberation, and nodejs and npm unless node and
#                       npm are already there (env FRONTDOOR_BROWSER=1)
#   -h, --help          this text
#
# Packages are checked with dpkg-query first; apt-get update and install run
# only when something is missing, so a second run costs well under a second
# before the (incremental) build. Runs as root, or through sudo otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev libyaml-cpp-dev libssl-dev libjemalloc-dev
  python3-grpcio python3-protobuf nghttp2-client tzdata
)

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

build_dir="${FRONTDOOR_BUILD_DIR:-}"
build_type="${FRONTDOOR_BUILD_TYPE:-RelWithDebInfo}"
sanitize="${FRONTDOOR_SANITIZE:-}"
fuzz="${FRONTDOOR_FUZZ:-OFF}"
jobs="${FRONTDOOR_JOBS:-$(nproc 2>/dev/null || echo 2)}"
skip_deps="${FRONTDOOR_SKIP_DEPS:-0}"
browser="${FRONTDOOR_BROWSER:-0}"
read -r -a targets <<<"${FRONTDOOR_TARGETS:-}"
stop_after=""  # "", deps or configure

need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) need_arg "$@"; build_dir="$2"; shift 2 ;;
    --build-type) need_arg "$@"; build_type="$2"; shift 2 ;;
    --sanitize) need_arg "$@"; sanitize="$2"; shift 2 ;;
    --fuzz) fuzz=ON; shift ;;
    --target) need_arg "$@"; targets+=("$2"); shift 2 ;;
    --jobs) need_arg "$@"; jobs="$2"; shift 2 ;;
    --deps-only) stop_after=deps; shift ;;
    --configure-only) stop_after=configure; shift ;;
    --skip-deps) skip_deps=1; shift ;;
    --browser) browser=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

case "$fuzz" in
  ON|on|1|true|TRUE|yes) fuzz=ON ;;
  OFF|off|0|false|FALSE|no|"") fuzz=OFF ;;
  *) die "FRONTDOOR_FUZZ must be ON or OFF, not '$fuzz'" ;;
esac
case "$sanitize" in
  ""|address|thread) ;;
  *) die "sanitizer must be 'address' or 'thread', not '$sanitize'" ;;
esac
if [[ "$fuzz" == ON ]]; then
  [[ "$sanitize" != thread ]] || die "the fuzz build uses address+undefined, not thread"
  sanitize=address
fi
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive number, not '$jobs'"

if [[ -z "$build_dir" ]]; then
  if [[ "$fuzz" == ON ]]; then build_dir=build-fuzz
  elif [[ "$sanitize" == address ]]; then build_dir=build-asan
  elif [[ "$sanitize" == thread ]]; then build_dir=build-tsan
  else build_dir=build
  fi
fi
[[ "$build_dir" == /* ]] || build_dir="$ROOT/$build_dir"

# --- 1. Debian packages ------------------------------------------------------

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -- "$@"
  else
    die "not root and no sudo: install as root: apt-get install -y ${missing[*]}"
  fi
}

install_packages() {
  local installed
  # One dpkg-query for all packages; not-installed ones print nothing here.
  installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null |
    awk '$2 == "ii" { print $1 }' || true)"
  missing=()
  local p
  for p in "${PACKAGES[@]}"; do
    grep -qxF -- "$p" <<<"$installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "all ${#PACKAGES[@]} packages installed"
    return
  fi
  log "installing ${#missing[@]} missing packages: ${missing[*]}"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y
    -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
    -o Dpkg::Options::=--force-confold)
  as_root "${apt[@]}" update </dev/null
  as_root "${apt[@]}" install --no-install-recommends "${missing[@]}" </dev/null
}

# The browser tests (tests/browser/run.sh): Debian's chromium, a font with
# Arial's metrics, and node + npm. A node from elsewhere (with its own npm)
# is kept: Debian's npm package would conflict with it.
if [[ "$browser" == 1 ]]; then
  PACKAGES+=(chromium fonts-liberation)
  command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
fi

start=$SECONDS
if [[ "$skip_deps" == 1 ]]; then
  log "skipping package check"
else
  install_packages
fi
[[ "$stop_after" != deps ]] || exit 0

# --- 2. Configure -------------------------------------------------------------

cmake_args=(
  -S "$ROOT" -B "$build_dir"
  -DCMAKE_BUILD_TYPE="$build_type"
  -DFRONTDOOR_SANITIZE="$sanitize"
  -DFRONTDOOR_FUZZ="$fuzz"
)
if [[ "$fuzz" == ON ]]; then
  command -v clang++ >/dev/null || die "the fuzz build needs clang++ (package clang)"
  cmake_args+=(-DCMAKE_CXX_COMPILER=clang++ -DFRONTDOOR_BENCHMARKS=OFF)
fi
if [[ -f "$build_dir/CMakeCache.txt" ]]; then
  generator="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$build_dir/CMakeCache.txt")"
  if [[ "$generator" != Ninja ]]; then
    log "note: $build_dir was configured with '$generator', not Ninja; keeping it"
  fi
else
  cmake_args+=(-G Ninja)
fi

desc="$build_type"
[[ -z "$sanitize" ]] || desc+=", sanitize=$sanitize"
[[ "$fuzz" == OFF ]] || desc+=", fuzz"
log "configuring $build_dir ($desc)"
mkdir -p "$build_dir"
configure_log="$build_dir/frontdoor-configure.log"
if ! cmake "${cmake_args[@]}" >"$configure_log" 2>&1; then
  cat "$configure_log" >&2
  die "cmake configure failed (log: $configure_log)"
fi
grep -A3 '^CMake Warning' "$configure_log" >&2 || true
[[ "$stop_after" != configure ]] || { log "configured in $((SECONDS - start)) s"; exit 0; }

# --- 3. Build ------------------------------------------------------------------

build_args=(--build "$build_dir" -j "$jobs")
[[ ${#targets[@]} -eq 0 ]] || build_args+=(--target "${targets[@]}")
log "building${targets[*]:+ ${targets[*]}} with $jobs jobs"
cmake "${build_args[@]}" || die "build failed"
log "done in $((SECONDS - start)) s: $build_dir"
