#!/usr/bin/env bash
# The scheduler benchmark (issue 12): one `chittycharge-jobs pass` over a ledger of N holds of
# which BENCH_SCHEDULER_DUE (1,000) are due for auto-release, for each size in
# BENCH_SCHEDULER_SIZES (100,000 and 1,000,000): its wall time, its JSON line, the ledger
# statements it ran (pg_stat_statements, reset before the pass), the rows PostgreSQL read
# (pg_stat_user_tables deltas: a seq scan over holds would read O(all)), and its Stripe calls
# (the double's request log). A pass should cost O(due), not O(holds).
#
#   bash bench/scheduler.sh                                  # ~10 minutes on 2 cores
#   BENCH_SCHEDULER_SIZES="20000 200000" bash bench/scheduler.sh   # a quicker look
#
# Per size, everything is fresh and private, in $OUT/<N>/: a PostgreSQL 15 cluster (run as
# BENCH_PG_USER when started as root; Unix socket + 127.0.0.1) with pg_stat_statements and
# auto_explain (plans of statements slower than BENCH_AUTO_EXPLAIN_MS, without ANALYZE)
# preloaded, migrated by chittycharge-migrate; the Stripe and ChittyID doubles
# (tests/doubles/, plain HTTP on loopback); memcached; a client-app webhook endpoint (204).
# What is seeded: bench/scheduler_seed.sql. Output: $OUT/<N>/result.json, $OUT/summary.md,
# $OUT/<N>/explain.txt (EXPLAIN (ANALYZE, BUFFERS) of the pass's due-work queries).
#
# Environment:
#   BENCH_BUILD_DIR            the built binaries (default <repo>/build; nothing is built here)
#   CHITTYCHARGE_JOBS / CHITTYCHARGE_MIGRATE   the binaries themselves (default in BENCH_BUILD_DIR)
#   BENCH_MIGRATIONS_DIR       the migrations matching the binaries: <BENCH_BUILD_DIR>/../db/migrations
#                              when there is one (the build's own source tree), else this tree's
#   BENCH_EXTRA_MIGRATIONS     more migration files applied after those (e.g. a proposed index)
#   BENCH_SCHEDULER_SIZES      "100000 1000000"
#   BENCH_SCHEDULER_DUE        1000: due holds (each a PaymentIntent at the double)
#   BENCH_SCHEDULER_OPEN_REAL  50: open holds per client made at the double (the newest: the
#                              ones the reconciler reads), each with a due notification
#   BENCH_PORT_BASE            31000: PostgreSQL +433, Stripe double +103, ChittyID double
#                              +104, client webhook endpoint +105, memcached +212
#   BENCH_OUT                  <repo>/build-bench/bench-out/scheduler-<UTC time>
#   BENCH_PASS_TIMEOUT         900 (s): a pass that takes longer is killed (and reported)
#   BENCH_AUTO_EXPLAIN_MS      200
#   BENCH_PG_USER              postgres;  BENCH_PG_BIN  /usr/lib/postgresql/15/bin
#   BENCH_NOTIFY_BACKLOG       20000: after the pass, EXPLAIN ANALYZE of notify_lease with that many
#                              more notifications pending (rolled back; 0 skips it)
#   BENCH_KEEP_DATA            1 keeps each size's cluster ($OUT/<N>/pg/data; default: deleted)
#   BENCH_RECONCILE_RATE       1000: RECONCILE_RATE_PER_S for the pass (the default 10/s would
#                              add ~10 s of deliberate sleep between the reconciler's reads)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$REPO/bench"
BUILD="${BENCH_BUILD_DIR:-$REPO/build}"
JOBS="${CHITTYCHARGE_JOBS:-$BUILD/chittycharge-jobs}"
MIGRATE="${CHITTYCHARGE_MIGRATE:-$BUILD/chittycharge-migrate}"
SIZES="${BENCH_SCHEDULER_SIZES:-100000 1000000}"
DUE="${BENCH_SCHEDULER_DUE:-1000}"
OPEN_REAL="${BENCH_SCHEDULER_OPEN_REAL:-50}"
BASE="${BENCH_PORT_BASE:-31000}"
PG_PORT=$((BASE + 433)) STRIPE_PORT=$((BASE + 103)) CHITTY_PORT=$((BASE + 104))
SINK_PORT=$((BASE + 105)) MEMC_PORT=$((BASE + 212))
OUT="${BENCH_OUT:-$REPO/build-bench/bench-out/scheduler-$(date -u +%Y%m%dT%H%M%SZ)}"
PASS_TIMEOUT="${BENCH_PASS_TIMEOUT:-900}"
PG_BIN="${BENCH_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER="${BENCH_PG_USER:-postgres}"
HELPER=(/usr/bin/python3 "$BENCH/benchkit/scheduler.py")
STRIPE="http://127.0.0.1:$STRIPE_PORT"

