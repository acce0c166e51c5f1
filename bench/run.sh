#!/usr/bin/env bash
# ChittyCharge benchmark on the real stack: nginx (the repo's config, via scripts/run.sh)
# → spawn-fcgi/multiwatch worker pool → memcached, with canned upstream doubles served by
# a separate nginx (bench/upstream.conf.template). One command, ~11–12 minutes:
#
#   bash bench/run.sh                 # full run (5-minute soak)
#   BENCH_QUICK=1 bash bench/run.sh   # ~2.5-minute smoke run (short runs, 15 s soak)
#
# Phases (each load run is wrk -t2 with a Lua script from bench/, bounded by -d):
#   1. upstream doubles at 0 ms; their own ceiling (wrk straight at them)
#   2. reference: the bare libfcgi responder (bench/bare_fcgi.c) in place of the worker,
#      same nginx config, same processes × threads
#   3. the service: idle RSS; nginx's own ceiling on the same nginx (a CORS preflight,
#      answered by the config's `return 204`); (a) GET /health and GET /api/holds/:id of a
#      captured hold, then the latter alternately with a bare pool behind a second nginx
#      rendered from the same config (the side-by-side ratio); (b) POST /api/holds at 0 ms, 64 and 256 connections; Stripe double
#      switched to 200 ms (and its ceiling measured); (c) POST /api/holds at 256
#      connections; RSS after (c); (d) soak with RSS samples
#   4. profile: perf record -e cpu-clock -a during a cached-GET and a create run (the "why")
#   5. (e) one worker process under callgrind: Ir per cached GET, per create, per health
#   6. results: <out>/results.jsonl, <out>/summary.md (also printed)
#   ledger (not in the default run; BENCH_PHASES=ledger): POST /api/holds with the
#      PostgreSQL ledger (this tree's worker) and without it (the worker built from
#      BENCH_BASELINE_REF, the last commit before the ledger was on the request path), two
#      stacks up side by side and measured alternately: creates/s, p50/p99 at 0 ms (64
#      connections) and 200 ms (256), CPU per create by component (PostgreSQL included),
#      idle RSS of the pools and of PostgreSQL, a perf profile of the ledger's create run,
#      and callgrind Ir per create of each worker (with PostgreSQL's CPU from /proc)
#   peer (BENCH_PHASES=peer; ../shared/peer-express/README.md): this project (ledger on) and
#      the Express peer side by side against the peer's Node stubs, a fresh memcached each,
#      wrk POST /api/holds with a fresh Idempotency-Key per request at 0 ms (64 conns) and
#      200 ms (256), rounds alternating the stacks; CPU per create by component, RSS
#
# Environment:
#   BENCH_QUICK=1                 smoke variant (2 s runs, 15 s soak, 200 callgrind requests)
#   BENCH_SOAK_SECONDS            soak length (300; quick 15; 0 skips the soak)
#   BENCH_DURATION                seconds per load run (10; quick 2); BENCH_DURATION_C (20; quick 4)
#   BENCH_PORT_BASE               31000: service 31080/31443, memcached 31211,
#                                 Stripe double 31101, ChittyID double 31102, second nginx 31090/31091
#   BENCH_BUILD_DIR               <repo>/build-bench (the worker is (re)built there first)
#   BENCH_OUT                     results dir (default <build dir>/bench-out/<timestamp>)
#   BENCH_SIDE_ROUNDS             alternating service/bare rounds for (a) (3; quick 2; 0 skips)
#   BENCH_SKIP_CALLGRIND=1        skip phase 5;  BENCH_CALLGRIND_REQUESTS (2000; quick 200)
#   BENCH_SOAK_CONNS / BENCH_SOAK_DELAY_MS   soak load: 16 connections, 20 ms apart (≤ 800 req/s)
#   CHITTYCHARGE_PROCESSES / CHITTYCHARGE_IN_FLIGHT   passed through (unset = the service
#                                 defaults); CHITTYCHARGE_THREADS, the old name of
#                                 CHITTYCHARGE_IN_FLIGHT, is read as it when that is unset
#   CHITTYCHARGE_WORKER           benchmark another worker binary
#   BENCH_WAIT_QUIET              seconds to wait (per phase) for other processes' CPU to fall
#                                 below 10 % before measuring (0: only record it)
#   BENCH_KEEP_LOGS=1             keep the full access/worker logs (default: last 5000 lines of
#                                 any log over 20 MB; a full run writes ~1 GB)
#   BENCH_PHASES                  subset/order of "upstream bare service peer profile callgrind" (all);
#                                 also "levers" (bench/levers.sh), "ledger" and "peer"
#   BENCH_PEER_ROUNDS             the peer phase's alternating rounds (2; quick 1);
#                                 BENCH_PEER_WARMUP seconds of creates on each stack first (20; quick 6);
#                                 BENCH_PEER_DURATION seconds per run (BENCH_DURATION);
#                                 BENCH_PEER_DIR the peer (<repo>/../shared/peer-express),
#                                 installed with npm ci into <build dir>/peer-express;
#                                 ports BENCH_PORT_BASE + 121/122 (Node stubs), 221/222
#                                 (memcached per stack), 190/191 (the peer, its nginx)
#   BENCH_PG_PORT                 the stack's private PostgreSQL (BENCH_PORT_BASE + 432; the
#                                 ledger phase's second stack + 532)
# The ledger phase (its second stack: service BENCH_PORT_BASE + 180/543, memcached + 311):
#   BENCH_BASELINE_REF            the worker without the ledger (38f8b42), built from a git
#                                 worktree of it (<repo>/build-bench-baseline-src) into
#                                 <repo>/build-bench-baseline with this build's CMake flags,
#                                 incrementally (BENCH_BASELINE_WORKER: use that binary instead)
#   BENCH_LEDGER_ROUNDS           alternating rounds (3; quick 2), each: both workers at 0 ms
#                                 c64, then both at 200 ms c256 (order flipped every round)
#   BENCH_LEDGER_DURATION         seconds per load run (BENCH_DURATION)
#   BENCH_LEDGER_CALLGRIND_REQUESTS  creates per worker under callgrind (500; quick 100;
#                                 BENCH_SKIP_CALLGRIND=1 skips)
#   BENCH_LEDGER_PERF=0           skip the perf profile of the ledger's create run
#   BENCH_LEDGER_PG_VARIANT       a third stack in the rounds: the ledger's worker with its
#                                 PostgreSQL started with these flags ("-c synchronous_commit=off":
#                                 what the commits' WAL flushes cost; "" skips it)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
readonly LOG_TAG=bench
BENCH="$REPO/bench"
readonly BENCH

QUICK="${BENCH_QUICK:-0}"
if [[ $QUICK == 1 ]]; then
  DURATION="${BENCH_DURATION:-2}"
  DURATION_C="${BENCH_DURATION_C:-4}"
  SOAK="${BENCH_SOAK_SECONDS:-15}"
  CG_N="${BENCH_CALLGRIND_REQUESTS:-200}"
  WARMUP=1
  SIDE_DURATION=2
  SIDE_ROUNDS_DEFAULT=2
else
  DURATION="${BENCH_DURATION:-10}"
  DURATION_C="${BENCH_DURATION_C:-20}"
  SOAK="${BENCH_SOAK_SECONDS:-300}"
  CG_N="${BENCH_CALLGRIND_REQUESTS:-2000}"
  WARMUP=2
  SIDE_DURATION=6
  SIDE_ROUNDS_DEFAULT=3
fi
BASE="${BENCH_PORT_BASE:-31000}"
HTTP_PORT=$((BASE + 80))
HTTPS_PORT=$((BASE + 443))
MEMCACHED_PORT=$((BASE + 211))
STRIPE_PORT=$((BASE + 101))
CHITTYID_PORT=$((BASE + 102))
BUILD="${BENCH_BUILD_DIR:-$REPO/build-bench}"
WORKER="${CHITTYCHARGE_WORKER:-$BUILD/chittycharge}"
# The migrations tool scripts/run.sh runs before the pool: beside the worker, else the
# default build's. Passed explicitly, since a stack's worker may be a wrapper (callgrind)
# or another tree's binary (the ledger phase's baseline).
MIGRATE="${CHITTYCHARGE_MIGRATE:-$(dirname "$WORKER")/chittycharge-migrate}"
[[ -x $MIGRATE || -n ${CHITTYCHARGE_MIGRATE:-} ]] || MIGRATE="$REPO/build/chittycharge-migrate"
PG_PORT="${BENCH_PG_PORT:-$((BASE + 432))}"
BASELINE_REF="${BENCH_BASELINE_REF:-38f8b42}"
BASELINE_SRC="$REPO/build-bench-baseline-src"
BASELINE_BUILD="$REPO/build-bench-baseline"
BASELINE_WORKER="${BENCH_BASELINE_WORKER:-$BASELINE_BUILD/chittycharge}"
OUT="${BENCH_OUT:-$BUILD/bench-out/$(date +%Y%m%d-%H%M%S)}"
RESULTS="$OUT/results.jsonl"
TOKEN="bench-client-token-0123456789"
CHITTYID_TOKEN="bench-chittyid-token"
SOAK_CONNS="${BENCH_SOAK_CONNS:-16}"
export BENCH_SOAK_DELAY_MS="${BENCH_SOAK_DELAY_MS:-20}"
export BENCH_TOKEN="$TOKEN"
export BENCH_LUA_DIR="$BENCH"
SERVICE_URL="http://127.0.0.1:$HTTP_PORT"

