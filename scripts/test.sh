#!/usr/bin/env bash
# The test command: installs and builds (warnings are errors), then runs the unit
# tests (ctest) and the Python suites (test doubles + integration through the real
# stack).  Every suite runs even when an earlier one failed; the exit status is
# non-zero if anything failed, and the last line is the combined count
# "N passed, M failed".
#
# Environment:
#   CHITTYCHARGE_CMAKE_ARGS   extra cmake arguments (added after -DCHITTYCHARGE_WERROR=ON)
#   PYTEST_ARGS               extra pytest arguments, e.g. "-k holds -x"
#   CHITTYCHARGE_SKIP_SLOW=1  skip the fuzz and ASan+UBSan suites (local quick runs)
#   CHITTYCHARGE_BUILD_TIMEOUT / _CTEST_TIMEOUT / _PYTEST_TIMEOUT   seconds (900/90/900)
#
# The ASan+UBSan suite (its own build, ctest and the integration tests against the
# sanitized worker, on a stack of its own) runs in the background beside the plain
# suites: the integration tests spend most of their time waiting on the stack, so two
# stacks share the two cores well. Its output is printed as one section at the end.
# CHITTYCHARGE_ASAN_TIMEOUT (1800 s) bounds it: its build, ctest and integration tests took
# 1,075 s one morning and over 1,200 s that afternoon on the same 2 cores.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
exec </dev/null

PASSED=0
FAILED=0
NOTES=()
OUT_DIR="$(mktemp -d)"
# The suites' status survives the trap: under set -e a failing kill (the ASan suite already
# finished) would otherwise end the script with 1.
trap 'status=$?; if [[ -n ${ASAN_PID:-} ]]; then kill "$ASAN_PID" 2>/dev/null || true; fi
rm -rf "$OUT_DIR"; exit "$status"' EXIT

section() { printf '\n==== %s ====\n' "$*"; }

# count_in LINE WORD: the number before WORD in a summary line ("3 failed"), or 0.
count_in() {
  if [[ $1 =~ ([0-9]+)\ $2 ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf 0; fi
}

run_setup() {
  section "setup + build (-DCHITTYCHARGE_WERROR=ON)"
  if CHITTYCHARGE_CMAKE_ARGS="-DCHITTYCHARGE_WERROR=ON ${CHITTYCHARGE_CMAKE_ARGS:-}" \
    timeout --kill-after=10 "${CHITTYCHARGE_BUILD_TIMEOUT:-900}" "$REPO/scripts/setup.sh"; then
    return 0
  fi
  FAILED=$((FAILED + 1))
  NOTES+=("build failed")
  return 1
}

run_ctest() {
  section "unit tests (ctest)"
  local status=0 summary total failed
  timeout --kill-after=10 "${CHITTYCHARGE_CTEST_TIMEOUT:-90}" \
    ctest --test-dir build --output-on-failure --timeout 60 2>&1 | tee "$OUT_DIR/ctest.out" ||
    status=$?
  # "100% tests passed, 0 tests failed out of 12"
  summary="$(grep -E 'tests failed out of [0-9]+' "$OUT_DIR/ctest.out" | tail -n 1 || true)"
  if [[ -z $summary ]]; then
    FAILED=$((FAILED + 1))
    NOTES+=("ctest did not run (status $status)")
    return
  fi
  [[ $summary =~ out\ of\ ([0-9]+) ]] && total=${BASH_REMATCH[1]}
  failed="$(count_in "$summary" 'tests failed')"
  PASSED=$((PASSED + total - failed))
  FAILED=$((FAILED + failed))
  NOTES+=("ctest: $((total - failed)) passed, $failed failed")
  if ((status != 0 && failed == 0)); then
    FAILED=$((FAILED + 1))
    NOTES+=("ctest exited with status $status")
  fi
}

run_pytest() {
  section "doubles + integration tests (pytest)"
  local status=0 summary passed failed errors extra=()
  read -r -a extra <<<"${PYTEST_ARGS:-}"
  timeout --kill-after=30 "${CHITTYCHARGE_PYTEST_TIMEOUT:-900}" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=15 tests/doubles tests/integration \
    "${extra[@]}" \
    2>&1 | tee "$OUT_DIR/pytest.out" || status=$?
  # "2 failed, 40 passed, 1 error in 12.3s" (with or without the ==== decoration)
  summary="$(grep -E '(passed|failed|error|no tests ran).* in [0-9.]+s' "$OUT_DIR/pytest.out" | tail -n 1 || true)"
  passed="$(count_in "$summary" passed)"
  failed="$(count_in "$summary" failed)"
  errors="$(count_in "$summary" 'error')"
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed + errors))
  NOTES+=("pytest: $passed passed, $((failed + errors)) failed")
  if ((status != 0 && failed + errors == 0)); then
    FAILED=$((FAILED + 1))
    NOTES+=("pytest exited with status $status")
  fi
}

# run_suite NAME TIMEOUT CMD…: a whole script counted as one passed or failed suite.
run_suite() {
  local name=$1 limit=$2
  shift 2
  section "$name"
  local status=0
  timeout --kill-after=30 "$limit" "$@" || status=$?
  count_suite "$name" "$status"
}

# count_suite NAME STATUS: counts a whole suite as passed (status 0) or failed.
count_suite() {
  local name=$1 status=$2
  if ((status == 0)); then
    PASSED=$((PASSED + 1))
    NOTES+=("$name: passed")
  else
    FAILED=$((FAILED + 1))
    NOTES+=("$name: FAILED (status $status)")
  fi
}

readonly ASAN_SUITE="ASan+UBSan: unit, adapter and integration tests"

# Starts the ASan+UBSan suite in the background (one build job: the other core is the
# plain suites'); finish_asan waits for it and prints its output.
start_asan() {
  timeout --kill-after=30 "${CHITTYCHARGE_ASAN_TIMEOUT:-1800}" \
    env CHITTYCHARGE_ASAN_INTEGRATION=1 ASAN_JOBS="${ASAN_JOBS:-1}" "$REPO/scripts/asan.sh" \
    >"$OUT_DIR/asan.out" 2>&1 &
  ASAN_PID=$!
}

finish_asan() {
  local status=0
  wait "$ASAN_PID" || status=$?
  section "$ASAN_SUITE (ran beside the others)"
  cat "$OUT_DIR/asan.out"
  count_suite "$ASAN_SUITE" "$status"
}

main() {
  local start=$SECONDS slow=1
  [[ ${CHITTYCHARGE_SKIP_SLOW:-0} == 1 ]] && slow=0
  if run_setup && ((slow)); then start_asan; fi
  run_ctest
  run_suite "format (clang-format)" 120 "$REPO/scripts/check-format.sh"
  run_pytest
  if ((slow)); then
    # libFuzzer targets for the signature parser, webhook events, request bodies, the
    # router and claim items, bounded (FUZZ_SECONDS each).
    run_suite "fuzz (libFuzzer, bounded)" "${CHITTYCHARGE_FUZZ_TIMEOUT:-420}" "$REPO/scripts/fuzz.sh"
    if [[ -n ${ASAN_PID:-} ]]; then finish_asan; else count_suite "$ASAN_SUITE" 1; fi
  fi
  section "summary"
  printf '%s\n' "${NOTES[@]}"
  printf 'total time: %ds\n' "$((SECONDS - start))"
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
  ((FAILED == 0))
}

main "$@"
