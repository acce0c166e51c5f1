#!/usr/bin/env bash
# Runs the whole local ChittyCharge stack in the foreground:
#   memcached, (sandbox) Stripe + ChittyID doubles, the spawn-fcgi/multiwatch worker
#   pool and nginx.  Prints "READY http://127.0.0.1:<port>" once /health answers.
#   SIGINT/SIGTERM stops everything it started; so does any child dying.
#
# Environment (besides the service's own variables, see CONTRACT.md):
#   CHITTYCHARGE_SKIP_SETUP=1         do not run scripts/setup.sh first
#   CHITTYCHARGE_RUN_DIR              sockets, pid files, logs, TLS (default <repo>/run)
#   CHITTYCHARGE_HTTP_PORT / _HTTPS_PORT            8080 / 8443
#   CHITTYCHARGE_MEMCACHED_PORT       11211 (only when MEMCACHED_SERVERS is unset)
#   STRIPE_DOUBLE_PORT / CHITTYID_DOUBLE_PORT      12111 / 12112 (sandbox mode)
#   CHITTYCHARGE_STRIPE_DOUBLE_ARGS   extra stripe_double.py flags, e.g. "--self-check"
#   CHITTYCHARGE_PROCESSES            worker processes (default 2)
#   CHITTYCHARGE_WORKER               worker binary (default <repo>/build/chittycharge)
#   CHITTYCHARGE_READY_TIMEOUT        seconds to wait for /health (default 60)
#   CHITTYCHARGE_NGINX_RATE / _BURST  nginx per-IP limit on /api (default 50r/s, burst 100)
#   CHITTYCHARGE_NGINX_WEBHOOK_RATE / _BURST   the same on /webhook (default 50r/s, burst 100)
#   CHITTYCHARGE_NGINX_LIMIT_LOOPBACK=1  apply that limit to loopback clients too
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly LOG_TAG=chittycharge
WAIT_CHECK=check_children # wait_until fails fast when a child died

declare -a CHILDREN=()      # pids in start order
declare -A CHILD_NAME=()    # pid -> name (also the pid file's base name)
POOL_PID=""
TICKER_PID=""

# ---------------------------------------------------------------- configuration

load_settings() {
  RUN_DIR="$(realpath -m "${CHITTYCHARGE_RUN_DIR:-$REPO/run}")"
  HTTP_PORT="${CHITTYCHARGE_HTTP_PORT:-8080}"
  HTTPS_PORT="${CHITTYCHARGE_HTTPS_PORT:-8443}"
  MEMCACHED_PORT="${CHITTYCHARGE_MEMCACHED_PORT:-11211}"
  STRIPE_DOUBLE_PORT="${STRIPE_DOUBLE_PORT:-12111}"
  CHITTYID_DOUBLE_PORT="${CHITTYID_DOUBLE_PORT:-12112}"
  PROCESSES="${CHITTYCHARGE_PROCESSES:-2}"
  WORKER="${CHITTYCHARGE_WORKER:-$REPO/build/chittycharge}"
  READY_TIMEOUT="${CHITTYCHARGE_READY_TIMEOUT:-60}"
  SOCKET="$RUN_DIR/chittycharge.sock"
  TLS_DIR="$RUN_DIR/tls"
  local name
  for name in CHITTYCHARGE_HTTP_PORT CHITTYCHARGE_HTTPS_PORT CHITTYCHARGE_MEMCACHED_PORT \
    STRIPE_DOUBLE_PORT CHITTYID_DOUBLE_PORT CHITTYCHARGE_PROCESSES CHITTYCHARGE_READY_TIMEOUT; do
    [[ ${!name:-0} =~ ^[0-9]+$ ]] || die "$name must be a number, got '${!name}'"
  done
  # sockaddr_un holds 108 bytes including the terminating NUL.
  ((${#SOCKET} < 108)) || die "CHITTYCHARGE_RUN_DIR is too long for a unix socket path: $SOCKET"
}

# A live key must never travel over plain HTTP; the worker refuses too, but failing
# here means nothing is started at all.
guard_live_key() {
  local key="${STRIPE_SECRET_KEY:-}" base="${STRIPE_API_BASE:-}"
  if [[ $key == sk_live_* || $key == rk_live_* ]] && [[ -n $base && $base != https://* ]]; then
    die "STRIPE_API_BASE must be https:// with a live STRIPE_SECRET_KEY (got '$base')"
  fi
}

require_free_port() {
  local port=$1 variable=$2
  if port_in_use "$port"; then
    die "port $port is already in use on 127.0.0.1; set $variable to another port"
  fi
}

# ---------------------------------------------------------------- process helpers

alive() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ $state != Z* ]]
}

# start_child NAME LOGFILE COMMAND...: runs COMMAND in the background, records its pid.
start_child() {
  local name=$1 logfile=$2 pid
  shift 2
  "$@" >>"$logfile" 2>&1 &
  pid=$!
  CHILDREN+=("$pid")
  CHILD_NAME[$pid]=$name
  printf '%s\n' "$pid" >"$RUN_DIR/$name.pid"
  LAST_PID=$pid
}

check_children() {
  local pid
  for pid in "${CHILDREN[@]}"; do
    alive "$pid" || die "${CHILD_NAME[$pid]} (pid $pid) exited during start-up; see $(log_of "${CHILD_NAME[$pid]}")"
  done
}

log_of() {
  case $1 in
    pool) printf '%s' "$RUN_DIR/worker.log" ;;
    nginx) printf '%s' "$RUN_DIR/error.log" ;;
    *) printf '%s' "$RUN_DIR/$1.log" ;;
  esac
}

