#!/usr/bin/env bash
# The design levers behind docs/performance.md's recommendations (~10 minutes):
# processes x requests in flight (CHITTYCHARGE_PROCESSES/_IN_FLIGHT) and event loops per
# process (CHITTYCHARGE_LOOPS) at Stripe 0 ms and 200 ms, and
# nginx variants of the repo config (fastcgi_keep_conn + upstream keepalive; no access
# log) run side by side with the default stack. Same knobs as bench/run.sh, plus
# BENCH_LEVER_CONFIGS and BENCH_LEVER_NGINX (see phase_levers there).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_PHASES=levers BENCH_DURATION="${BENCH_DURATION:-8}" \
  BENCH_OUT="${BENCH_OUT:-$here/../build-bench/bench-out/levers-$(date +%Y%m%d-%H%M%S)}" \
  exec bash "$here/run.sh" "$@"
