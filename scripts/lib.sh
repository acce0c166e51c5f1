# shellcheck shell=bash
# Helpers shared by scripts/*.sh and bench/run.sh. Sourced, never run:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"            # from scripts/
#   source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh" # from bench/
# It defines functions and REPO only; it changes no shell option and starts nothing.
# scripts/render-nginx.sh does not use it: it is installed on its own (CMakeLists.txt).
#
#   REPO                      the repository root (readonly)
#   LOG_TAG                   set by the caller: the prefix of log and die lines
#   DIE_STATUS                the exit status of die (default 1)
#   WAIT_CHECK                optional: a command wait_until runs before each retry
#
#   log MESSAGE...            "LOG_TAG: MESSAGE" on stdout
#   die MESSAGE...            "LOG_TAG: ERROR: MESSAGE" on stderr, then exit DIE_STATUS
#   as_root COMMAND...        COMMAND as root (sudo unless already root)
#   apt_install PACKAGE...    apt-get update, then install PACKAGEs without recommends
#   port_in_use PORT          true when something accepts connections on 127.0.0.1:PORT
#   wait_until SECONDS WHAT COMMAND...
#                             COMMAND every 0.2 s until it succeeds; die after SECONDS
#   export_sanitizer_options  ASAN_OPTIONS / UBSAN_OPTIONS for our sanitized processes

# shellcheck disable=SC2034  # used by the scripts that source this
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
# ccache (CMakeLists.txt uses it when installed): paths under the clone are hashed relative
# to it and the build directory is not hashed, so a fresh clone in another directory hits
# the objects an earlier clone compiled from the same sources and flags.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$REPO}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

log() { printf '%s: %s\n' "$LOG_TAG" "$*"; }
die() {
  printf '%s: ERROR: %s\n' "$LOG_TAG" "$*" >&2
  exit "${DIE_STATUS:-1}"
}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The check (e.g. run.sh's "did a child die?") may itself die, so a wait fails fast.
wait_until() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    [[ -z ${WAIT_CHECK:-} ]] || "$WAIT_CHECK"
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what"
    sleep 0.2
  done
}

# Every sanitized process started with these (tests, fuzz targets, workers under
# spawn-fcgi/multiwatch) checks leaks and stops at the first report. The caller's own
# options are kept, after ours, so they win. Call it once per shell (or subshell).
export_sanitizer_options() {
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
}
