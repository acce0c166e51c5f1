#!/usr/bin/env bash
# Builds ChittyCharge with AddressSanitizer + UndefinedBehaviorSanitizer (g++, Debug, no
# recovery) into build-asan/ and runs the unit and adapter tests (ctest) under it.
# With CHITTYCHARGE_ASAN_INTEGRATION=1 it then runs the integration tests against the
# ASan worker and fails if any log of that run holds a sanitizer report (a worker that
# aborts is restarted by multiwatch, so a passing test does not prove a clean worker).
# Exits non-zero on any failure; the last line is "asan: … in Ns".
#
# Environment:
#   CHITTYCHARGE_ASAN_INTEGRATION=1   also run tests/integration against build-asan/chittycharge
#   ASAN_JOBS                         build parallelism (default: nproc)
#   PYTEST_ARGS                       extra pytest arguments for the integration run
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly LOG_TAG=asan
readonly BUILD_DIR="$REPO/build-asan"
readonly REPORT_PATTERN='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'

# Every sanitized process started from here (tests, workers under spawn-fcgi/multiwatch)
# inherits these.
export_sanitizer_options

build() {
  log "configuring $BUILD_DIR (g++, Debug, -DCHITTYCHARGE_SANITIZE=ON)"
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Debug \
    -DCHITTYCHARGE_SANITIZE=ON >/dev/null || die "cmake configure failed"
  log "building unit_tests adapter_tests chittycharge"
  cmake --build "$BUILD_DIR" -j "${ASAN_JOBS:-$(nproc)}" \
    --target unit_tests adapter_tests chittycharge || die "build failed"
}

run_ctest() {
  log "ctest (ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS)"
  timeout --kill-after=10 300 ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 240
}

# The harness (tests/integration/conftest.py) makes its run dir with mkdtemp under
# $TMPDIR and keeps it with CHITTYCHARGE_KEEP_RUN_DIR=1: point TMPDIR at a scratch
# directory of ours, then read every log the stack wrote (worker.log has the workers'
# stderr). The scratch directory is removed when clean, kept when something was found.
run_integration() {
  local scratch status=0 extra=() reports=()
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  scratch="$(mktemp -d /tmp/chittycharge-asan.XXXXXX)"
  # The stacks' PostgreSQL runs as an unprivileged user when we are root: it must be able
  # to traverse into the run dirs below (o+x only; nobody can list it).
  chmod o+x "$scratch"
  log "integration tests against $BUILD_DIR/chittycharge (run dir under $scratch)"
  (
    cd "$REPO"
    TMPDIR="$scratch" CHITTYCHARGE_KEEP_RUN_DIR=1 CHITTYCHARGE_WORKER="$BUILD_DIR/chittycharge" \
      CHITTYCHARGE_TEST_PORT_OFFSET="${CHITTYCHARGE_TEST_PORT_OFFSET:-1000}" \
      timeout --kill-after=30 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=15 \
      tests/integration "${extra[@]}"
  ) || status=$?
  mapfile -t reports < <(grep -rIlE "$REPORT_PATTERN" "$scratch" 2>/dev/null || true)
  if ((${#reports[@]} > 0)); then
    log "sanitizer reports in the integration run's logs (${reports[*]}):"
    grep -IE -m 5 -A 12 "$REPORT_PATTERN" "${reports[@]}" >&2 || true
    log "logs kept in $scratch"
    return 1
  fi
  if ! compgen -G "$scratch/chittycharge-it-*/worker.log" >/dev/null; then
    log "no worker.log found under $scratch: the stack did not start (logs kept)"
    return 1
  fi
  # LeakSanitizer reports at process exit, so only a worker that exits normally is checked.
  local served stopped
  served="$(grep -ho '"msg":"serving"' "$scratch"/chittycharge-it-*/worker.log | wc -l)"
  stopped="$(grep -ho '"msg":"stopped"' "$scratch"/chittycharge-it-*/worker.log | wc -l)"
  if ((stopped < served)); then
    log "note: $((served - stopped)) of $served workers did not exit normally (no \"stopped\" line),"
    log "      so LeakSanitizer could not check them at exit; ASan/UBSan reports are still checked"
  fi
  if ((status != 0)); then
    log "integration tests failed (status $status); logs kept in $scratch"
    return 1
  fi
  rm -rf "$scratch"
  log "integration: no sanitizer reports in the worker, nginx or stack logs"
}

main() {
  local start=$SECONDS failed=()
  build
  run_ctest || failed+=(ctest)
  if [[ ${CHITTYCHARGE_ASAN_INTEGRATION:-0} == 1 ]]; then
    run_integration || failed+=(integration)
  fi
  if ((${#failed[@]} > 0)); then
    log "FAILED: ${failed[*]} in $((SECONDS - start))s"
    return 1
  fi
  log "clean in $((SECONDS - start))s"
}

main "$@"