# CHITTYCHARGE_THREADS is the old name of CHITTYCHARGE_IN_FLIGHT (the service reads it for
# one release and refuses both set to different values). Fold it in here, so the stacks
# below that set CHITTYCHARGE_IN_FLIGHT never hand the service both names.
if [[ -n ${CHITTYCHARGE_THREADS:-} ]]; then
  if [[ -n ${CHITTYCHARGE_IN_FLIGHT:-} && $CHITTYCHARGE_IN_FLIGHT != "$CHITTYCHARGE_THREADS" ]]; then
    printf 'bench: ERROR: CHITTYCHARGE_IN_FLIGHT=%s but CHITTYCHARGE_THREADS (its old name)=%s\n' \
      "$CHITTYCHARGE_IN_FLIGHT" "$CHITTYCHARGE_THREADS" >&2
    exit 1
  fi
  export CHITTYCHARGE_IN_FLIGHT="$CHITTYCHARGE_THREADS"
fi
unset CHITTYCHARGE_THREADS

STACK_PID=""
STACK_DIR=""
PG_PIDFILE="" # the PostgreSQL a stack uses when not its own (the ledger phase's baseline)
# Stacks kept up beside each other (the ledger phase): key -> pid, run dir, URL, pg pid file.
declare -A STACKS_PID=() STACKS_DIR=() STACKS_URL=() STACKS_PG=()
UP_DIR="$OUT/upstream"
UP_PID=""

# bg_wait COMMAND...: runs COMMAND as a background job and waits, so INT/TERM reach this
# script's trap at once (bash defers traps while a foreground child runs).
bg_wait() {
  "$@" &
  local pid=$! status=0
  wait "$pid" || status=$?
  return "$status"
}

say() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- cleanup

# stop_pid PID SIGNAL TENTHS NAME: sends SIGNAL, waits up to TENTHS × 0.1 s, then SIGKILL.
stop_pid() {
  local pid=$1 sig=$2 tenths=$3 name=$4 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    printf 'bench: %s (pid %s) did not stop in %s s; killing it\n' "$name" "$pid" "$((tenths / 10))" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_stack() {
  [[ -n $STACK_PID ]] || return 0
  stop_pid "$STACK_PID" TERM 600 scripts/run.sh
  local key
  for key in "${!STACKS_PID[@]}"; do
    [[ ${STACKS_PID[$key]} == "$STACK_PID" ]] && unset "STACKS_PID[$key]"
  done
  STACK_PID=""
}

stop_all_stacks() {
  local key
  for key in "${!STACKS_PID[@]}"; do
    [[ ${STACKS_PID[$key]} == "$STACK_PID" ]] && continue
    stop_pid "${STACKS_PID[$key]}" TERM 600 "scripts/run.sh ($key)"
    unset "STACKS_PID[$key]"
  done
  stop_stack
}

stop_upstream() {
  [[ -n $UP_PID ]] || return 0
  stop_pid "$UP_PID" QUIT 100 "the upstream nginx"
  UP_PID=""
}

cleanup() {
  local status=$?
  set +e
  trap '' INT TERM
  # Any wrk or helper this script started is a direct child: end them by pid.
  local child
  for child in $(jobs -p); do
    [[ $child == "$STACK_PID" || $child == "$UP_PID" ]] && continue
    kill -TERM "$child" 2>/dev/null
  done
  stop_all_stacks
  peer_stop_all
  stop_upstream
  ((status == 0)) || printf 'bench: failed (status %s); logs in %s\n' "$status" "$OUT" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- checks and build

# What the bench needs beyond scripts/setup.sh's packages; preflight installs the missing.
# Not node and npm (the peer phase): the peer wants node >= 20, newer than Debian 12's.
BENCH_PACKAGES=(wrk nginx libnginx-mod-http-echo spawn-fcgi multiwatch memcached valgrind libfcgi-dev
  linux-perf)

install_bench_packages() {
  local pkg missing=()
  for pkg in "${BENCH_PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return
  say "installing ${missing[*]}"
  mkdir -p "$OUT"
  apt_install "${missing[@]}" >"$OUT/apt-get.log" 2>&1 ||
    die "could not install ${missing[*]}; see $OUT/apt-get.log"
}

preflight() {
  local tool
  install_bench_packages
  for tool in wrk nginx spawn-fcgi multiwatch memcached curl python3 cc valgrind callgrind_control; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install wrk nginx libnginx-mod-http-echo spawn-fcgi multiwatch memcached valgrind libfcgi-dev)"
  done
  [[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]] ||
    die "the nginx echo module is missing (apt-get install libnginx-mod-http-echo)"
  local port
  for port in "$HTTP_PORT" "$HTTPS_PORT" "$MEMCACHED_PORT" "$STRIPE_PORT" "$CHITTYID_PORT" $((BASE + 90)) $((BASE + 91)) \
    "$PG_PORT" $((BASE + 180)) $((BASE + 543)) $((BASE + 311)) $((BASE + 532)) \
    $((BASE + 280)) $((BASE + 643)) $((BASE + 411)) $((BASE + 632)); do
    port_in_use "$port" && die "port $port is in use; set BENCH_PORT_BASE to another base"
  done
  if [[ -n ${CHITTYCHARGE_WORKER:-} ]]; then
    [[ -x $WORKER ]] || die "CHITTYCHARGE_WORKER=$WORKER is not executable"
  else
    # Always (incrementally) rebuilt, so a benchmark never measures a stale worker.
    say "building the worker in $BUILD (RelWithDebInfo)"
    [[ -f $BUILD/CMakeCache.txt ]] || cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" --target chittycharge chittycharge-migrate >"$BUILD/bench-build.log" 2>&1 ||
      die "building the worker failed; see $BUILD/bench-build.log"
  fi
  [[ -x $MIGRATE ]] || die "$MIGRATE (chittycharge-migrate, which scripts/run.sh runs) is missing; set CHITTYCHARGE_MIGRATE"
  [[ " ${BENCH_PHASES:-} " == *" ledger "* ]] && build_baseline
  mkdir -p "$OUT" "$UP_DIR/upstream-tmp" "$OUT/bin"
  cc -O2 -g -Wall -Wextra -pthread -o "$OUT/bin/bare_fcgi" "$BENCH/bare_fcgi.c" -lfcgi
}

record_meta() {
  local json
  json="$(python3 - "$@" <<'PY'
import json, os, platform, re, subprocess, sys, datetime
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout + \
               subprocess.run(cmd, capture_output=True, text=True, check=False).stderr
    except OSError:
        return ""
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
repo, worker, quick, dur, dur_c, soak, build_type = sys.argv[1:8]
git = sh("git", "-C", repo, "rev-parse", "--short", "HEAD").strip()
dirty = sh("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").strip()
print(json.dumps({
    "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    "command": " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ)
                        if k.startswith("BENCH_") and k not in ("BENCH_TOKEN", "BENCH_LUA_DIR", "BENCH_SOAK_DELAY_MS", "BENCH_HOLD_ID"))
               + (" " if any(k.startswith("BENCH_") for k in os.environ) else "") + "bash bench/run.sh",
    "nproc": os.cpu_count(), "cpu_model": cpu, "mem": f"{int(mem) / 1048576:.0f} GiB RAM",
    "kernel": platform.release(),
    "nginx": re.sub(r"^.*nginx/", "", sh("nginx", "-v").strip()),
    "wrk": (sh("wrk", "-v").split() or ["?", "?"])[1],
    "git": git + (" (with local changes)" if dirty else ""),
    "worker": worker, "build_type": build_type,
    "duration": float(dur), "duration_c": float(dur_c), "soak_s": float(soak),
}))
PY
)"
  python3 "$BENCH/benchlib.py" meta --results "$RESULTS" --json "$json"
}

# ---------------------------------------------------------------- upstream doubles

