#!/usr/bin/env bash
# Runs the whole local ChittyCharge stack in the foreground:
#   memcached, PostgreSQL (the ledger), (sandbox) Stripe + ChittyID doubles, the
#   spawn-fcgi/multiwatch worker pool and nginx.  Prints "READY http://127.0.0.1:<port>"
#   once /health answers.  SIGINT/SIGTERM stops everything it started; so does any child
#   dying.
#
# The ledger: unless DATABASE_URL is set, a private PostgreSQL cluster with its data in
# <run dir>/pg/data (kept from one run to the next; delete it to start empty), listening
# on a socket in <run dir>/pg and on 127.0.0.1:CHITTYCHARGE_PG_PORT, trust authentication
# (a development cluster: only its owner and root can reach the socket directory, but any
# local user can reach the loopback port), run as the invoking user, or as
# CHITTYCHARGE_PG_USER (default postgres) when started as root (PostgreSQL refuses root).
# Its superuser `postgres` owns the database `chittycharge` and applies the migrations
# (chittycharge-migrate --grant-role chittycharge); the workers log in as the service
# role `chittycharge`, with the grants production has. With DATABASE_URL set, run.sh
# still runs chittycharge-migrate against it (applying or just checking) before the pool
# starts, and the stack rides out that database going down and coming back.
#
# Environment (besides the service's own variables, see CONTRACT.md):
#   CHITTYCHARGE_SKIP_SETUP=1         do not run scripts/setup.sh first
#   CHITTYCHARGE_RUN_DIR              sockets, pid files, logs, TLS (default <repo>/run)
#   CHITTYCHARGE_HTTP_PORT / _HTTPS_PORT            8080 / 8443
#   CHITTYCHARGE_MEMCACHED_PORT       11211 (only when MEMCACHED_SERVERS is unset)
#   CHITTYCHARGE_PG_PORT              15432 (only when DATABASE_URL is unset)
#   CHITTYCHARGE_PG_USER              the cluster's OS user when run as root (postgres)
#   CHITTYCHARGE_PG_OPTIONS           extra postgres flags, e.g. "-c fsync=off" (tests only)
#   CHITTYCHARGE_PG_BIN               PostgreSQL's programs (/usr/lib/postgresql/15/bin)
#   CHITTYCHARGE_KEEP_LEDGER=1        keep the private ledger in sandbox mode too (it starts
#                                     empty there, like the doubles; with a key it is kept)
#   CHITTYCHARGE_MIGRATE              chittycharge-migrate (default: beside the worker,
#                                     else <repo>/build/chittycharge-migrate)
#   CHITTYCHARGE_JOBS                 chittycharge-jobs (found as the migrate tool is); run
#                                     every CHITTYCHARGE_JOBS_INTERVAL_S (60), log: jobs.log
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
  PG_PORT="${CHITTYCHARGE_PG_PORT:-15432}"
  PG_DIR="$RUN_DIR/pg" # the socket directory; the cluster's data is in $PG_DIR/data
  # Guest links start with it (CONTRACT.md Part 3): this stack's HTTPS port by default.
  export CHITTYCHARGE_PUBLIC_URL="${CHITTYCHARGE_PUBLIC_URL:-https://127.0.0.1:$HTTPS_PORT}"
  STRIPE_JS_URL="https://js.stripe.com/v3/"  # the Stripe double's stand-in in sandbox mode
  PG_BIN="${CHITTYCHARGE_PG_BIN:-/usr/lib/postgresql/15/bin}"
  PG_USER="${CHITTYCHARGE_PG_USER:-postgres}"
  MIGRATE="${CHITTYCHARGE_MIGRATE:-$(dirname "$WORKER")/chittycharge-migrate}"
  [[ -x $MIGRATE || -n ${CHITTYCHARGE_MIGRATE:-} ]] || MIGRATE="$REPO/build/chittycharge-migrate"
  JOBS="${CHITTYCHARGE_JOBS:-$(dirname "$WORKER")/chittycharge-jobs}"
  [[ -x $JOBS || -n ${CHITTYCHARGE_JOBS:-} ]] || JOBS="$REPO/build/chittycharge-jobs"
  JOBS_INTERVAL="${CHITTYCHARGE_JOBS_INTERVAL_S:-60}"
  local name
  for name in CHITTYCHARGE_HTTP_PORT CHITTYCHARGE_HTTPS_PORT CHITTYCHARGE_MEMCACHED_PORT \
    STRIPE_DOUBLE_PORT CHITTYID_DOUBLE_PORT CHITTYCHARGE_PROCESSES CHITTYCHARGE_READY_TIMEOUT \
    CHITTYCHARGE_PG_PORT CHITTYCHARGE_JOBS_INTERVAL_S; do
    [[ ${!name:-0} =~ ^[0-9]+$ ]] || die "$name must be a number, got '${!name}'"
  done
  # sockaddr_un holds 108 bytes including the terminating NUL.
  ((${#SOCKET} < 108)) || die "CHITTYCHARGE_RUN_DIR is too long for a unix socket path: $SOCKET"
  local pg_socket="$PG_DIR/.s.PGSQL.$PG_PORT"
  ((${#pg_socket} < 108)) || die "CHITTYCHARGE_RUN_DIR is too long for PostgreSQL's socket path: $pg_socket"
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

# gone_within PID SECONDS: true once PID has exited (a zombie counts), polling.
gone_within() {
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# The stop never calls the `wait` builtin: when a child dies of the stop's own signal while a
# trap interrupts `wait -n`, bash 5.2 can keep it as running, and a later `wait PID` then
# blocks until some other child exits, which a child ignoring SIGTERM never does.
stop_child() {
  local pid=$1 signal=$2 grace=$3
  kill "-$signal" "$pid" 2>/dev/null || true
  gone_within "$pid" "$grace" && return
  log "${CHILD_NAME[$pid]:-process} (pid $pid) ignored SIG$signal for ${grace}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  gone_within "$pid" 5 || log "${CHILD_NAME[$pid]:-process} (pid $pid) outlived SIGKILL by 5s"
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
  [[ -n $TICKER_PID ]] && { kill "$TICKER_PID" 2>/dev/null || true; }
  ((${#CHILDREN[@]} == 0)) && exit "$status"
  log "stopping"
  # Reverse start order: nginx first (no new requests), memcached last.
  for ((i = ${#CHILDREN[@]} - 1; i >= 0; i--)); do
    pid=${CHILDREN[i]}
    case ${CHILD_NAME[$pid]} in
      nginx) stop_child "$pid" QUIT 12 ;;
      pool) stop_pool ;;
      postgres) stop_child "$pid" INT 15 ;; # fast shutdown: the pool is already gone
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

# ---------------------------------------------------------------- the ledger

# The prefix that runs a command as the cluster's OS user (PostgreSQL refuses to run as
# root); empty when not root. setpriv execs, so a child started with it has the pid of
# the program itself, which is what postgres.pid must name.
pg_user_prefix() {
  PG_AS=()
  [[ $EUID -eq 0 ]] && PG_AS=(setpriv --reuid "$PG_USER" --regid "$PG_USER" --init-groups --)
  return 0
}
as_pg_user() { "${PG_AS[@]}" "$@"; }

# psql as the cluster's superuser over the run folder's socket; SQL on stdin.
pg_superuser_sql() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres "$@"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h "$PG_DIR" -p "$PG_PORT" -t 1; }

# The run folder's pg/ directory, owned by the cluster's user, reachable by it.
prepare_pg_dir() {
  [[ -x $PG_BIN/postgres ]] || die "PostgreSQL is not installed in $PG_BIN; run scripts/setup.sh (or set DATABASE_URL)"
  mkdir -p "$PG_DIR"
  pg_user_prefix
  if [[ $EUID -eq 0 ]]; then
    getent passwd "$PG_USER" >/dev/null || die "user $PG_USER does not exist; run scripts/setup.sh or set CHITTYCHARGE_PG_USER"
    chown "$PG_USER:" "$PG_DIR"
    # A private temp dir (mode 0700) must at least be traversable by the cluster's user.
    as_pg_user test -w "$PG_DIR" || chmod o+x "$RUN_DIR"
    as_pg_user test -w "$PG_DIR" ||
      die "user $PG_USER cannot reach $PG_DIR; make its parent directories traversable (o+x) or set CHITTYCHARGE_RUN_DIR"
  fi
  chmod 0700 "$PG_DIR"
}

init_cluster() {
  [[ -s $PG_DIR/data/PG_VERSION ]] && return
  log "creating the ledger's PostgreSQL cluster in $PG_DIR/data (delete it to start empty)"
  rm -rf "$PG_DIR/data" # an initdb that was interrupted; never a cluster (no PG_VERSION)
  as_pg_user "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$RUN_DIR/initdb.log" 2>&1 ||
    die "initdb failed; see $RUN_DIR/initdb.log"
}

# The database and the service role, once; then the migrations (each run: a no-op when
# applied, a refusal when a released migration changed).
create_ledger() {
  pg_superuser_sql -d postgres <<'SQL' >>"$RUN_DIR/postgres-setup.log" 2>&1 ||
SELECT 'CREATE ROLE chittycharge LOGIN'
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chittycharge')\gexec
SELECT 'CREATE DATABASE chittycharge'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'chittycharge')\gexec
SQL
    die "could not create the database chittycharge; see $RUN_DIR/postgres-setup.log"
}

# A libpq URI over the run folder's socket (host=<directory>, percent-encoded).
socket_url() {
  local user=$1 host
  host="$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PG_DIR")"
  printf 'postgresql://%s@/chittycharge?host=%s&port=%s' "$user" "$host" "$PG_PORT"
}

# migrate URL [ARGS...]: chittycharge-migrate against URL, its JSON lines in migrate.log.
migrate() {
  local url=$1
  shift
  [[ -x $MIGRATE ]] || die "$MIGRATE not found; build it with scripts/setup.sh (or set CHITTYCHARGE_MIGRATE)"
  DATABASE_URL="$url" "$MIGRATE" --dir "$REPO/db/migrations" "$@" >>"$RUN_DIR/migrate.log" 2>&1 ||
    die "chittycharge-migrate refused or failed: $(tail -n 1 "$RUN_DIR/migrate.log")"
  log "ledger migrations: $(tail -n 1 "$RUN_DIR/migrate.log")"
}

start_postgres() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    log "ledger: using DATABASE_URL (not started here)"
    migrate "$DATABASE_URL"
    return
  fi
  prepare_pg_dir
  # Sandbox mode: the doubles start empty, so the ledger does too (a ledger naming holds
  # the Stripe double never made would only confuse). With a key it is kept.
  if [[ -z ${STRIPE_SECRET_KEY:-} && ${CHITTYCHARGE_KEEP_LEDGER:-0} != 1 && -d $PG_DIR/data ]]; then
    log "sandbox mode: starting with an empty ledger (CHITTYCHARGE_KEEP_LEDGER=1 keeps it)"
    rm -rf "$PG_DIR/data"
  fi
  init_cluster
  local extra=()
  read -r -a extra <<<"${CHITTYCHARGE_PG_OPTIONS:-}"
  start_child postgres "$RUN_DIR/postgres.log" "${PG_AS[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" \
    -k "$PG_DIR" -p "$PG_PORT" -c listen_addresses=127.0.0.1 "${extra[@]}"
  wait_until 30 "PostgreSQL on $PG_DIR (port $PG_PORT)" pg_ready
  create_ledger
  migrate "$(socket_url postgres)" --grant-role chittycharge
  DATABASE_URL="$(socket_url chittycharge)"
  export DATABASE_URL
  log "ledger: PostgreSQL on $PG_DIR and 127.0.0.1:$PG_PORT, data in $PG_DIR/data (log: $RUN_DIR/postgres.log)"
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
    # The guest page's Stripe.js: the double's stand-in, through nginx (same origin).
    STRIPE_JS_URL="/stripe-sandbox/v3/"
    export STRIPE_PUBLISHABLE_KEY="${STRIPE_PUBLISHABLE_KEY:-pk_test_sandbox}"
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

# The scheduler, as the systemd timer runs it in production: one chittycharge-jobs pass
# every JOBS_INTERVAL seconds (a pass killed by the stop is safe: docs/lifecycle.md).
start_jobs() {
  [[ -x $JOBS ]] || die "$JOBS not found; build it with scripts/setup.sh (or set CHITTYCHARGE_JOBS)"
  # $RUN_DIR/chittycharge-jobs: a pass now, with the workers' environment (tests, operators).
  { printf '#!/usr/bin/env bash\n'; export -p; printf 'exec %q "$@"\n' "$JOBS"; } >"$RUN_DIR/chittycharge-jobs"
  chmod 0700 "$RUN_DIR/chittycharge-jobs"
  # shellcheck disable=SC2016 # expanded by the loop's own shell
  start_child jobs "$RUN_DIR/jobs.log" bash -c '
    trap "kill \$pid 2>/dev/null; exit 0" TERM
    while true; do
      sleep "$1" & pid=$!; wait "$pid"
      "$2" & pid=$!; wait "$pid" || echo "chittycharge-jobs exited with status $?"
    done' jobs-loop "$JOBS_INTERVAL" "$JOBS"
  log "scheduler: $JOBS every ${JOBS_INTERVAL}s (log: $RUN_DIR/jobs.log)"
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
    -D "WEB_ROOT=$REPO/web" \
    -D "STRIPE_JS_URL=$STRIPE_JS_URL" \
    -D "STRIPE_SANDBOX_BASE=https://127.0.0.1:$STRIPE_DOUBLE_PORT" \
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
  [[ -n ${DATABASE_URL:-} ]] || require_free_port "$PG_PORT" CHITTYCHARGE_PG_PORT
  prepare_run_dir
  trap cleanup EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  ensure_tls
  start_memcached
  start_postgres
  start_sandbox
  start_pool
  start_jobs
  start_nginx
  wait_ready
  log "HTTPS https://127.0.0.1:$HTTPS_PORT (self-signed, CA: $TLS_DIR/cert.pem); logs in $RUN_DIR/*.log; Ctrl-C stops"
  log "operator console: http://127.0.0.1:$HTTP_PORT/console/ (sign in with a client token)"
  log "guest page: POST /api/holds/<id>/guest_link answers a link $CHITTYCHARGE_PUBLIC_URL/pay/<token> (docs/guest-page.md)"
  printf 'READY http://127.0.0.1:%s\n' "$HTTP_PORT"
  supervise
}

main "$@"