listening_line_in() { grep -q '^LISTENING' "$1" 2>/dev/null; }

stop_child() {
  local pid=$1 signal=$2 grace=$3 deadline
  kill "-$signal" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if alive "$pid"; then
    log "${CHILD_NAME[$pid]:-process} (pid $pid) ignored SIG$signal for ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_pool() {
  local workers=() pid
  mapfile -t workers < <(pgrep -P "$POOL_PID" || true)
  stop_child "$POOL_PID" TERM 20
  # Only reached when multiwatch itself had to be killed and left orphans.
  for pid in "${workers[@]}"; do
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

cleanup() {
  local status=$? i pid
  set +e
  trap '' INT TERM
  [[ -n $TICKER_PID ]] && { kill "$TICKER_PID" 2>/dev/null || true; wait "$TICKER_PID" 2>/dev/null || true; }
  ((${#CHILDREN[@]} == 0)) && exit "$status"
  log "stopping"
  # Reverse start order: nginx first (no new requests), memcached last.
  for ((i = ${#CHILDREN[@]} - 1; i >= 0; i--)); do
    pid=${CHILDREN[i]}
    case ${CHILD_NAME[$pid]} in
      nginx) stop_child "$pid" QUIT 12 ;;
      pool) stop_pool ;;
      *) stop_child "$pid" TERM 5 ;;
    esac
    rm -f "$RUN_DIR/${CHILD_NAME[$pid]}.pid"
  done
  rm -f "$RUN_DIR/workers.pid" "$SOCKET"
  log "stopped"
  exit "$status"
}

on_signal() {
  log "received SIG$1"
  exit 0
}

# ---------------------------------------------------------------- pieces

prepare_run_dir() {
  mkdir -p "$RUN_DIR" "$TLS_DIR" "$RUN_DIR/nginx-tmp"
  local stale
  for stale in "$RUN_DIR"/*.pid; do
    [[ -e $stale ]] || continue
    if [[ $(basename "$stale") != workers.pid ]] && alive "$(<"$stale")"; then
      die "$stale names a running process; is another stack using $RUN_DIR?"
    fi
    rm -f "$stale"
  done
}

ensure_tls() {
  local cert="$TLS_DIR/cert.pem" key="$TLS_DIR/key.pem"
  if [[ -s $cert && -s $key ]] && openssl x509 -checkend 86400 -noout -in "$cert" >/dev/null 2>&1; then
    return
  fi
  log "creating a self-signed certificate for localhost in $TLS_DIR"
  (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
    -subj '/CN=localhost' -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    -keyout "$key" -out "$cert" >"$TLS_DIR/openssl.log" 2>&1) ||
    die "openssl could not create the certificate; see $TLS_DIR/openssl.log"
  chmod 0644 "$cert"
}

start_memcached() {
  if [[ -n ${MEMCACHED_SERVERS:-} ]]; then
    log "using MEMCACHED_SERVERS=$MEMCACHED_SERVERS"
    return
  fi
  local run_as=()
  [[ $EUID -eq 0 ]] && run_as=(-u nobody)
  start_child memcached "$RUN_DIR/memcached.log" \
    memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 "${run_as[@]}"
  wait_until 10 "memcached on port $MEMCACHED_PORT" port_in_use "$MEMCACHED_PORT"
  export MEMCACHED_SERVERS="127.0.0.1:$MEMCACHED_PORT"
  log "memcached on $MEMCACHED_SERVERS"
}

# start_double NAME SCRIPT PORT ARGS...
start_double() {
  local name=$1 script="$REPO/tests/doubles/$2" port=$3 logfile="$RUN_DIR/$1.log"
  shift 3
  [[ -f $script ]] || die "sandbox mode needs $script, which is missing"
  : >"$logfile"
  start_child "$name" "$logfile" env PYTHONUNBUFFERED=1 /usr/bin/python3 "$script" \
    --host 127.0.0.1 --port "$port" --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" "$@"
  wait_until 15 "$name to print LISTENING" listening_line_in "$logfile"
  log "$name on https://127.0.0.1:$port"
}

# Trust our self-signed cert for the doubles on top of any CA file the user gave.
use_sandbox_ca() {
  local ours="$TLS_DIR/cert.pem" bundle="$TLS_DIR/ca-bundle.pem"
  if [[ -n ${CHITTYCHARGE_CA_FILE:-} && ${CHITTYCHARGE_CA_FILE} != "$ours" && ${CHITTYCHARGE_CA_FILE} != "$bundle" ]]; then
    cat "$CHITTYCHARGE_CA_FILE" "$ours" >"$bundle"
    export CHITTYCHARGE_CA_FILE="$bundle"
  else
    export CHITTYCHARGE_CA_FILE="$ours"
  fi
}

start_sandbox() {
  if [[ -n ${STRIPE_SECRET_KEY:-} ]]; then
    log "Stripe endpoint: ${STRIPE_API_BASE:-https://api.stripe.com} (key from STRIPE_SECRET_KEY)"
    return
  fi
  log "=================== SANDBOX MODE: no STRIPE_SECRET_KEY, no real money ==================="
  export STRIPE_SECRET_KEY=sk_test_sandbox_dummy
  export CHITTY_ID_TOKEN="${CHITTY_ID_TOKEN:-chitty-sandbox-token}"
  export STRIPE_WEBHOOK_SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_sandbox_dummy}"
  if [[ -z ${STRIPE_API_BASE:-} ]]; then
    require_free_port "$STRIPE_DOUBLE_PORT" STRIPE_DOUBLE_PORT
    local extra=()
    read -r -a extra <<<"${CHITTYCHARGE_STRIPE_DOUBLE_ARGS:-}"
    start_double stripe-double stripe_double.py "$STRIPE_DOUBLE_PORT" \
      --webhook-url "http://127.0.0.1:$HTTP_PORT/webhook" \
      --webhook-secret "${STRIPE_WEBHOOK_SECRET%%,*}" "${extra[@]}"
    export STRIPE_API_BASE="https://127.0.0.1:$STRIPE_DOUBLE_PORT"
    use_sandbox_ca
  fi
  if [[ -z ${CHITTY_ID_URL:-} ]]; then
    require_free_port "$CHITTYID_DOUBLE_PORT" CHITTYID_DOUBLE_PORT
    start_double chittyid-double chittyid_double.py "$CHITTYID_DOUBLE_PORT" --token "$CHITTY_ID_TOKEN"
    export CHITTY_ID_URL="https://127.0.0.1:$CHITTYID_DOUBLE_PORT"
    use_sandbox_ca
  fi
  log "sandbox Stripe: $STRIPE_API_BASE   ChittyID: $CHITTY_ID_URL"
  if [[ -z ${CHITTYCHARGE_API_TOKENS:-} ]]; then
    log "client token (send as 'ChittyID-Token: ...'): $CHITTY_ID_TOKEN"
  else
    log "client tokens: from CHITTYCHARGE_API_TOKENS"
  fi
}

start_pool() {
  [[ -x $WORKER ]] || die "worker binary $WORKER not found; build it with scripts/setup.sh"
  rm -f "$SOCKET"
  # One metrics file for the pool: /metrics sums every worker's slot (src/core/metrics.h).
  export CHITTYCHARGE_METRICS_FILE="$RUN_DIR/metrics.shm"
  rm -f "$CHITTYCHARGE_METRICS_FILE"
  start_child pool "$RUN_DIR/worker.log" \
    spawn-fcgi -n -s "$SOCKET" -M 0660 -b 1024 -- \
    /usr/bin/multiwatch -f "$PROCESSES" -s TERM -- "$WORKER"
  POOL_PID=$LAST_PID
  wait_until 10 "the FastCGI socket $SOCKET" test -S "$SOCKET"
  log "worker pool: $PROCESSES processes x ${CHITTYCHARGE_LOOPS:-2} event loops x ${CHITTYCHARGE_IN_FLIGHT:-${CHITTYCHARGE_THREADS:-256}} requests in flight on $SOCKET (log: $RUN_DIR/worker.log)"
}

# The local template shares its CORS map, TLS and locations with the production site;
# scripts/render-nginx.sh is the one renderer of both.
render_nginx_conf() {
  local user_directive="" exempt=1
  [[ $EUID -eq 0 ]] && user_directive="user root;  # rendered as root: workers must reach the 0660 socket"
  [[ ${CHITTYCHARGE_NGINX_LIMIT_LOOPBACK:-0} == 1 ]] && exempt=0
  "$REPO/scripts/render-nginx.sh" -o "$RUN_DIR/nginx.conf" \
    -D "USER_DIRECTIVE=$user_directive" \
    -D "RUN_DIR=$RUN_DIR" \
    -D "SOCKET=$SOCKET" \
    -D "HTTP_PORT=$HTTP_PORT" \
    -D "HTTPS_PORT=$HTTPS_PORT" \
    -D "TLS_CERT=$TLS_DIR/cert.pem" \
    -D "TLS_KEY=$TLS_DIR/key.pem" \
    -D "LOOPBACK_EXEMPT=$exempt" \
    -D "LIMIT_RATE=${CHITTYCHARGE_NGINX_RATE:-50r/s}" \
    -D "LIMIT_BURST=${CHITTYCHARGE_NGINX_BURST:-100}" \
    -D "WEBHOOK_RATE=${CHITTYCHARGE_NGINX_WEBHOOK_RATE:-50r/s}" \
    -D "WEBHOOK_BURST=${CHITTYCHARGE_NGINX_WEBHOOK_BURST:-100}" \
    "$REPO/nginx/nginx.conf.template" ||
    die "could not render $REPO/nginx/nginx.conf.template"
}

start_nginx() {
  local nginx_args=(-p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/error.log")
  render_nginx_conf
  if ! nginx -t -q "${nginx_args[@]}" -g 'daemon off;' >"$RUN_DIR/nginx-test.log" 2>&1; then
    cat "$RUN_DIR/nginx-test.log" >&2
    die "nginx -t rejected $RUN_DIR/nginx.conf"
  fi
  start_child nginx "$RUN_DIR/nginx.log" nginx "${nginx_args[@]}" -g 'daemon off;'
}

# The worker's health JSON (200 healthy/degraded or 503 degraded), not nginx's own 502.
health_answers_json() {
  local answer
  answer="$(curl -s --max-time 2 -w '\n%{http_code}' "http://127.0.0.1:$HTTP_PORT/health" 2>/dev/null)" || return 1
  [[ ${answer##*$'\n'} == 200 || ${answer##*$'\n'} == 503 ]] || return 1
  [[ $answer =~ ^[[:space:]]*\{.*\"status\" ]]
}

record_workers() {
  [[ -n $POOL_PID ]] || return 0
  pgrep -P "$POOL_PID" >"$RUN_DIR/workers.pid.tmp" || true
  mv -f "$RUN_DIR/workers.pid.tmp" "$RUN_DIR/workers.pid"
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  until health_answers_json; do
    check_children
    if ((SECONDS >= deadline)); then
      tail -n 20 "$RUN_DIR/worker.log" "$RUN_DIR/error.log" >&2 2>/dev/null || true
      die "GET /health did not answer JSON within ${READY_TIMEOUT}s"
    fi
    sleep 0.2
  done
  record_workers
}

# Waits for a child to die (or a signal); refreshes workers.pid every 2 s on the way.
supervise() {
  local exited status
  while true; do
    sleep 2 &
    TICKER_PID=$!
    exited=""
    status=0
    wait -n -p exited || status=$?
    if [[ $exited == "$TICKER_PID" ]]; then
      record_workers
      continue
    fi
    die "${CHILD_NAME[$exited]:-a child} (pid $exited) exited unexpectedly with status $status; see $(log_of "${CHILD_NAME[$exited]:-}")"
  done
}

main() {
  exec </dev/null
  load_settings
  guard_live_key
  # Validates ALLOWED_ORIGINS before anything starts.
  "$REPO/scripts/render-nginx.sh" --check-origins || die "ALLOWED_ORIGINS is not usable"
  if [[ ${CHITTYCHARGE_SKIP_SETUP:-0} != 1 ]]; then
    "$REPO/scripts/setup.sh"
  fi
  require_free_port "$HTTP_PORT" CHITTYCHARGE_HTTP_PORT
  require_free_port "$HTTPS_PORT" CHITTYCHARGE_HTTPS_PORT
  [[ -n ${MEMCACHED_SERVERS:-} ]] || require_free_port "$MEMCACHED_PORT" CHITTYCHARGE_MEMCACHED_PORT
  prepare_run_dir
  trap cleanup EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  ensure_tls
  start_memcached
  start_sandbox
  start_pool
  start_nginx
  wait_ready
  log "HTTPS https://127.0.0.1:$HTTPS_PORT (self-signed, CA: $TLS_DIR/cert.pem); logs in $RUN_DIR/*.log; Ctrl-C stops"
  printf 'READY http://127.0.0.1:%s\n' "$HTTP_PORT"
  supervise
}

main "$@"