render_upstream() {
  python3 "$BENCH/benchlib.py" render-upstream --template "$BENCH/upstream.conf.template" \
    --out "$UP_DIR/upstream.conf" --run-dir "$UP_DIR" --stripe-port "$STRIPE_PORT" \
    --chittyid-port "$CHITTYID_PORT" --delay-ms "$1"
  nginx -t -q -p "$UP_DIR" -c "$UP_DIR/upstream.conf" -e "$UP_DIR/upstream-error.log" -g 'daemon off;' ||
    die "nginx rejected $UP_DIR/upstream.conf"
}

upstream_delay_is() {
  [[ $(curl -s --max-time 2 "http://127.0.0.1:$STRIPE_PORT/bench/delay" 2>/dev/null) == "{\"delay_ms\":$1}" ]]
}

start_upstream() {
  render_upstream 0
  nginx -p "$UP_DIR" -c "$UP_DIR/upstream.conf" -e "$UP_DIR/upstream-error.log" -g 'daemon off;' \
    >>"$UP_DIR/upstream.log" 2>&1 &
  UP_PID=$!
  wait_until 10 "the upstream doubles" upstream_delay_is 0
}

set_stripe_delay() {
  render_upstream "$1"
  kill -HUP "$UP_PID"
  wait_until 15 "the Stripe double at $1 ms" upstream_delay_is "$1"
  sleep 1 # old upstream workers close their idle keep-alive connections
}

# ---------------------------------------------------------------- the stack (scripts/run.sh)

# start_stack NAME WORKER_BINARY [VAR=VALUE...]: scripts/run.sh in the background.
start_stack() {
  local name=$1 worker=$2
  shift 2
  STACK_DIR="$OUT/$name"
  mkdir -p "$STACK_DIR"
  # Each stack has a run dir of its own: its metrics file (run.sh makes a fresh one) and,
  # unless DATABASE_URL is given here, its private PostgreSQL.
  env -u MEMCACHED_SERVERS -u CHITTYCHARGE_CA_FILE -u CHITTYCHARGE_METRICS_FILE -u DATABASE_URL \
    CHITTYCHARGE_SKIP_SETUP=1 \
    CHITTYCHARGE_RUN_DIR="$STACK_DIR" \
    CHITTYCHARGE_HTTP_PORT="$HTTP_PORT" CHITTYCHARGE_HTTPS_PORT="$HTTPS_PORT" \
    CHITTYCHARGE_MEMCACHED_PORT="$MEMCACHED_PORT" \
    CHITTYCHARGE_PG_PORT="$PG_PORT" CHITTYCHARGE_MIGRATE="$MIGRATE" \
    CHITTYCHARGE_WORKER="$worker" \
    CHITTYCHARGE_NGINX_LIMIT_LOOPBACK=0 \
    STRIPE_SECRET_KEY=sk_test_bench STRIPE_WEBHOOK_SECRET=whsec_bench \
    STRIPE_API_BASE="http://127.0.0.1:$STRIPE_PORT" \
    CHITTY_ID_URL="http://127.0.0.1:$CHITTYID_PORT" CHITTY_ID_TOKEN="$CHITTYID_TOKEN" \
    CHITTYCHARGE_API_TOKENS="bench:$TOKEN:PREMIUM_PROPERTY:1000000000" \
    RATE_LIMIT_PER_MINUTE=1000000000 \
    "$@" bash "$REPO/scripts/run.sh" >"$STACK_DIR/run.log" 2>&1 &
  STACK_PID=$!
  local deadline=$((SECONDS + 200))
  until grep -q '^READY ' "$STACK_DIR/run.log" 2>/dev/null; do
    if ! kill -0 "$STACK_PID" 2>/dev/null; then
      tail -n 30 "$STACK_DIR/run.log" >&2
      die "scripts/run.sh ($name) exited during start-up; see $STACK_DIR"
    fi
    ((SECONDS < deadline)) || die "scripts/run.sh ($name) not READY after 200 s; see $STACK_DIR/run.log"
    sleep 0.2
  done
  # run.sh refreshes workers.pid every 2 s; wait until every worker is listed.
  sleep 2.5
}

stack_alive() {
  kill -0 "$STACK_PID" 2>/dev/null || { tail -n 20 "$STACK_DIR/run.log" >&2; die "the stack in $STACK_DIR stopped"; }
}

worker_pids() { pgrep -P "$(cat "$STACK_DIR/pool.pid")" | tr '\n' ' '; }

# The OS threads per worker that serve requests (the service's event loops, the bare
# responder's accept threads), and the requests each worker takes at once (the
# service's fiber slots; the bare responder's threads): from the "serving" log line.
served_threads() {
  grep -o '"loops":[0-9]*\|serving with [0-9]* threads' "$STACK_DIR/worker.log" 2>/dev/null |
    tail -n 1 | grep -o '[0-9][0-9]*' || printf '%s' "${CHITTYCHARGE_LOOPS:-?}"
}
served_slots() {
  grep -o '"slots":[0-9]*\|serving with [0-9]* threads' "$STACK_DIR/worker.log" 2>/dev/null |
    tail -n 1 | grep -o '[0-9][0-9]*' || printf '%s' "${CHITTYCHARGE_IN_FLIGHT:-?}"
}

api() { # METHOD PATH [BODY]: prints "<status> <body>"
  local method=$1 path=$2 body=${3:-}
  local args=(-s --max-time 10 -o /dev/stdout -w ' %{http_code}' -X "$method"
    -H "ChittyID-Token: $TOKEN" -H 'Content-Type: application/json')
  [[ -n $body ]] && args+=(-d "$body")
  curl "${args[@]}" "$SERVICE_URL$path"
}

