#!/bin/sh
# The worker under callgrind, for bench/run.sh's instruction counts (figure e).
# scripts/run.sh starts it as CHITTYCHARGE_WORKER (spawn-fcgi → multiwatch → this, with the
# FastCGI socket on fd 0, which valgrind passes through). Counting starts at once; run.sh
# zeroes and dumps the counters with callgrind_control around each measured batch.
#   BENCH_CALLGRIND_WORKER  the real worker binary
#   BENCH_CALLGRIND_OUT     the callgrind output file (dumps get .1, .2, ... appended)
set -eu
exec valgrind --tool=callgrind --quiet \
  --callgrind-out-file="${BENCH_CALLGRIND_OUT:?}" \
  --dump-instr=no --dump-line=yes --collect-jumps=no \
  --vgdb=yes \
  "${BENCH_CALLGRIND_WORKER:?}"
