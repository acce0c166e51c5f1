#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs each for a
# bounded time on a scratch copy of its seed corpus (the repository is never written).
# Prints one line per target; exits non-zero if any target crashed, leaked, hit UB or an
# invariant, or did not build. A finding's input is kept under build-fuzz/findings/ and
# its report in build-fuzz/logs/<target>.log.
#
# Environment:
#   FUZZ_SECONDS          seconds per target (default 15; five targets)
#   FUZZ_TARGETS          space-separated subset, e.g. "fuzz_router fuzz_signature"
#   FUZZ_JOBS             build parallelism (default: nproc)
#
# Reproduce a finding:  build-fuzz/<target> build-fuzz/findings/<target>/crash-…
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly LOG_TAG=fuzz DIE_STATUS=2
readonly BUILD_DIR="$REPO/build-fuzz"
readonly ALL_TARGETS=(fuzz_signature fuzz_webhook_event fuzz_create_request fuzz_router
  fuzz_claim_items)
readonly SECONDS_PER_TARGET="${FUZZ_SECONDS:-15}"

# setup.sh installs these; this only covers a machine set up before they were added.
ensure_clang() {
  local missing=()
  command -v clang++ >/dev/null || missing+=(clang)
  compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null ||
    missing+=(libclang-rt-14-dev)
  ((${#missing[@]} == 0)) && return
  log "installing ${missing[*]}"
  apt_install "${missing[@]}"
}

# Quiet unless it fails: the output is in build-fuzz/logs/build.log.
build() {
  local logfile="$BUILD_DIR/logs/build.log" start=$SECONDS
  if ! {
    cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER=clang++ -DCHITTYCHARGE_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
      cmake --build "$BUILD_DIR" -j "${FUZZ_JOBS:-$(nproc)}" --target "${TARGETS[@]}"
  } >"$logfile" 2>&1; then
    tail -n 40 "$logfile" >&2
    die "configure/build failed; see $logfile"
  fi
  log "built ${#TARGETS[@]} targets with clang (-fsanitize=fuzzer,address,undefined) in $((SECONDS - start))s"
}

# run_target NAME: fuzzes NAME on a scratch corpus; prints its line; returns 1 on a finding.
run_target() {
  local name=$1 corpus="$SCRATCH/$1" findings="$BUILD_DIR/findings/$1"
  local logfile="$BUILD_DIR/logs/$1.log" status=0 seeds runs cov
  mkdir -p "$corpus" "$findings"
  cp -r "$REPO/fuzz/corpus/$name/." "$corpus/"
  seeds="$(find "$corpus" -type f | wc -l)"
  # -close_fd_mask=2 silences the service's request log lines; libFuzzer and the
  # sanitizers keep reporting on their own copy of stderr.
  (
    export_sanitizer_options
    exec timeout --kill-after=10 "$((SECONDS_PER_TARGET + 60))" \
      "$BUILD_DIR/$name" -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 \
      -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$findings/" "$corpus"
  ) >"$logfile" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logfile" | tail -n 1)"
  cov="$(grep -oE 'cov: [0-9]+' "$logfile" | tail -n 1 || true)"
  if ((status == 0)); then
    printf 'fuzz: %-20s ok     %6s runs in %ss, %s, corpus %s -> %s\n' "$name" "${runs:-?}" \
      "$SECONDS_PER_TARGET" "${cov:-cov: ?}" "$seeds" "$(find "$corpus" -type f | wc -l)"
    return 0
  fi
  printf 'fuzz: %-20s FAILED (status %s): %s; input in %s; log %s\n' "$name" "$status" \
    "$(grep -m1 -E 'ERROR: |runtime error:|fuzz invariant failed|deadly signal|timeout|out-of-memory' \
      "$logfile" | cut -c1-160 || echo 'see log')" "$findings" "$logfile"
  return 1
}

main() {
  local start=$SECONDS failed=0 name
  read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"
  for name in "${TARGETS[@]}"; do
    [[ -d $REPO/fuzz/corpus/$name ]] || die "unknown target $name (no fuzz/corpus/$name)"
  done
  [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || die "FUZZ_SECONDS must be a number of seconds"
  ensure_clang
  mkdir -p "$BUILD_DIR/logs"
  build
  SCRATCH="$(mktemp -d)"
  trap 'rm -rf "$SCRATCH"' EXIT
  for name in "${TARGETS[@]}"; do
    run_target "$name" || failed=$((failed + 1))
  done
  log "$((${#TARGETS[@]} - failed)) of ${#TARGETS[@]} targets clean in $((SECONDS - start))s"
  ((failed == 0))
}

main "$@"
