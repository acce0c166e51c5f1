"""The ledger's plumbing through the real stack: run.sh's private PostgreSQL, the
migrations, /health's database_connected, an outage and its recovery, a second run over
the same run folder, and a backup that restores.

Written from /work/shared/CONTRACT.md ("The ledger (PostgreSQL)": DATABASE_URL, the run
command's private PostgreSQL kept between runs, /health) and docs/ledger.md / deploy.md.
The domain's use of the ledger (holds, webhooks) is tested with the domains; here only
what every request path shares.

- The session `stack` uses the cluster run.sh starts in its run dir; `stack.sql()` reads
  it as the superuser.
- The outage runs on a stack whose PostgreSQL the harness owns (`own_postgres`, conftest):
  run.sh stops the whole stack when a PostgreSQL it started exits, but must ride out an
  external one going down and coming back.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading
import urllib.parse

import pytest

import conftest
from conftest import PG_BIN, REPO, launched_stack, psql, unique, wait_until

WAIT_S = 30
MIGRATIONS = sorted(int(path.name[:4]) for path in (REPO / "db" / "migrations").glob("*.sql"))

# Sandbox mode starts with an empty ledger unless told to keep it (scripts/run.sh).
KEEP = {"CHITTYCHARGE_KEEP_LEDGER": "1"}


def health_of(stack):
    return stack.api("GET", "/health", token=None)


def test_health_reports_the_database_connected(stack):
    health = health_of(stack)
    assert health.status == 200, health
    assert health.json["database_connected"] is True, health
    assert health.json["status"] == "healthy", health


def test_every_migration_is_applied_by_the_run_command(stack):
    assert {1, 2, 3} <= set(MIGRATIONS)
    rows = stack.sql("SELECT version FROM schema_migrations ORDER BY version")
    assert [int(version) for (version,) in rows] == MIGRATIONS


def test_workers_log_in_as_the_service_role_over_the_socket(stack):
    for _ in range(8):  # reach every loop of every worker, most likely
        assert health_of(stack).status == 200
    rows = stack.sql("SELECT DISTINCT usename, client_addr IS NULL FROM pg_stat_activity "
                     "WHERE datname = 'chittycharge' AND pid <> pg_backend_pid()")
    assert rows == [("chittycharge", "t")], rows
    # the role of docs/ledger.md: the audit trail is append-only for it
    grants = stack.sql("SELECT privilege_type FROM information_schema.role_table_grants "
                       "WHERE grantee = 'chittycharge' AND table_name = 'audit_events' "
                       "ORDER BY 1")
    assert grants == [("INSERT",), ("SELECT",)], grants


def test_a_dying_postgres_stops_the_stack_it_belongs_to():
    """run.sh's own PostgreSQL is a child like memcached: when it dies, the stack stops
    (the harness's teardown checks that every process it started is gone)."""
    stack_run = launched_stack(prefix="chittycharge-it-pgdies-")
    running = next(stack_run)
    pid = running.pids["postgres"]
    assert health_of(running).json["database_connected"] is True
    os.kill(pid, signal.SIGKILL)
    out = running.run_dir / "run.out"
    wait_until(lambda: "stopped" in out.read_text(), WAIT_S, "run.sh to stop the stack")
    assert "postgres (pid" in out.read_text()
    with pytest.raises(StopIteration):
        next(stack_run)


def test_a_sandbox_rerun_starts_with_an_empty_ledger():
    run_dir = pathlib.Path(tempfile.mkdtemp(prefix="chittycharge-it-sandbox-"))
    event_id = unique("evt_sandbox")
    try:
        first = launched_stack(prefix="", run_dir=run_dir)
        running = next(first)
        running.sql(f"INSERT INTO webhook_events (event_id, received_at) "
                    f"VALUES ('{event_id}', now())")
        with pytest.raises(StopIteration):
            next(first)

        second = launched_stack(prefix="", run_dir=run_dir)
        running = next(second)
        assert running.sql(f"SELECT count(*) FROM webhook_events WHERE event_id = '{event_id}'"
                           ) == [("0",)]
        assert "sandbox mode: starting with an empty ledger" in (run_dir / "run.out").read_text()
        with pytest.raises(StopIteration):
            next(second)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def test_a_second_run_over_the_same_run_folder_keeps_the_ledger():
    run_dir = pathlib.Path(tempfile.mkdtemp(prefix="chittycharge-it-rerun-"))
    event_id = unique("evt_rerun")
    try:
        first = launched_stack(KEEP, prefix="", run_dir=run_dir)
        running = next(first)
        running.sql(f"INSERT INTO webhook_events (event_id, received_at) "
                    f"VALUES ('{event_id}', now())")
        with pytest.raises(StopIteration):
            next(first)

        second = launched_stack(KEEP, prefix="", run_dir=run_dir)
        running = next(second)
        assert running.sql(f"SELECT count(*) FROM webhook_events WHERE event_id = '{event_id}'"
                           ) == [("1",)]
        assert "creating the ledger's PostgreSQL cluster" not in (run_dir / "run.out").read_text()
        last = (run_dir / "migrate.log").read_text().splitlines()[-1]
        assert f'"already_applied":{len(MIGRATIONS)}' in last and '"applied":0' in last, last
        assert health_of(running).json["database_connected"] is True
        with pytest.raises(StopIteration):
            next(second)
    finally:
        if os.environ.get("CHITTYCHARGE_KEEP_RUN_DIR") != "1":
            shutil.rmtree(run_dir, ignore_errors=True)


def test_a_backup_restores_into_an_empty_database_and_migrate_finds_it_complete(stack,
                                                                            tmp_path):
    """docs/deploy.md, "Backup and restore": pg_dump of the live ledger, pg_restore into an
    empty database, then chittycharge-migrate applies nothing and grants again."""
    host, port = stack.pg_address()
    event_id = unique("evt_backup")
    stack.sql(f"INSERT INTO webhook_events (event_id, received_at) VALUES ('{event_id}', now())")
    restored = unique("restored").lower()
    dump = tmp_path / "ledger.dump"
    common = ["-h", str(host), "-p", str(port), "-U", "postgres"]

    def run(argv, env=None):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                              env=env)
        assert done.returncode == 0, f"{argv[0]}: {done.stdout}{done.stderr}"
        return done

    run([str(PG_BIN / "pg_dump"), "--format=custom", f"--file={dump}", *common, "chittycharge"])
    run([str(PG_BIN / "createdb"), *common, restored])
    try:
        run([str(PG_BIN / "pg_restore"), *common, f"--dbname={restored}", "--no-owner",
             "--no-acl", str(dump)])
        assert psql(host, port, f"SELECT count(*) FROM webhook_events "
                                f"WHERE event_id = '{event_id}'", restored) == [("1",)]
        url = (f"postgresql://postgres@/{restored}?host="
               f"{urllib.parse.quote(str(host), safe='')}&port={port}")
        done = run([str(conftest._migrate_binary()), "--dir", str(REPO / "db" / "migrations"),
                    "--grant-role", "chittycharge"],
                   env={"DATABASE_URL": url, "PATH": os.environ["PATH"]})
        assert '"applied":0' in done.stderr, done.stderr
        assert f'"already_applied":{len(MIGRATIONS)}' in done.stderr, done.stderr
    finally:
        run([str(PG_BIN / "dropdb"), *common, "--if-exists", restored])