# A hold that is captured, so GET /api/holds/:id is a pure cache hit (terminal status).
make_captured_hold() {
  local answer id
  answer="$(api POST /api/holds '{"amount": 25000, "description": "bench"}')"
  [[ ${answer##* } == 201 ]] || die "create hold answered: $answer"
  id="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1].rsplit(" ",1)[0])["id"])' "$answer")"
  sleep 1.1 # capture re-reads a non-capturable cached hold only from another second
  answer="$(api POST "/api/holds/$id/capture" '{}')"
  [[ ${answer##* } == 200 ]] || die "capture answered: $answer"
  answer="$(api GET "/api/holds/$id")"
  [[ ${answer##* } == 200 && $answer == *'"status":"succeeded"'* ]] ||
    die "GET of the captured hold answered: $answer"
  printf '%s' "$id"
}

# ---------------------------------------------------------------- load runs

settings_json() {
  printf '{"processes":%s,"threads":"%s","slots":"%s","stripe_delay_ms":%s}' \
    "$(wc -w <<<"$(worker_pids)")" "$(served_threads)" "$(served_slots)" "${STRIPE_DELAY:-0}"
}

# load FIGURE LABEL SCRIPT CONNS [DURATION [URL]]   (NGINX_PIDFILE: a variant nginx)
load() {
  local figure=$1 label=$2 script=$3 conns=$4 duration=${5:-$DURATION} url=${6:-$SERVICE_URL}
  local svc=() up=(--up-run-dir "$UP_DIR")
  [[ -n $STACK_PID ]] && svc=(--svc-run-dir "$STACK_DIR")
  [[ -n ${NGINX_PIDFILE:-} ]] && svc+=(--nginx-pidfile "$NGINX_PIDFILE")
  [[ -n $STACK_PID && -n ${PG_PIDFILE:-} ]] && svc+=(--pg-pidfile "$PG_PIDFILE")
  bg_wait python3 "$BENCH/benchlib.py" wrk --results "$RESULTS" --label "$label" --figure "$figure" \
    --url "$url" --script "$BENCH/$script" --conns "$conns" --duration "$duration" \
    "${svc[@]}" "${up[@]}" --settings "$( [[ -n $STACK_PID ]] && settings_json || printf '{}')"
}

# warmup SCRIPT CONNS [URL]: unrecorded load, then time for the pool to drain what the
# warm-up left queued (nginx already passed it on; it would delay the measured run).
warmup() {
  bg_wait timeout 30 wrk -t2 -c"$2" -d"${WARMUP}s" -s "$BENCH/$1" "${3:-$SERVICE_URL}" >/dev/null
  [[ -n $STACK_PID ]] || return 0
  local slots
  slots=$(($(wc -w <<<"$(worker_pids)") * $(served_slots)))
  ((slots > 0)) || slots=1
  bg_wait sleep "$(python3 -c "print(0.3 + $2 * ${STRIPE_DELAY:-0} / 1000 / $slots)")"
}

# rss LABEL [FIGURE]: RSS/PSS of the current stack (PostgreSQL: its own, if it has one).
rss() { python3 "$BENCH/benchlib.py" rss --results "$RESULTS" --label "$1" --figure "${2:-}" --svc-run-dir "$STACK_DIR"; }

# ---------------------------------------------------------------- phases

phase_upstream() {
  say "1. upstream doubles (nginx: Stripe on :$STRIPE_PORT, ChittyID on :$CHITTYID_PORT), own ceiling at 0 ms"
  local stripe="http://127.0.0.1:$STRIPE_PORT" chitty="http://127.0.0.1:$CHITTYID_PORT"
  warmup stripe_create.lua 64 "$stripe"
  load ref "Stripe double 0 ms, POST create c64" stripe_create.lua 64 "$DURATION" "$stripe"
  load ref "Stripe double 0 ms, POST create c256" stripe_create.lua 256 "$DURATION" "$stripe"
  load ref "ChittyID double, POST mint c64" chittyid_mint.lua 64 "$DURATION" "$chitty"
}

# The OS threads that serve requests in each service process: its event loops,
# CHITTYCHARGE_LOOPS, else the compiled-in default (src/config/config.h). The bare
# reference runs that many FCGX_Accept_r threads per process: the same layout.
service_threads() {
  if [[ -n ${CHITTYCHARGE_LOOPS:-} ]]; then
    printf '%s' "$CHITTYCHARGE_LOOPS"
    return
  fi
  grep -oE 'int loops = [0-9]+' "$REPO/src/config/config.h" | grep -oE '[0-9]+$' ||
    die "cannot read the default loop count from src/config/config.h; set CHITTYCHARGE_LOOPS"
}

phase_bare() {
  say "2. reference: bare libfcgi responder (bench/bare_fcgi.c) behind the same nginx config"
  BARE_THREADS="$(service_threads)"
  # bare_fcgi's own variable: its FCGX_Accept_r threads (bench/bare_fcgi.c).
  start_stack svc-bare "$OUT/bin/bare_fcgi" CHITTYCHARGE_THREADS="$BARE_THREADS"
  echo "  pool: $(wc -w <<<"$(worker_pids)") processes x $(served_threads) threads (bare_fcgi)"
  export BENCH_HOLD_ID=pi_bare
  warmup get_hold.lua 64
  load ref "bare libfcgi GET /api/holds c64" get_hold.lua 64
  load ref "bare libfcgi GET /api/holds c256" get_hold.lua 256
  load ref "bare libfcgi GET /health c64" health.lua 64
  load ref "bare libfcgi GET /health c256" health.lua 256
  rss "bare libfcgi idle"
  stop_stack
}

# (a) again, robust to background load: the bare responder as a second pool behind a second
# nginx rendered from the same config, measured alternately with the service.
side_by_side() {
  local rounds=${BENCH_SIDE_ROUNDS:-$SIDE_ROUNDS_DEFAULT} vdir="$OUT/side-bare" sock="$OUT/side-bare/bare.sock" pool vpid i
  local vurl="http://127.0.0.1:$((BASE + 90))" procs threads
  ((rounds > 0)) || return 0
  procs=$(wc -w <<<"$(worker_pids)")
  threads=$(served_threads)
  mkdir -p "$vdir"
  rm -f "$sock"
  CHITTYCHARGE_THREADS=$threads spawn-fcgi -n -s "$sock" -M 0660 -b 1024 -- \
    /usr/bin/multiwatch -f "$procs" -s TERM -- "$OUT/bin/bare_fcgi" >>"$vdir/pool.log" 2>&1 &
  pool=$!
  python3 "$BENCH/benchlib.py" nginx-variant --conf "$STACK_DIR/nginx.conf" --out "$vdir/nginx.conf" \
    --out-dir "$vdir" --run-dir "$STACK_DIR" --http-port "$HTTP_PORT" --https-port "$HTTPS_PORT" \
    --port $((BASE + 90)) --variant bare --bare-socket "$sock"
  wait_until 10 "the side-by-side bare pool" test -S "$sock"
  nginx -p "$vdir" -c "$vdir/nginx.conf" -e "$vdir/error.log" -g 'daemon off;' >"$vdir/nginx.log" 2>&1 &
  vpid=$!
  wait_until 10 "the side-by-side nginx" curl -sf -o /dev/null "$vurl/health"
  say "   (a) side by side: service and bare libfcgi ($procs x $threads) alternately, $rounds rounds"
  warmup get_hold.lua 64 "$vurl"
  for ((i = 1; i <= rounds; i++)); do
    load a-side "service GET /api/holds/:id (cached) c64 #$i" get_hold.lua 64 "$SIDE_DURATION"
    NGINX_PIDFILE="$vdir/nginx.pid" load a-side "bare libfcgi GET /api/holds c64 (side nginx) #$i" get_hold.lua 64 \
      "$SIDE_DURATION" "$vurl"
  done
  kill -QUIT "$vpid" 2>/dev/null || true
  wait "$vpid" 2>/dev/null || true
  kill -TERM "$pool" 2>/dev/null || true
  wait "$pool" 2>/dev/null || true
  rm -f "$sock"
}

phase_service() {
  say "3. the service: $WORKER"
  start_stack svc "$WORKER"
  echo "  pool: $(wc -w <<<"$(worker_pids)") processes x $(served_threads) event-loop threads x $(served_slots) requests in flight; workers $(worker_pids)"
  if [[ -n ${BARE_THREADS:-} && $(served_threads) != "$BARE_THREADS" ]]; then
    echo "  WARNING: the bare reference ran $BARE_THREADS threads per process, the service $(served_threads)"
  fi
  sleep 3
  rss idle
  BENCH_HOLD_ID="$(make_captured_hold)"
  export BENCH_HOLD_ID
  echo "  captured hold for (a): $BENCH_HOLD_ID"
  warmup preflight.lua 64
  load ref "nginx return (preflight) c64" preflight.lua 64
  load ref "nginx return (preflight) c256" preflight.lua 256
  warmup health.lua 64
  warmup get_hold.lua 64
  load a "GET /health c64" health.lua 64
  load a "GET /health c256" health.lua 256
  load a "GET /api/holds/:id (cached) c64" get_hold.lua 64
  load a "GET /api/holds/:id (cached) c256" get_hold.lua 256
  side_by_side
  warmup create_hold.lua 64
  load b "POST /api/holds, Stripe 0 ms c64" create_hold.lua 64
  load b "POST /api/holds, Stripe 0 ms c256" create_hold.lua 256
  rss "after (b)"

  say "   Stripe double -> 200 ms"
  STRIPE_DELAY=200
  set_stripe_delay 200
  local stripe="http://127.0.0.1:$STRIPE_PORT"
  load ref "Stripe double 200 ms, POST create c256" stripe_create.lua 256 "$DURATION" "$stripe"
  load ref "Stripe double 200 ms, POST create c1024" stripe_create.lua 1024 "$DURATION" "$stripe"
  warmup create_hold.lua 256
  load c "POST /api/holds, Stripe 200 ms c256" create_hold.lua 256 "$DURATION_C"
  rss "after (c)"

  if [[ $SOAK == 0 ]]; then
    stop_stack
    return
  fi
  say "   soak: ${SOAK}s, $SOAK_CONNS connections, ${BENCH_SOAK_DELAY_MS} ms between requests (Stripe 0 ms)"
  STRIPE_DELAY=0
  set_stripe_delay 0
  bg_wait python3 "$BENCH/benchlib.py" soak --results "$RESULTS" --label soak --url "$SERVICE_URL" \
    --script "$BENCH/soak.lua" --conns "$SOAK_CONNS" --duration "$SOAK" \
    --interval "$([[ $QUICK == 1 ]] && echo 2 || echo 10)" \
    --svc-run-dir "$STACK_DIR" --up-run-dir "$UP_DIR"
  rss "after soak"
  sleep 5
  rss "idle after soak"
  stop_stack
}

phase_profile() {
  if ! command -v perf >/dev/null || ! perf record -e cpu-clock -a -o /dev/null -- true >/dev/null 2>&1; then
    echo "  perf is not usable here; skipping the profile"
    return 0
  fi
  say "profile: perf record -e cpu-clock -a during a cached GET and a create run (64 connections)"
  mkdir -p "$OUT/profile"
  STRIPE_DELAY=0
  upstream_delay_is 0 || set_stripe_delay 0
  start_stack svc-profile "$WORKER"
  BENCH_HOLD_ID="$(make_captured_hold)"
  export BENCH_HOLD_ID
  warmup health.lua 64
  local script label secs=$((DURATION > 4 ? DURATION - 2 : 2))
  for script in get_hold.lua create_hold.lua; do
    label="GET /api/holds/:id (cached) c64"
    [[ $script == create_hold.lua ]] && label="POST /api/holds, Stripe 0 ms c64"
    warmup "$script" 64
    load profile "$label (under perf)" "$script" 64 &
    local loader=$!
    bg_wait sleep 1
    bg_wait perf record -q -e cpu-clock -a -o "$OUT/profile/${script%.lua}.data" -- sleep "$secs" \
      >"$OUT/profile/${script%.lua}.log" 2>&1
    wait "$loader"
    python3 "$BENCH/benchlib.py" perf --results "$RESULTS" --label "$label" \
      --data "$OUT/profile/${script%.lua}.data" | tee "$OUT/profile/${script%.lua}.txt"
  done
  stop_stack
}

CG_DIR="$OUT/callgrind" # where callgrind writes (the ledger phase: one per worker)

callgrind_ctl() { # -z|-d PID
  bg_wait timeout 60 callgrind_control "$1" "$2" >>"$CG_DIR/control.log" 2>&1 ||
    die "callgrind_control $1 $2 failed; see $CG_DIR/control.log"
}

# The newest dump file callgrind wrote.
latest_dump() {
  local f n best=0
  for f in "$CG_DIR"/cg.out.*; do
    n=${f##*.}
    [[ $n =~ ^[0-9]+$ ]] && ((n > best)) && best=$n
  done
  ((best > 0)) || die "callgrind wrote no dump in $CG_DIR"
  printf '%s' "$CG_DIR/cg.out.$best"
}

# PostgreSQL's CPU seconds so far (the postmaster of pid file $1 and its backends).
pg_cpu() { python3 "$BENCH/benchlib.py" cputicks --pidfile "$1"; }

# measure_cg LABEL KIND PID [FIGURE [COUNT [PG_PIDFILE]]]: exactly COUNT ($CG_N) requests
# (one connection) between a zero and a dump; with PG_PIDFILE, also PostgreSQL's CPU (from
# /proc; callgrind sees only the worker).
measure_cg() {
  local label=$1 kind=$2 pid=$3 figure=${4:-} count=${5:-$CG_N} pgfile=${6:-} seconds dump pg0="" pgcpu=""
  callgrind_ctl -z "$pid"
  [[ -n $pgfile ]] && pg0="$(pg_cpu "$pgfile")"
  seconds="$(bg_wait timeout 900 python3 "$BENCH/benchlib.py" fire --url "$SERVICE_URL" --kind "$kind" --count "$count")" ||
    die "callgrind batch $kind failed"
  [[ -n $pgfile ]] && pgcpu="$(python3 -c "print(round($(pg_cpu "$pgfile") - $pg0, 2))")"
  callgrind_ctl -d "$pid"
  stack_alive
  dump="$(latest_dump)"
  python3 "$BENCH/benchlib.py" callgrind --results "$RESULTS" --label "$label" --file "$dump" \
    --idle "$IDLE_DUMP" --idle-seconds "$IDLE_SECONDS" --requests "$count" --seconds "$seconds" \
    --figure "$figure" --pg-cpu-s "$pgcpu" | tee -a "$CG_DIR/summary.txt"
}

phase_callgrind() {
  [[ ${BENCH_SKIP_CALLGRIND:-0} == 1 ]] && return 0
  say "5. callgrind: 1 worker process x 1 event loop x 4 slots under valgrind, $CG_N requests per kind"
  mkdir -p "$OUT/callgrind"
  start_stack svc-callgrind "$BENCH/callgrind-worker.sh" \
    CHITTYCHARGE_PROCESSES=1 CHITTYCHARGE_LOOPS=1 CHITTYCHARGE_IN_FLIGHT=4 CHITTYCHARGE_READY_TIMEOUT=180 \
    BENCH_CALLGRIND_WORKER="$WORKER" BENCH_CALLGRIND_OUT="$OUT/callgrind/cg.out"
  local pid
  pid="$(worker_pids)"
  pid="${pid%% *}"
  [[ -n $pid ]] || die "no worker under callgrind"
  BENCH_HOLD_ID="$(make_captured_hold)"
  export BENCH_HOLD_ID
  # Warm-up: connections, caches, first-use allocations.
  local s
  for s in get_hold create_hold health; do
    bg_wait timeout 300 python3 "$BENCH/benchlib.py" fire --url "$SERVICE_URL" --kind "$s" --count 100 >/dev/null ||
      die "callgrind warm-up ($s) failed"
    stack_alive
  done
  IDLE_SECONDS=$([[ $QUICK == 1 ]] && echo 3 || echo 10)
  callgrind_ctl -z "$pid"
  bg_wait sleep "$IDLE_SECONDS"
  callgrind_ctl -d "$pid"
  sleep 0.5
  IDLE_DUMP="$(latest_dump)"
  measure_cg "GET /api/holds/:id (cached)" get_hold "$pid"
  measure_cg "POST /api/holds (0 ms)" create_hold "$pid"
  measure_cg "GET /health" health "$pid"
  stop_stack
}

# ---------------------------------------------------------------- the ledger phase

# The worker without the ledger: BENCH_BASELINE_REF checked out in a worktree of its own
# (<repo>/build-bench-baseline-src, detached) and built into <repo>/build-bench-baseline
# with this build's CMake build type, compiler and flags; incremental, so a second run
# reuses it. Not the migrations tool: the stacks run this tree's against this tree's db/.
build_baseline() {
  if [[ -n ${BENCH_BASELINE_WORKER:-} ]]; then
    [[ -x $BASELINE_WORKER ]] || die "BENCH_BASELINE_WORKER=$BASELINE_WORKER is not executable"
    return 0
  fi
  local sha flags=()
  sha="$(git -C "$REPO" rev-parse --verify -q "$BASELINE_REF^{commit}")" ||
    die "BENCH_BASELINE_REF=$BASELINE_REF is not a commit of $REPO"
  if [[ ! -e $BASELINE_SRC/.git ]]; then
    git -C "$REPO" worktree prune
    git -C "$REPO" worktree add -q --detach "$BASELINE_SRC" "$sha" >/dev/null ||
      die "git worktree add $BASELINE_SRC $sha failed"
  elif [[ $(git -C "$BASELINE_SRC" rev-parse HEAD) != "$sha" ]]; then
    [[ -z $(git -C "$BASELINE_SRC" status --porcelain --untracked-files=no) ]] ||
      die "$BASELINE_SRC has local changes; it is the bench's checkout of BENCH_BASELINE_REF"
    git -C "$BASELINE_SRC" checkout -q --detach "$sha" || die "checking out $sha in $BASELINE_SRC failed"
  fi
  local var value
  for var in CMAKE_BUILD_TYPE CMAKE_CXX_COMPILER CMAKE_C_COMPILER CMAKE_CXX_FLAGS CMAKE_C_FLAGS; do
    value="$(grep -s "^$var:" "$BUILD/CMakeCache.txt" | cut -d= -f2-)" || true
    [[ -n $value ]] && flags+=("-D$var=$value")
  done
  ((${#flags[@]} > 0)) || flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  say "building the baseline worker ($BASELINE_REF = $(git -C "$REPO" log --format='%h %s' -1 "$sha")) in $BASELINE_BUILD"
  mkdir -p "$BASELINE_BUILD"
  [[ -f $BASELINE_BUILD/CMakeCache.txt ]] ||
    cmake -S "$BASELINE_SRC" -B "$BASELINE_BUILD" "${flags[@]}" >"$BASELINE_BUILD/bench-build.log" 2>&1 ||
    die "configuring the baseline failed; see $BASELINE_BUILD/bench-build.log"
  cmake --build "$BASELINE_BUILD" -j"$(nproc)" --target chittycharge >>"$BASELINE_BUILD/bench-build.log" 2>&1 ||
    die "building the baseline worker failed; see $BASELINE_BUILD/bench-build.log"
}

# start_beside KEY NAME WORKER PORTSET [VAR=VALUE...]: a stack that stays up beside the
# others (the ledger phase). PORTSET 1: the usual ports; 2: service BASE+180/543,
# memcached BASE+311, PostgreSQL BASE+532; 3: the same + 100. Leaves it current (use_stack).
start_beside() {
  local key=$1 name=$2 worker=$3 set=$4 http=$HTTP_PORT https=$HTTPS_PORT memc=$MEMCACHED_PORT pg=$PG_PORT
  shift 4
  if [[ $set == 2 ]]; then
    http=$((BASE + 180)) https=$((BASE + 543)) memc=$((BASE + 311)) pg=$((BASE + 532))
  elif [[ $set == 3 ]]; then
    http=$((BASE + 280)) https=$((BASE + 643)) memc=$((BASE + 411)) pg=$((BASE + 632))
  fi
  STACK_PID=""
  start_stack "$name" "$worker" CHITTYCHARGE_HTTP_PORT="$http" CHITTYCHARGE_HTTPS_PORT="$https" \
    CHITTYCHARGE_MEMCACHED_PORT="$memc" CHITTYCHARGE_PG_PORT="$pg" "$@"
  STACKS_PID[$key]=$STACK_PID
  STACKS_DIR[$key]=$STACK_DIR
  STACKS_URL[$key]="http://127.0.0.1:$http"
  STACKS_PG[$key]=""
  use_stack "$key"
}

# use_stack KEY [PG_PIDFILE]: the stack that load, warmup, rss, worker_pids, api address.
use_stack() {
  STACK_PID=${STACKS_PID[$1]}
  STACK_DIR=${STACKS_DIR[$1]}
  SERVICE_URL=${STACKS_URL[$1]}
  [[ $# -gt 1 ]] && STACKS_PG[$1]=$2
  PG_PIDFILE=${STACKS_PG[$1]}
  stack_alive
}

stop_beside() {
  use_stack "$1"
  stop_stack
  PG_PIDFILE=""
  SERVICE_URL="http://127.0.0.1:$HTTP_PORT"
}

# The libpq URI of a stack's private PostgreSQL, as scripts/run.sh gives its workers.
pg_url_of() { # RUN_DIR PORT
  python3 -c 'import sys, urllib.parse as u; print(f"postgresql://chittycharge@/chittycharge?host={u.quote(sys.argv[1], safe=str())}&port={sys.argv[2]}")' \
    "$1/pg" "$2"
}

# Ir per create of one worker under callgrind (1 process x 1 loop x 4 slots, on port set 2),
# its ledger the phase's PostgreSQL; that PostgreSQL's CPU from /proc over the same batch.
ledger_callgrind() { # KEY WORKER PG_URL PG_PIDFILE
  local key=$1 worker=$2 url=$3 pgfile=$4 n=${BENCH_LEDGER_CALLGRIND_REQUESTS:-$([[ $QUICK == 1 ]] && echo 100 || echo 500)} pid
  CG_DIR="$OUT/callgrind-ledger-$key"
  mkdir -p "$CG_DIR"
  start_beside "cg-$key" "ledger-cg-$key" "$BENCH/callgrind-worker.sh" 2 DATABASE_URL="$url" \
    CHITTYCHARGE_PROCESSES=1 CHITTYCHARGE_LOOPS=1 CHITTYCHARGE_IN_FLIGHT=4 CHITTYCHARGE_READY_TIMEOUT=180 \
    BENCH_CALLGRIND_WORKER="$worker" BENCH_CALLGRIND_OUT="$CG_DIR/cg.out"
  pid="$(worker_pids)"
  pid="${pid%% *}"
  [[ -n $pid ]] || die "no worker under callgrind"
  bg_wait timeout 300 python3 "$BENCH/benchlib.py" fire --url "$SERVICE_URL" --kind create_hold --count 100 >/dev/null ||
    die "callgrind warm-up (create, $key) failed"
  IDLE_SECONDS=$([[ $QUICK == 1 ]] && echo 3 || echo 5)
  callgrind_ctl -z "$pid"
  bg_wait sleep "$IDLE_SECONDS"
  callgrind_ctl -d "$pid"
  sleep 0.5
  IDLE_DUMP="$(latest_dump)"
  measure_cg "ledger: $key, POST /api/holds (0 ms)" create_hold "$pid" ledger "$n" "$pgfile"
  stop_beside "cg-$key"
  CG_DIR="$OUT/callgrind"
}

# POST /api/holds with the ledger (this tree's worker, its private PostgreSQL) and without
# it (the baseline worker; its stack's DATABASE_URL names the same PostgreSQL, which that
# worker ignores, so PostgreSQL's CPU is measured for both: ~0 without). Both stacks stay
# up; the runs alternate, the order flipped every round, so drift and a neighbour's load
# fall on both alike.
phase_ledger() {
  local rounds=${BENCH_LEDGER_ROUNDS:-$([[ $QUICK == 1 ]] && echo 2 || echo 3)}
  local dur=${BENCH_LEDGER_DURATION:-$DURATION} i key order pgfile url keys="with without"
  local variant=${BENCH_LEDGER_PG_VARIANT--c synchronous_commit=off}
  declare -A name=([with]="with ledger" [without]="without ledger" [variant]="with ledger [$variant]")
  say "ledger: POST /api/holds with the ledger ($WORKER) and without ($BASELINE_WORKER), $rounds alternating rounds of ${dur}s runs"
  python3 "$BENCH/benchlib.py" record --results "$RESULTS" --json "$(python3 -c '
import json, sys
print(json.dumps({"kind": "ledger-meta", "with_worker": sys.argv[1], "without_worker": sys.argv[2],
                  "baseline_ref": sys.argv[3], "baseline": sys.argv[4], "rounds": int(sys.argv[5]),
                  "duration_s": float(sys.argv[6]), "pg_options": sys.argv[7], "pg_variant": sys.argv[8]}))' \
    "$WORKER" "$BASELINE_WORKER" "$BASELINE_REF" \
    "$(git -C "$REPO" log --format='%h %s' -1 "$BASELINE_REF" 2>/dev/null || echo "$BASELINE_WORKER")" \
    "$rounds" "$dur" "${CHITTYCHARGE_PG_OPTIONS:-}" "$variant")"
  STRIPE_DELAY=0
  upstream_delay_is 0 || set_stripe_delay 0
  start_beside with ledger-with "$WORKER" 1
  pgfile="${STACKS_DIR[with]}/postgres.pid"
  url="$(pg_url_of "${STACKS_DIR[with]}" "$PG_PORT")"
  start_beside without ledger-without "$BASELINE_WORKER" 2 DATABASE_URL="$url"
  use_stack without "$pgfile"
  if [[ -n $variant ]]; then
    start_beside variant ledger-variant "$WORKER" 3 CHITTYCHARGE_PG_OPTIONS="$variant"
    keys="with variant without"
  fi
  for key in $keys; do
    use_stack "$key"
    echo "  $key: $(wc -w <<<"$(worker_pids)") processes x $(served_threads) loops x $(served_slots) in flight, $SERVICE_URL"
  done
  sleep 3
  for key in with without; do
    use_stack "$key"
    rss "ledger: ${name[$key]}, idle" ledger
  done
  for ((i = 1; i <= rounds; i++)); do
    order=$keys
    ((i % 2 == 0)) && order="$(tr ' ' '\n' <<<"$keys" | tac | tr '\n' ' ')"
    for key in $order; do
      use_stack "$key"
      warmup create_hold.lua 64
      load ledger "ledger: ${name[$key]}, POST /api/holds, Stripe 0 ms c64 #$i" create_hold.lua 64 "$dur"
    done
    STRIPE_DELAY=200
    set_stripe_delay 200
    for key in $order; do
      use_stack "$key"
      warmup create_hold.lua 256
      load ledger "ledger: ${name[$key]}, POST /api/holds, Stripe 200 ms c256 #$i" create_hold.lua 256 "$dur"
    done
    STRIPE_DELAY=0
    set_stripe_delay 0
  done
  sleep 5
  for key in with without; do
    use_stack "$key"
    rss "ledger: ${name[$key]}, idle after load" ledger
  done
  if [[ ${BENCH_LEDGER_PERF:-1} == 1 ]] && command -v perf >/dev/null &&
    perf record -e cpu-clock -a -o /dev/null -- true >/dev/null 2>&1; then
    say "   ledger: perf record -e cpu-clock -a during the ledger's create run (0 ms, 64 connections)"
    mkdir -p "$OUT/profile"
    use_stack with
    local secs=$((dur > 4 ? dur - 2 : 2)) loader
    warmup create_hold.lua 64
    load ledger-profile "ledger: with ledger, POST /api/holds, Stripe 0 ms c64 (under perf)" create_hold.lua 64 "$dur" &
    loader=$!
    bg_wait sleep 1
    bg_wait perf record -q -e cpu-clock -a -o "$OUT/profile/ledger-create.data" -- sleep "$secs" \
      >"$OUT/profile/ledger-create.log" 2>&1
    wait "$loader"
    python3 "$BENCH/benchlib.py" perf --results "$RESULTS" --label "ledger: with ledger, POST /api/holds, Stripe 0 ms c64" \
      --data "$OUT/profile/ledger-create.data" | tee "$OUT/profile/ledger-create.txt"
  fi
  stop_beside without
  [[ -n $variant ]] && stop_beside variant
  if [[ ${BENCH_SKIP_CALLGRIND:-0} != 1 ]]; then
    say "   ledger: callgrind, 1 worker process x 1 loop x 4 slots, each worker, creates one at a time"
    ledger_callgrind with "$WORKER" "$url" "$pgfile"
    ledger_callgrind without "$BASELINE_WORKER" "$url" "$pgfile"
  fi
  stop_beside with
}

# Not in the default run (bash bench/levers.sh runs it): the design levers.
#   BENCH_LEVER_CONFIGS   processes x requests in flight to compare, optionally with extra
#                         environment for the workers ("2x256:CHITTYCHARGE_LOOPS=3");
#                         default: see below
#   BENCH_LEVER_ROUNDS    repeat the configs round-robin N times (noisy machines; the
#                         report shows the median and range per config)
#   BENCH_LEVER_200MS=0   skip the 200 ms run per config
#   BENCH_LEVER_NGINX     nginx variants of the default stack ("keep_conn no_access_log")
phase_levers() {
  local cfg pt p t extra round tag
  for ((round = 1; round <= ${BENCH_LEVER_ROUNDS:-1}; round++)); do
  tag=""
  ((${BENCH_LEVER_ROUNDS:-1} > 1)) && tag=" #$round"
  for cfg in ${BENCH_LEVER_CONFIGS-2x128 2x256 2x256:CHITTYCHARGE_LOOPS=1 2x256:CHITTYCHARGE_LOOPS=3 2x256:CHITTYCHARGE_LOOPS=4 4x128:CHITTYCHARGE_LOOPS=1}; do
    pt=${cfg%%:*}
    p=${pt%x*}
    t=${pt#*x}
    extra=()
    [[ $cfg == *:* ]] && IFS=',' read -r -a extra <<<"${cfg#*:}"
    say "levers: $p processes x $t requests in flight ${extra[*]}"
    STRIPE_DELAY=0
    upstream_delay_is 0 || set_stripe_delay 0
    start_stack "lever-${cfg//[^A-Za-z0-9x=_-]/_}" "$WORKER" CHITTYCHARGE_PROCESSES="$p" CHITTYCHARGE_IN_FLIGHT="$t" "${extra[@]}"
    rss "lever $cfg: idle"
    BENCH_HOLD_ID="$(make_captured_hold)"
    export BENCH_HOLD_ID
    warmup health.lua 64
    warmup get_hold.lua 64
    load lever "${cfg}: GET /api/holds/:id (cached) c64$tag" get_hold.lua 64
    warmup create_hold.lua 64
    load lever "${cfg}: POST /api/holds, Stripe 0 ms c64$tag" create_hold.lua 64
    if [[ ${BENCH_LEVER_200MS:-1} == 1 ]]; then
      STRIPE_DELAY=200
      set_stripe_delay 200
      warmup create_hold.lua 256
      load lever "${cfg}: POST /api/holds, Stripe 200 ms c256$tag" create_hold.lua 256
      rss "lever $cfg: after 200 ms run$tag"
      STRIPE_DELAY=0
      set_stripe_delay 0
    fi
    stop_stack
  done
  done
  local variants=${BENCH_LEVER_NGINX-keep_conn no_access_log} variant vdir vpid vurl
  [[ -n $variants ]] || return 0
  say "levers: nginx variants of the default stack ($variants)"
  start_stack lever-nginx "$WORKER"
  BENCH_HOLD_ID="$(make_captured_hold)"
  export BENCH_HOLD_ID
  warmup health.lua 64
  for variant in baseline $variants; do
    vurl=$SERVICE_URL
    vpid=""
    if [[ $variant != baseline ]]; then
      vdir="$OUT/nginx-$variant"
      mkdir -p "$vdir"
      python3 "$BENCH/benchlib.py" nginx-variant --conf "$STACK_DIR/nginx.conf" --out "$vdir/nginx.conf" \
        --out-dir "$vdir" --run-dir "$STACK_DIR" --http-port "$HTTP_PORT" --https-port "$HTTPS_PORT" \
        --port $((BASE + 90)) --variant "$variant"
      nginx -p "$vdir" -c "$vdir/nginx.conf" -e "$vdir/error.log" -g 'daemon off;' >"$vdir/nginx.log" 2>&1 &
      vpid=$!
      vurl="http://127.0.0.1:$((BASE + 90))"
      wait_until 10 "nginx variant $variant" curl -sf -o /dev/null "$vurl/health"
      NGINX_PIDFILE="$vdir/nginx.pid"
    fi
    warmup get_hold.lua 64 "$vurl"
    load lever "nginx $variant: GET /api/holds/:id (cached) c64" get_hold.lua 64 "$DURATION" "$vurl"
    load lever "nginx $variant: GET /api/holds/:id (cached) c256" get_hold.lua 256 "$DURATION" "$vurl"
    warmup create_hold.lua 64 "$vurl"
    load lever "nginx $variant: POST /api/holds, Stripe 0 ms c64" create_hold.lua 64 "$DURATION" "$vurl"
    NGINX_PIDFILE=""
    if [[ -n $vpid ]]; then
      kill -QUIT "$vpid" 2>/dev/null || true
      wait "$vpid" 2>/dev/null || true
    fi
  done
  stop_stack
}

# ---------------------------------------------------------------- the Express peer, side by side

# The comparison ../shared/peer-express/README.md defines: two of its Node stubs (Stripe,
# ChittyID), a fresh memcached per stack (its flags), this project's stack (scripts/run.sh,
# the ledger on) and the peer (npm ci; node server.js, 2 workers, behind an nginx proxy with
# upstream keepalive), both loaded with wrk -t2 POST /api/holds (its body, a fresh
# Idempotency-Key each request): 0 ms at 64 connections, then 200 ms at 256. Rounds
# alternate the stacks, the order flipped every round. CPU per component from /proc.
PEER_SRC="${BENCH_PEER_DIR:-$REPO/../shared/peer-express}"
PEER_STRIPE_PORT=$((BASE + 121))
PEER_CHITTYID_PORT=$((BASE + 122))
PEER_MEMC_PROJECT=$((BASE + 221))
PEER_MEMC_PEER=$((BASE + 222))
PEER_NODE_PORT=$((BASE + 190))
PEER_HTTP_PORT=$((BASE + 191))
PEER_PIDS=() # the phase's own background processes (stubs, memcacheds, node, nginx)

# peer_install: the peer's files and `npm ci` in $BUILD/peer-express (shared/ stays as it
# is); skipped when the lock file is the one installed.
peer_install() {
  local dir="$BUILD/peer-express" f
  [[ -f $PEER_SRC/server.js && -f $PEER_SRC/package-lock.json ]] ||
    die "the Express peer is not at $PEER_SRC (set BENCH_PEER_DIR)"
  command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are missing (apt-get install nodejs npm)"
  mkdir -p "$dir"
  for f in package.json package-lock.json server.js stub_stripe.js; do cp "$PEER_SRC/$f" "$dir/$f"; done
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.bench-lock" 2>/dev/null; then
    say "peer: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund >"$dir/npm-ci.log" 2>&1) || die "npm ci failed; see $dir/npm-ci.log"
    cp "$dir/package-lock.json" "$dir/node_modules/.bench-lock"
  fi
  PEER_DIR=$dir
}

# peer_bg PIDFILE LOG COMMAND...: a background process of the phase, its pid in PIDFILE.
peer_bg() {
  local pidfile=$1 logfile=$2
  shift 2
  "$@" >"$logfile" 2>&1 &
  PEER_PIDS+=($!)
  printf '%s\n' "$!" >"$pidfile"
}

peer_stop_all() {
  local pid
  for pid in "${PEER_PIDS[@]}"; do stop_pid "$pid" TERM 100 "a peer-phase process"; done
  PEER_PIDS=()
}

stub_latency() { # MS
  curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' -d "{\"ms\":$1}" \
    "http://127.0.0.1:$PEER_STRIPE_PORT/__control/latency" >/dev/null || die "the Stripe stub refused latency $1"
  STRIPE_DELAY=$1
}

peer_nginx_conf() { # DIR
  cat >"$1/nginx.conf" <<CONF
# The peer's front, as ../shared/peer-express/README.md sets it.
worker_processes auto;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/tmp;
  proxy_temp_path $1/tmp;
  upstream peer { server 127.0.0.1:$PEER_NODE_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$PEER_HTTP_PORT;
    location / {
      proxy_pass http://peer;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
}

# peer_load KEY LABEL CONNS: one measured run of the comparison against stack KEY.
peer_load() {
  local key=$1 label=$2 conns=$3 url extra=(--extra "stub_stripe=$OUT/peer-stubs/stripe.pid"
    --extra "stub_chittyid=$OUT/peer-stubs/chittyid.pid")
  if [[ $key == project ]]; then
    url="http://127.0.0.1:$HTTP_PORT"
    extra+=(--svc-run-dir "$STACK_DIR" --extra "memcached=$OUT/peer-stubs/memcached-project.pid")
  else
    url="http://127.0.0.1:$PEER_HTTP_PORT"
    extra+=(--svc-run-dir "$OUT/peer-express" --extra "memcached=$OUT/peer-stubs/memcached-peer.pid")
  fi
  export BENCH_KEY_PREFIX="k$(date +%s%N)"
  bg_wait timeout 30 wrk -t2 -c"$conns" -d"${WARMUP}s" -s "$BENCH/peer_create.lua" "$url" >/dev/null
  bg_wait sleep "$(python3 -c "print(0.5 + $conns * $STRIPE_DELAY / 1000 / 256)")"
  export BENCH_KEY_PREFIX="k$(date +%s%N)"
  bg_wait python3 "$BENCH/benchlib.py" wrk --results "$RESULTS" --label "$label" --figure peer \
    --url "$url" --script "$BENCH/peer_create.lua" --conns "$conns" --duration "$PEER_DURATION" \
    "${extra[@]}" --settings "{\"stack\":\"$key\",\"stripe_delay_ms\":$STRIPE_DELAY}"
}

phase_peer() {
  local rounds=${BENCH_PEER_ROUNDS:-$([[ $QUICK == 1 ]] && echo 1 || echo 2)} i key order d="$OUT/peer-express" s="$OUT/peer-stubs"
  PEER_DURATION=${BENCH_PEER_DURATION:-$DURATION}
  peer_install
  local port
  for port in "$PEER_STRIPE_PORT" "$PEER_CHITTYID_PORT" "$PEER_MEMC_PROJECT" "$PEER_MEMC_PEER" "$PEER_NODE_PORT" "$PEER_HTTP_PORT"; do
    port_in_use "$port" && die "port $port is in use; set BENCH_PORT_BASE to another base"
  done
  say "peer: this project and the Express peer, side by side ($rounds rounds of ${PEER_DURATION}s runs; ../shared/peer-express/README.md)"
  mkdir -p "$d/tmp" "$s"
  peer_bg "$s/stripe.pid" "$s/stripe.log" node "$PEER_DIR/stub_stripe.js" --port "$PEER_STRIPE_PORT"
  peer_bg "$s/chittyid.pid" "$s/chittyid.log" node "$PEER_DIR/stub_stripe.js" --port "$PEER_CHITTYID_PORT"
  local run_as=()
  [[ $EUID -eq 0 ]] && run_as=(-u nobody)
  peer_bg "$s/memcached-project.pid" "$s/memcached-project.log" \
    memcached -l 127.0.0.1 -p "$PEER_MEMC_PROJECT" -U 0 -m 256 -c 4096 -t 2 "${run_as[@]}"
  peer_bg "$s/memcached-peer.pid" "$s/memcached-peer.log" \
    memcached -l 127.0.0.1 -p "$PEER_MEMC_PEER" -U 0 -m 256 -c 4096 -t 2 "${run_as[@]}"
  wait_until 15 "the Node stubs" curl -sf -o /dev/null "http://127.0.0.1:$PEER_CHITTYID_PORT/health"
  wait_until 15 "the Stripe stub" curl -sf -o /dev/null "http://127.0.0.1:$PEER_STRIPE_PORT/health"
  wait_until 10 "memcached" port_in_use "$PEER_MEMC_PEER"
  stub_latency 0
  # The peer: node's cluster primary is "the pool" (pool.pid), its workers the "workers".
  peer_bg "$d/pool.pid" "$d/node.log" env -i PATH="$PATH" HOME="$d" NODE_ENV=production \
    PORT="$PEER_NODE_PORT" HOST=127.0.0.1 WORKERS=2 \
    STRIPE_SECRET_KEY=sk_test_bench STRIPE_API_BASE="http://127.0.0.1:$PEER_STRIPE_PORT" \
    CHITTY_ID_URL="http://127.0.0.1:$PEER_CHITTYID_PORT" CHITTY_ID_TOKEN="$CHITTYID_TOKEN" \
    MEMCACHED_SERVERS="127.0.0.1:$PEER_MEMC_PEER" CHITTYCHARGE_API_TOKENS="bench:$TOKEN:PREMIUM_PROPERTY" \
    RATE_LIMIT_PER_MINUTE=1000000000 node "$PEER_DIR/server.js"
  # env -i ... node: the pool pid must be node's own, not env's (env execs node).
  peer_nginx_conf "$d"
  peer_bg "$d/nginx-master.pid" "$d/nginx.log" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;'
  wait_until 30 "the Express peer behind nginx" curl -sf -o /dev/null "http://127.0.0.1:$PEER_HTTP_PORT/health"
  # The project: its run command's stack, pointed at the same kind of stubs and memcached.
  STACK_PID=""
  start_stack peer-project "$WORKER" STRIPE_API_BASE="http://127.0.0.1:$PEER_STRIPE_PORT" \
    CHITTY_ID_URL="http://127.0.0.1:$PEER_CHITTYID_PORT" MEMCACHED_SERVERS="127.0.0.1:$PEER_MEMC_PROJECT"
  echo "  project: $(wc -w <<<"$(worker_pids)") processes x $(served_threads) loops x $(served_slots) in flight; peer: node with $(pgrep -c -P "$(cat "$d/pool.pid")") workers"
  sleep 2
  rss "peer: project, idle" peer
  python3 "$BENCH/benchlib.py" rss --results "$RESULTS" --label "peer: peer, idle" --figure peer --svc-run-dir "$d"
  # Both stacks warmed once before the rounds (Node's JIT, the ledger's caches): a cold
  # peer ran at half its rate in the first round otherwise. With 6 s, the project's first
  # round still ran 10-20 % below its second in every run (its ledger then held a few
  # thousand holds; autoanalyze re-plans the statements at every 10 % of growth), so the
  # default is 20 s each (~25,000 holds), closer to a ledger in service.
  local warmup=${BENCH_PEER_WARMUP:-$([[ $QUICK == 1 ]] && echo 6 || echo 20)}
  export BENCH_KEY_PREFIX="w$(date +%s%N)"
  for key in project peer; do
    bg_wait timeout $((warmup + 30)) wrk -t2 -c64 -d"${warmup}s" -s "$BENCH/peer_create.lua" \
      "$([[ $key == project ]] && echo "http://127.0.0.1:$HTTP_PORT" || echo "http://127.0.0.1:$PEER_HTTP_PORT")" >/dev/null
  done
  for ((i = 1; i <= rounds; i++)); do
    order="project peer"
    ((i % 2 == 0)) && order="peer project"
    stub_latency 0
    for key in $order; do peer_load "$key" "peer: $key, POST /api/holds, Stripe 0 ms c64 #$i" 64; done
    stub_latency 200
    for key in $order; do peer_load "$key" "peer: $key, POST /api/holds, Stripe 200 ms c256 #$i" 256; done
  done
  stub_latency 0
  sleep 5
  rss "peer: project, idle after load" peer
  python3 "$BENCH/benchlib.py" rss --results "$RESULTS" --label "peer: peer, idle after load" --figure peer --svc-run-dir "$d"
  stop_stack
  peer_stop_all
}

# A full run writes ~1 GB of access and worker logs; keep the tail of each unless asked.
trim_logs() {
  [[ ${BENCH_KEEP_LOGS:-0} == 1 ]] && return 0
  local f lines
  while IFS= read -r f; do
    lines=$(wc -l <"$f")
    tail -n 5000 "$f" >"$f.tail"
    printf '(bench/run.sh kept the last 5000 of %s lines; BENCH_KEEP_LOGS=1 keeps them all)\n' "$lines" |
      cat - "$f.tail" >"$f"
    rm -f "$f.tail"
  done < <(find "$OUT" -name '*.log' -size +20M)
}

main() {
  preflight
  record_meta "$REPO" "$WORKER" "$QUICK" "$DURATION" "$DURATION_C" "$SOAK" \
    "$(grep -s '^CMAKE_BUILD_TYPE' "$(dirname "$WORKER")/CMakeCache.txt" | cut -d= -f2)"
  echo "bench: results in $OUT (ports $BASE+: service $HTTP_PORT, Stripe double $STRIPE_PORT, ChittyID double $CHITTYID_PORT)"
  start_upstream
  local phase
  for phase in ${BENCH_PHASES:-upstream bare service peer profile callgrind}; do
    bg_wait python3 "$BENCH/benchlib.py" quiet --results "$RESULTS" --label "phase $phase" \
      --wait "${BENCH_WAIT_QUIET:-0}"
    "phase_$phase"
  done
  stop_upstream
  trim_logs
  say "summary ($OUT/summary.md)"
  python3 "$BENCH/benchlib.py" report --results "$RESULTS" --out "$OUT/summary.md"
  ln -sfn "$OUT" "$(dirname "$OUT")/latest" 2>/dev/null || true
}

main "$@"