log() { printf '[scheduler-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

for bin in "$JOBS" "$MIGRATE"; do [[ -x $bin ]] || die "$bin not found (set BENCH_BUILD_DIR)"; done
MIGRATIONS="${BENCH_MIGRATIONS_DIR:-}"
if [[ -z $MIGRATIONS ]]; then
  MIGRATIONS="$REPO/db/migrations"
  [[ -d $BUILD/../db/migrations ]] && MIGRATIONS="$(cd "$BUILD/../db/migrations" && pwd)"
fi
[[ -x $PG_BIN/postgres ]] || die "PostgreSQL 15 is not in $PG_BIN"
command -v memcached >/dev/null || die "memcached is not installed"

PG_AS=()
if [[ $EUID -eq 0 ]]; then
  getent passwd "$PG_USER" >/dev/null || die "user $PG_USER does not exist"
  PG_AS=(setpriv --reuid "$PG_USER" --regid "$PG_USER" --init-groups --)
fi

CHILDREN=() # pids we started, stopped by pid (never by name)
PG_DATA=""
stop_all() {
  if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  PG_DATA=""
  local pid
  for pid in "${CHILDREN[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${CHILDREN[@]}"; do wait "$pid" 2>/dev/null || true; done
  CHILDREN=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

wait_until() { # SECONDS WHAT COMMAND...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 0.2
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

psql_as() { # USER DB [psql args...]
  local user=$1 db=$2
  shift 2
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U "$user" -d "$db" "$@"
}
sql() { psql_as postgres chittycharge -At "$@"; }

start_stack() { # DIR
  local dir=$1
  for port in "$PG_PORT" "$STRIPE_PORT" "$CHITTY_PORT" "$SINK_PORT" "$MEMC_PORT"; do
    port_free "$port" || die "port $port is in use (set BENCH_PORT_BASE)"
  done
  PG_DIR="$dir/pg"
  mkdir -p "$PG_DIR"
  [[ ${#PG_DIR} -lt 90 ]] || die "socket path too long: $PG_DIR (set BENCH_OUT)"
  [[ $EUID -eq 0 ]] && chown "$PG_USER:" "$PG_DIR"
  chmod 0700 "$PG_DIR"
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || die "initdb failed: $dir/initdb.log"
  PG_DATA="$PG_DIR/data"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/postgres.log" -w -t 60 start -o \
    "-k $PG_DIR -p $PG_PORT -c listen_addresses=127.0.0.1 -c max_wal_size=4GB \
     -c shared_preload_libraries=pg_stat_statements,auto_explain -c pg_stat_statements.max=1000 \
     -c track_io_timing=on -c auto_explain.log_format=text" >/dev/null || die "PostgreSQL did not start: $PG_DIR/postgres.log"
  psql_as postgres postgres <<'SQL'
CREATE ROLE chittycharge LOGIN;
CREATE DATABASE chittycharge;
SQL
  # auto_explain for the service's sessions only (not the seeding)
  psql_as postgres postgres -c "ALTER ROLE chittycharge SET auto_explain.log_min_duration = ${BENCH_AUTO_EXPLAIN_MS:-200}"
  psql_as postgres chittycharge -c 'CREATE EXTENSION pg_stat_statements'
  local socket_url
  socket_url="postgresql://postgres@/chittycharge?host=$(/usr/bin/python3 -c \
    'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PG_DIR")&port=$PG_PORT"
  DATABASE_URL_SERVICE="${socket_url/postgres@/chittycharge@}"
  DATABASE_URL="$socket_url" "$MIGRATE" --dir "$OUT/migrations" --grant-role chittycharge \
    2>"$dir/migrate.log" || die "migrations failed: $dir/migrate.log"

  memcached -l 127.0.0.1 -p "$MEMC_PORT" -U 0 -m 64 -u nobody >"$dir/memcached.log" 2>&1 &
  CHILDREN+=($!)
  for double in stripe chittyid; do
    local port=$STRIPE_PORT extra=()
    [[ $double == chittyid ]] && port=$CHITTY_PORT extra=(--token chitty-bench-token)
    PYTHONUNBUFFERED=1 /usr/bin/python3 "$REPO/tests/doubles/${double}_double.py" \
      --host 127.0.0.1 --port "$port" "${extra[@]}" >"$dir/$double-double.log" 2>&1 &
    CHILDREN+=($!)
    wait_until 20 "the $double double" grep -q LISTENING "$dir/$double-double.log"
  done
  PYTHONUNBUFFERED=1 "${HELPER[@]}" sink --port "$SINK_PORT" >"$dir/sink.log" 2>&1 &
  CHILDREN+=($!)
  wait_until 10 "the webhook endpoint" grep -q LISTENING "$dir/sink.log"
}

# EXPLAIN (ANALYZE, BUFFERS) of the pass's due-work queries as the service sends them
# (src/ledger/pg_ledger.cpp: hold_lease_releases, notify_lease, intent_pending, hold_list),
# each inside a transaction rolled back, with the pass's parameters; hold_list both as a
# custom plan and as the generic plan PostgreSQL switches a prepared statement to.
explain() { # OUT_FILE NOW
  local now=$2
  psql_as chittycharge chittycharge -v now="$now" -f "$BENCH/scheduler_explain.sql" >"$1" 2>&1 ||
    log "EXPLAIN failed: see $1"
}

run_size() { # N
  local n=$1 dir="$OUT/$1"
  mkdir -p "$dir"
  log "size $n: starting a private PostgreSQL, the doubles, memcached (logs in $dir)"
  start_stack "$dir"
  log "size $n: $DUE due + $OPEN_REAL open per client PaymentIntents at the Stripe double"
  "${HELPER[@]}" stripe-seed --base "$STRIPE" --due "$DUE" --open "$OPEN_REAL" --out "$dir/pis.csv" >&2
  local cursor
  cursor="$("${HELPER[@]}" newest-event --base "$STRIPE")"
  log "size $n: seeding the ledger (bench/scheduler_seed.sql)"
  local t0=$SECONDS
  [[ $EUID -eq 0 ]] && chmod o+r "$dir/pis.csv"
  sql -v holds="$n" -v pis="$dir/pis.csv" -v cursor="$cursor" -v seeded_file="$dir/seeded.json" \
    -f "$BENCH/scheduler_seed.sql" >"$dir/seed.log" 2>&1 || die "seeding failed: $dir/seed.log"
  log "size $n: seeded in $((SECONDS - t0)) s: $(cat "$dir/seeded.json")"

  local now
  now="$(date +%s)"
  explain "$dir/explain.txt" "$now"
  sql -c CHECKPOINT >/dev/null
  local tables="SELECT coalesce(jsonb_agg(t), '[]') FROM (SELECT relname, seq_scan, seq_tup_read,
    idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_live_tup FROM pg_stat_user_tables
    ORDER BY relname) t"
  sql -c "SELECT pg_stat_clear_snapshot()" -c "$tables" | tail -1 >"$dir/tables-before.json"
  sql -c "SELECT pg_stat_statements_reset()" >/dev/null
  curl -fsS -X DELETE "$STRIPE/_test/requests" >/dev/null
  curl -fsS -X DELETE "http://127.0.0.1:$SINK_PORT/" >/dev/null

  log "size $n: one chittycharge-jobs pass"
  local log_lines
  log_lines="$(wc -l <"$PG_DIR/postgres.log")"
  local start end status=0
  start="$(date +%s.%N)"
  env -i PATH=/usr/bin:/bin HOME=/nonexistent \
    DATABASE_URL="$DATABASE_URL_SERVICE" STRIPE_SECRET_KEY=sk_test_bench_scheduler \
    STRIPE_API_BASE="$STRIPE" CHITTY_ID_URL="http://127.0.0.1:$CHITTY_PORT" \
    CHITTY_ID_TOKEN=chitty-bench-token MEMCACHED_SERVERS="127.0.0.1:$MEMC_PORT" \
    CHITTYCHARGE_API_TOKENS="alpha:tok_bench_alpha,beta:tok_bench_beta" \
    CHITTYCHARGE_CLIENT_WEBHOOKS="alpha=http://127.0.0.1:$SINK_PORT/alpha,beta=http://127.0.0.1:$SINK_PORT/beta" \
    CHITTYCHARGE_NOTIFY_SECRET=bench-notify-secret-0123456789abcdef \
    RECONCILE_RATE_PER_S="${BENCH_RECONCILE_RATE:-1000}" STRIPE_TIMEOUT_MS=10000 \
    timeout "$PASS_TIMEOUT" "$JOBS" pass >"$dir/pass.json" 2>"$dir/pass.log" || status=$?
  end="$(date +%s.%N)"
  echo "$status" >"$dir/exit_status"
  /usr/bin/python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 3))" \
    "$start" "$end" >"$dir/wall_s"
  log "size $n: pass exited $status after $(cat "$dir/wall_s") s: $(cat "$dir/pass.json")"

  sleep 1 # the pass's backend has exited, its statistics are flushed
  sql -c "SELECT pg_stat_clear_snapshot()" -c "$tables" | tail -1 >"$dir/tables-after.json"
  sql -c "SELECT coalesce(jsonb_agg(s ORDER BY total_ms DESC), '[]') FROM (SELECT query, calls, round(total_exec_time::numeric, 2)
    AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, rows, shared_blks_hit,
    shared_blks_read FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
    WHERE r.rolname = 'chittycharge' ORDER BY total_exec_time DESC) s" >"$dir/statements.json"
  "${HELPER[@]}" stripe-calls --base "$STRIPE" >"$dir/stripe-calls.json"
  curl -fsS "http://127.0.0.1:$SINK_PORT/" >"$dir/sink.json"
  tail -n +$((log_lines + 1)) "$PG_DIR/postgres.log" | grep -A40 'duration:.*plan:' >"$dir/auto-explain.txt" || true
  if ((${BENCH_NOTIFY_BACKLOG:-20000} > 0)); then
    log "size $n: notify_lease with ${BENCH_NOTIFY_BACKLOG:-20000} more pending notifications (rolled back)"
    psql_as postgres chittycharge -v now="$(date +%s)" -v backlog="${BENCH_NOTIFY_BACKLOG:-20000}" \
      -v plan_stale="$dir/notify-backlog-stale.json" -v plan_fresh="$dir/notify-backlog-fresh.json" \
      -f "$BENCH/scheduler_backlog.sql" >"$dir/notify-backlog.log" 2>&1 ||
      log "the backlog EXPLAIN failed: see $dir/notify-backlog.log"
  fi
  "${HELPER[@]}" pass-report --dir "$dir" --holds "$n" --due "$DUE" >"$dir/result.json"
  stop_all
  cp "$PG_DIR/postgres.log" "$dir/postgres.log"
  [[ ${BENCH_KEEP_DATA:-0} == 1 ]] || rm -rf "$PG_DIR" # ~2 GB at 1,000,000 holds
}

mkdir -p "$OUT/bin" "$OUT/migrations"
# One run, one set of binaries and migrations: copies (the build directory may be rebuilt
# meanwhile), with where they came from.
cp "$JOBS" "$MIGRATE" "$OUT/bin/"
cp "$MIGRATIONS"/*.sql "$OUT/migrations/"
for extra in ${BENCH_EXTRA_MIGRATIONS:-}; do cp "$extra" "$OUT/migrations/"; done
SOURCE="$(cd "$(dirname "$JOBS")/.." && pwd)"
{
  echo "binaries: $JOBS ($(date -u -r "$JOBS" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$JOBS" | cut -c1-16))"
  echo "their tree: $SOURCE, git $(git -C "$SOURCE" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    [[ -n $(git -C "$SOURCE" status --porcelain -- src db 2>/dev/null) ]] && echo ' + uncommitted changes in src/ db/')"
  echo "migrations: $MIGRATIONS + ${BENCH_EXTRA_MIGRATIONS:-nothing}: $(cd "$OUT/migrations" && echo *.sql)"
} >"$OUT/provenance.txt"
JOBS="$OUT/bin/$(basename "$JOBS")" MIGRATE="$OUT/bin/$(basename "$MIGRATE")"
log "results in $OUT"
while read -r line; do log "$line"; done <"$OUT/provenance.txt"
log "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
results=()
for n in $SIZES; do
  run_size "$n"
  results+=("$OUT/$n/result.json")
done
{
  echo "# chittycharge-jobs pass vs ledger size ($(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  sed 's/^/    /' "$OUT/provenance.txt"
  echo
  "${HELPER[@]}" compare --backlog "${BENCH_NOTIFY_BACKLOG:-20000}" "${results[@]}"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
log "done: $OUT/summary.md, per size result.json, explain.txt, auto-explain.txt"