@pytest.fixture(scope="module")
def pg_stack():
    """A stack on a PostgreSQL the harness owns (DATABASE_URL): a test may kill it."""
    yield from launched_stack(prefix="chittycharge-it-ownpg-", own_postgres=True)


def test_postgres_killed_mid_load_makes_health_503_then_it_recovers(pg_stack):
    stack = pg_stack
    postgres = stack.own_postgres
    assert health_of(stack).json["database_connected"] is True
    pool = stack.pids["pool"]
    answers = []
    stop = threading.Event()

    def load():  # /health and a list, over and over, through the outage
        while not stop.is_set():
            answers.append(health_of(stack).status)
            answers.append(stack.api("GET", "/api/holds?limit=1").status)

    loaders = [threading.Thread(target=load) for _ in range(3)]
    for loader in loaders:
        loader.start()
    try:
        wait_until(lambda: len(answers) >= 12, WAIT_S, "load to start")
        postgres.kill()  # SIGKILL by its pid, mid-load

        def down():
            health = health_of(stack)
            return health if health.status == 503 else None

        health = wait_until(down, WAIT_S, "/health to notice PostgreSQL is down", interval=0.2)
        assert health.json["status"] == "degraded", health
        assert health.json["database_connected"] is False, health
        assert health.json["memcached_connected"] is True, health
        assert health.json["stripe_connected"] is True, health

        postgres.start()  # the same port and socket: no restart of the service needed

        def back():
            return all(health_of(stack).status == 200 for _ in range(6))

        wait_until(back, WAIT_S, "/health to be 200 on every loop again", interval=0.3)
    finally:
        stop.set()
        for loader in loaders:
            loader.join(WAIT_S)
    assert health_of(stack).json["database_connected"] is True
    # the stack rode it out: nothing crashed (nginx would answer 502), run.sh still runs
    assert set(answers) <= {200, 503}, sorted(set(answers))
    assert conftest._alive(pool)
    assert "exited unexpectedly" not in (stack.run_dir / "run.out").read_text()
