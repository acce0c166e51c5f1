"""Integration-test harness: the real stack, started once per session.

The `stack` fixture runs scripts/run.sh (nginx -> spawn-fcgi/multiwatch pool ->
memcached + the Stripe/ChittyID doubles, sandbox mode) in its own process group with
a temporary run dir and non-default ports, waits for its READY line, and at the end
sends SIGTERM to the group and checks that every process it started is gone.

The stack's ledger is the private PostgreSQL run.sh starts in its run dir (`.sql()`
queries it as the superuser). More stacks: `launched_stack` (the same launch path, other
settings; `own_postgres=True` gives it a PostgreSQL the harness runs, `.own_postgres`,
an OwnPostgres, so a test can kill and restart it) and the module-scoped `own_stack`,
whose memcached the fixture runs itself so a test can kill and restart it (run.sh stops
the whole stack when a memcached or PostgreSQL it started exits).
Helpers shared by the test modules: `unique`, `assert_error`, and `wait_until` (with
`poll`), the one way a test waits for something: a condition polled against a deadline.

Environment knobs: CHITTYCHARGE_WORKER (another worker binary, e.g. an ASan build),
CHITTYCHARGE_KEEP_RUN_DIR=1 (keep the temp run dir and its logs).

Stdlib only.
"""

import contextlib
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

ALPHA_TOKEN = "tok_alpha_0123456789"
BETA_TOKEN = "tok_beta_0123456789"  # MAX_TIER VERIFIED_GUEST
PREMIUM_TOKEN = "tok_premium_0123456789"  # MAX_TIER PREMIUM_PROPERTY
LOWRATE_TOKEN = "tok_lowrate_0123456789"  # NEW_GUEST, 6 /api requests per minute
LOWRATE_PER_MINUTE = 6
LIMITED_TOKEN = "tok_limited_0123456789"  # own_stack only: NEW_GUEST, 2 /api requests per minute
API_TOKENS = (f"alpha:{ALPHA_TOKEN},beta:{BETA_TOKEN}:VERIFIED_GUEST,"
              f"premium:{PREMIUM_TOKEN}:PREMIUM_PROPERTY,"
              f"lowrate:{LOWRATE_TOKEN}:NEW_GUEST:{LOWRATE_PER_MINUTE}")
CHITTY_ID_TOKEN = "tok_chitty_test_0001"
WEBHOOK_SECRET = "whsec_integration_0001"
# The endpoint's previous secret, still configured (rotation); the double signs with the first.
WEBHOOK_SECRET_OLD = "whsec_integration_old_0001"
SANDBOX_STRIPE_KEY = "sk_test_sandbox_dummy"  # what run.sh exports in sandbox mode

# A second suite running beside this one (scripts/asan.sh under scripts/test.sh) sets
# CHITTYCHARGE_TEST_PORT_OFFSET so the two never race for the same preferred ports.
_PORT_OFFSET = int(os.environ.get("CHITTYCHARGE_TEST_PORT_OFFSET", "0"))
PREFERRED_PORTS = {name: port + _PORT_OFFSET for name, port in {
    "CHITTYCHARGE_HTTP_PORT": 18080,
    "CHITTYCHARGE_HTTPS_PORT": 18443,
    "STRIPE_DOUBLE_PORT": 18111,
    "CHITTYID_DOUBLE_PORT": 18112,
    "CHITTYCHARGE_MEMCACHED_PORT": 18211,
    "CHITTYCHARGE_PG_PORT": 18432,
}.items()}
PID_FILES = ("memcached", "postgres", "stripe-double", "chittyid-double", "pool", "jobs", "nginx")
PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
HTTP_TIMEOUT_S = 30

# Variables of the service or of run.sh that must not leak in from the caller's shell.
SCRUBBED_PREFIXES = ("STRIPE_", "CHITTY_ID_", "CHITTYID_", "MEMCACHED_", "CHITTYCHARGE_", "PG")
SCRUBBED_NAMES = ("RATE_LIMIT_PER_MINUTE", "CURRENCY", "DEFAULT_HOLD_AMOUNT_CENTS", "ALLOWED_ORIGINS",
                  "DATABASE_URL")
KEPT_NAMES = ("CHITTYCHARGE_WORKER",)


class Response:
    """An HTTP answer: .status, .headers (case-insensitive), .body, .text, .json."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"not JSON: {self!r}") from None

    def __repr__(self):
        return f"<Response {self.status} {self.text[:800]!r}>"


class Stack:
    """A running stack plus helpers to talk to it, to the doubles and to memcached."""

    def __init__(self, run_dir, ports):
        self.run_dir = pathlib.Path(run_dir)
        self.http_port = ports["CHITTYCHARGE_HTTP_PORT"]
        self.https_port = ports["CHITTYCHARGE_HTTPS_PORT"]
        self.stripe_port = ports["STRIPE_DOUBLE_PORT"]
        self.chittyid_port = ports["CHITTYID_DOUBLE_PORT"]
        self.memcached_port = ports["CHITTYCHARGE_MEMCACHED_PORT"]
        self.pg_port = ports["CHITTYCHARGE_PG_PORT"]
        self.ca_file = str(self.run_dir / "tls" / "cert.pem")
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.pids = {}
        self.own_memcached = None  # an OwnMemcached when launched with one
        self.own_postgres = None  # an OwnPostgres when launched with one

    # ------------------------------------------------------------ transport

    def _tls(self):
        return ssl.create_default_context(cafile=self.ca_file)

    def request(self, method, port, path, body=None, headers=None, tls=False):
        if tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", port, timeout=HTTP_TIMEOUT_S, context=self._tls())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            answer = conn.getresponse()
            return Response(answer.status, answer.headers, answer.read())
        finally:
            conn.close()

    # ------------------------------------------------------------ the service

    def api(self, method, path, body=None, token=ALPHA_TOKEN, headers=None, raw=None, https=False):
        """Calls the service through nginx. `body` is JSON-encoded; `raw` (str/bytes) is
        sent verbatim; token=None sends no ChittyID-Token."""
        all_headers = {}
        payload = None
        if raw is not None:
            payload = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            payload = json.dumps(body).encode()
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        if token is not None:
            all_headers["ChittyID-Token"] = token
        all_headers.update(headers or {})
        port = self.https_port if https else self.http_port
        return self.request(method, port, path, payload, all_headers, tls=https)

    def create_hold(self, token=ALPHA_TOKEN, **fields):
        body = {"amount": 5000, "currency": "usd", "description": "integration test hold"}
        body.update(fields)
        answer = self.api("POST", "/api/holds", body, token=token)
        assert answer.status == 201, answer
        return answer.json

    def get_hold(self, hold_id, token=ALPHA_TOKEN):
        return self.api("GET", f"/api/holds/{urllib.parse.quote(hold_id)}", token=token)

    # ------------------------------------------------------------ the Stripe double

    def stripe(self, method, path, body=None, headers=None):
        """Calls the Stripe double. /v1 paths get the sandbox key and a form body;
        /_test control paths get a JSON body."""
        all_headers = dict(headers or {})
        payload = None
        if path.startswith("/v1/"):
            all_headers.setdefault("Authorization", f"Bearer {SANDBOX_STRIPE_KEY}")
            if body is not None:
                payload = urllib.parse.urlencode(body).encode()
                all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        return self.request(method, self.stripe_port, path, payload, all_headers, tls=True)

    def confirm(self, pi_id, pm="pm_card_visa"):
        """What the browser does with the client_secret: confirm with a card."""
        return self.stripe("POST", f"/v1/payment_intents/{pi_id}/confirm",
                           {"payment_method": pm},
                           headers={"Idempotency-Key": f"browser-{uuid.uuid4()}"})

    def stripe_pi(self, pi_id):
        answer = self.stripe("GET", f"/v1/payment_intents/{pi_id}")
        assert answer.status == 200, answer
        return answer.json

    def stripe_requests(self):
        return _as_list(self.stripe("GET", "/_test/requests").json)

    def clear_stripe_requests(self):
        answer = self.stripe("DELETE", "/_test/requests")
        assert answer.status < 300, answer

    def count_payment_intents(self):
        return len(_as_list(self.stripe("GET", "/_test/payment_intents").json))

    def chittyid(self, method, path, body=None):
        payload = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        return self.request(method, self.chittyid_port, path, payload, headers, tls=True)

    # ------------------------------------------------------------ memcached

    def memcached_cmd(self, command):
        """Sends one text-protocol command; returns the full answer as str."""
        line = command if command.endswith("\r\n") else command + "\r\n"
        multi_line = command.split()[0] in ("get", "gets", "stats")
        with socket.create_connection(("127.0.0.1", self.memcached_port), timeout=5) as conn:
            conn.sendall(line.encode())
            answer = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
                if multi_line and (answer.endswith(b"END\r\n") or answer.endswith(b"ERROR\r\n")):
                    break
                if not multi_line and answer.endswith(b"\r\n"):
                    break
        return answer.decode("utf-8", errors="replace")

    def memcached_flush(self):
        answer = self.memcached_cmd("flush_all")
        assert answer.strip() == "OK", answer

    # ------------------------------------------------------------ the ledger (PostgreSQL)

    def pg_address(self):
        """(socket directory, port) of the stack's PostgreSQL."""
        if self.own_postgres is not None:
            return self.own_postgres.socket_dir, self.own_postgres.port
        return self.run_dir / "pg", self.pg_port

    def database_url(self):
        """The workers' DATABASE_URL: the service role over the stack's socket."""
        if self.own_postgres is not None:
            return self.own_postgres.url
        host, port = self.pg_address()
        return (f"postgresql://chittycharge@/chittycharge?"
                f"host={urllib.parse.quote(str(host), safe='')}&port={port}")

    def run_jobs(self, *args, timeout=60):
        """One chittycharge-jobs pass with the workers' environment; its JSON report."""
        done = subprocess.run([str(self.run_dir / "chittycharge-jobs"), *args],
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done
        return json.loads(done.stdout.strip().splitlines()[-1])

    def sql(self, query, database="chittycharge"):
        """Runs `query` with psql as the superuser on the stack's ledger database; returns
        the rows as tuples of strings (NULL as None)."""
        host, port = self.pg_address()
        return psql(host, port, query, database)


def _as_list(payload):
    """The control API may answer a bare list or a {"data": [...]}-style wrapper."""
    if isinstance(payload, list):
        return payload
    for key in ("data", "requests", "payment_intents", "events"):
        if isinstance(payload.get(key), list):
            return payload[key]
    raise AssertionError(f"unexpected control API answer: {payload!r}")


# ---------------------------------------------------------------- helpers for the tests

def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def assert_error(answer, status, code, param=None):
    assert answer.status == status, answer
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.headers
    error = answer.json
    assert error.get("code") == code, answer
    assert isinstance(error.get("error"), str) and error["error"], answer
    if param is not None:
        assert str(error.get("param", "")).startswith(param), answer
    return error


def poll(predicate, timeout, interval=0.1):
    """Calls predicate() every `interval` s until it returns something truthy or `timeout` s
    have passed; returns its last value. It is called at least once, and once more when
    the deadline has passed, so a slow predicate still gets its last chance."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def clock_now(stack):
    """The Stripe double's time (unix seconds; tests move it forward: POST /_test/clock)."""
    return stack.stripe("GET", "/_test/clock").json["now"]


def advance_to(stack, when):
    """Moves the double's clock to `when` (never back). Then waits until the webhooks of
    what happened meanwhile (authorizations that lapsed) reached the service, as Stripe's
    do long before a scheduler's next pass: a pass run next sees the holds as they are."""
    moved = stack.stripe("POST", "/_test/clock", {"to": max(when, clock_now(stack))})
    assert moved.status == 200, moved
    drained = stack.stripe("POST", "/_test/webhooks/drain", {"timeout_ms": 15000})
    assert drained.status == 200 and drained.json["drained"], drained
    return moved.json


def capture_before(stack, pi_id):
    """When the card authorization of a PaymentIntent in the Stripe double ends."""
    pi = stack.stripe("GET", f"/v1/payment_intents/{pi_id}?expand[]=latest_charge").json
    return pi["latest_charge"]["payment_method_details"]["card"]["capture_before"]


def authorized_at(stack, pi_id):
    """When the card was authorized: the charge's `created`, which capture_before counts from
    (a second or so after the PaymentIntent's own `created` when a second boundary passes)."""
    pi = stack.stripe("GET", f"/v1/payment_intents/{pi_id}?expand[]=latest_charge").json
    assert 0 <= pi["latest_charge"]["created"] - pi["created"] <= 2, pi
    return pi["latest_charge"]["created"]


def wait_until(predicate, timeout, what, interval=0.1):
    """poll(), and fail the test with "timed out after <timeout>s waiting for <what>" when
    predicate() never held; returns its truthy value. `what` may be a callable, called
    only on a timeout, for a message that shows the last state seen."""
    value = poll(predicate, timeout, interval)
    if not value:
        pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
    return value


# ---------------------------------------------------------------- stack lifecycle

def psql(host, port, query, database="chittycharge", timeout=30):
    """psql as the superuser `postgres` over the socket in `host`; rows as tuples."""
    done = subprocess.run(
        [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f", "-P", "null=\x1e",
         "-v", "ON_ERROR_STOP=1", "-h", str(host), "-p", str(port), "-U", "postgres",
         "-d", database, "-c", query],
        capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"psql failed ({done.returncode}): {done.stderr.strip()}\n{query}")
    return [tuple(None if field == "\x1e" else field for field in line.split("\x1f"))
            for line in done.stdout.splitlines() if line]


def _port_free(port):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_free_port(taken=()):
    """A free loopback port not in `taken` (the kernel may hand out a port it just gave)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken:
            return port


def _pick_ports():
    """The preferred ports where free, else others; never the same port twice."""
    ports = {}
    for name, port in PREFERRED_PORTS.items():
        taken = set(ports.values())
        ports[name] = port if port not in taken and _port_free(port) else _any_free_port(taken)
    return ports


def _any_free_ports():
    ports = {}
    for name in PREFERRED_PORTS:
        ports[name] = _any_free_port(set(ports.values()))
    return ports


def _stack_env(run_dir, ports):
    env = {name: value for name, value in os.environ.items()
           if name in KEPT_NAMES
           or not (name.startswith(SCRUBBED_PREFIXES) or name in SCRUBBED_NAMES)}
    env.update({name: str(port) for name, port in ports.items()})
    env.update({
        "CHITTYCHARGE_SKIP_SETUP": "1",
        "CHITTYCHARGE_RUN_DIR": str(run_dir),
        "CHITTYCHARGE_READY_TIMEOUT": str(READY_TIMEOUT_S - 10),
        "CHITTY_ID_TOKEN": CHITTY_ID_TOKEN,
        "CHITTYCHARGE_API_TOKENS": API_TOKENS,
        "STRIPE_WEBHOOK_SECRET": f"{WEBHOOK_SECRET},{WEBHOOK_SECRET_OLD}",
        "RATE_LIMIT_PER_MINUTE": "100000",
        "STRIPE_TIMEOUT_MS": "3000",
        # the ChittyID reconciler replaces PENDING ids every 2 s (default 15)
        "CHITTYCHARGE_RECONCILE_SECONDS": "2",
        # the stack's scheduler loop stays idle; tests run a pass themselves (run_jobs)
        "CHITTYCHARGE_JOBS_INTERVAL_S": "3600",
        "CHITTYCHARGE_PROCESSES": "2",
        "CHITTYCHARGE_IN_FLIGHT": "16",
        # the double validates its own answers against Stripe's OpenAPI subset
        "CHITTYCHARGE_STRIPE_DOUBLE_ARGS": "--self-check",
    })
    return env


def _log_tails(run_dir, lines=40):
    parts = []
    for path in sorted(pathlib.Path(run_dir).glob("*.log")) + [pathlib.Path(run_dir) / "run.out"]:
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(tail))
    return "\n".join(parts)


def _wait_ready(proc, run_dir):
    out = pathlib.Path(run_dir) / "run.out"

    def ready():
        if "\nREADY http" in "\n" + out.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            pytest.fail(f"scripts/run.sh exited with {proc.returncode} before READY\n"
                        + _log_tails(run_dir), pytrace=False)
        return False

    if not poll(ready, READY_TIMEOUT_S):
        pytest.fail(f"no READY from scripts/run.sh within {READY_TIMEOUT_S}s\n"
                    + _log_tails(run_dir), pytrace=False)


def _read_pids(run_dir, names):
    pids = {}
    for name in names:
        path = pathlib.Path(run_dir) / f"{name}.pid"
        if path.exists():
            for number, line in enumerate(path.read_text().split()):
                pids[f"{name}[{number}]" if name == "workers" else name] = int(line)
    return pids


def _proc_stat(pid):
    """(state, pgrp) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid):
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def _group_members(pgid):
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None and stat[0] != "Z" and stat[1] == pgid:
                members.append(int(entry))
    return members


def _stop(proc, pids):
    """SIGTERM to the process group; returns a list of problems (empty when clean)."""
    problems = []
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        problems.append(f"run.sh did not exit within {STOP_TIMEOUT_S}s of SIGTERM")
    # orphans may need a moment to be reaped; what is left after that is reported below
    poll(lambda: not any(_alive(pid) for pid in pids.values()) and not _group_members(proc.pid),
         2)
    left = {name: pid for name, pid in pids.items() if _alive(pid)}
    if left:
        problems.append(f"still running after stop: {left}")
    members = _group_members(proc.pid)
    if members:
        problems.append(f"process group {proc.pid} still has members {members}")
    for pid in left.values():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return problems


def _raise_keyboard_interrupt(signum, frame):
    # So that `timeout` (SIGTERM) still runs the teardown that stops the stack.
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def stack():
    worker = pathlib.Path(os.environ.get("CHITTYCHARGE_WORKER", REPO / "build" / "chittycharge"))
    if not os.access(worker, os.X_OK):
        pytest.fail(f"{worker} is not built; run scripts/setup.sh (or scripts/test.sh)",
                    pytrace=False)
    previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield from launched_stack(prefix="chittycharge-it-", ports=_pick_ports())
    finally:
        signal.signal(signal.SIGTERM, previous_handler)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (tests/integration/browser.py): imported here only, so the rest
    of the harness stays stdlib only."""
    import browser as browser_module  # pylint: disable=import-outside-toplevel
    with browser_module.Browser.start() as started:
        yield started


# ---------------------------------------------------------------- more stacks

def launched_stack(extra_env=None, prefix="chittycharge-extra-", ports=None, own_memcached=False,
                   own_postgres=False, run_dir=None):
    """Starts a stack (its own run dir; `ports`, by default free ones) with `extra_env` on
    top of the common environment, e.g. low nginx limits. With own_memcached, run.sh uses
    a memcached started here (`.own_memcached`, an OwnMemcached) through MEMCACHED_SERVERS;
    with own_postgres, a PostgreSQL started here (`.own_postgres`, an OwnPostgres) through
    DATABASE_URL. `run_dir`: a run dir of the caller's, kept (a second run reuses it, as
    the run command does). A generator for fixtures: `yield from launched_stack({...})`;
    at the end every process it started must be gone."""
    keep_run_dir = run_dir is not None
    run_dir = pathlib.Path(run_dir or tempfile.mkdtemp(prefix=prefix))
    ports = ports or _any_free_ports()
    memcached = None
    postgres = None
    if own_memcached:
        memcached = OwnMemcached(run_dir, ports["CHITTYCHARGE_MEMCACHED_PORT"])
    env = _stack_env(run_dir, ports)
    if memcached:
        env["MEMCACHED_SERVERS"] = f"127.0.0.1:{memcached.port}"
    if own_postgres:
        try:
            postgres = OwnPostgres(ports["CHITTYCHARGE_PG_PORT"])
        except BaseException:
            if memcached:
                memcached.stop()
            raise
        env["DATABASE_URL"] = postgres.url
    env.update(extra_env or {})
    with open(run_dir / "run.out", "wb") as out:
        proc = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "run.sh")], cwd=REPO, env=env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    pids = {}
    try:
        _wait_ready(proc, run_dir)
        running = Stack(run_dir, ports)
        pids = _read_pids(run_dir, PID_FILES)
        running.pids = pids
        running.own_memcached = memcached
        running.own_postgres = postgres
        yield running
        pids.update(_read_pids(run_dir, ("workers",)))
    finally:
        problems = (_stop(proc, pids) + (memcached.stop() if memcached else [])
                    + (postgres.stop() if postgres else []))
        if problems or os.environ.get("CHITTYCHARGE_KEEP_RUN_DIR") == "1":
            print(f"\nstack run dir kept: {run_dir}")
        elif not keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
    assert not problems, "; ".join(problems) + "\n" + _log_tails(run_dir)


@pytest.fixture(scope="module")
def own_stack():
    """Per test module: a stack whose memcached a test may kill and restart
    (`own_stack.own_memcached`), 4 threads per worker, and one more client, LIMITED_TOKEN."""
    yield from launched_stack({
        "CHITTYCHARGE_API_TOKENS": f"{API_TOKENS},limited:{LIMITED_TOKEN}:NEW_GUEST:2",
        "CHITTYCHARGE_IN_FLIGHT": "4",
    }, prefix="chittycharge-it-own-", own_memcached=True)


OWN_MEMCACHED_WAIT_S = 10


def _port_open(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _wait_port(port, open_):
    wait_until(lambda: _port_open(port) == open_, OWN_MEMCACHED_WAIT_S,
               f"port {port} to {'open' if open_ else 'close'}", interval=0.05)


class OwnMemcached:
    """A memcached run by the harness (run.sh uses it through MEMCACHED_SERVERS), with a pid
    file and log under <run dir>/own-memcached/ (run.sh refuses a run dir whose *.pid names
    a running process)."""

    def __init__(self, run_dir, port):
        home = pathlib.Path(run_dir) / "own-memcached"
        home.mkdir()
        self.port = port
        self.pid_file = home / "memcached.pid"
        self.log = home / "memcached.log"
        self.proc = None
        self.start(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
                   + (["-u", "nobody"] if os.geteuid() == 0 else []))

    def start(self, argv):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.pid_file.write_text(f"{self.proc.pid}\n")
        _wait_port(self.port, open_=True)

    def kill(self, signum=signal.SIGKILL):
        """`signum` to the pid in the pid file; returns its command line, for start()."""
        pid = int(self.pid_file.read_text())
        argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
        os.kill(pid, signum)
        self.proc.wait(OWN_MEMCACHED_WAIT_S)
        self.pid_file.unlink()
        _wait_port(self.port, open_=False)
        return argv

    def stop(self):
        """Problems found while stopping (empty when it went away)."""
        if self.proc.poll() is not None:
            return []
        self.proc.terminate()
        try:
            self.proc.wait(OWN_MEMCACHED_WAIT_S)
            return []
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return [f"memcached {self.proc.pid} ignored SIGTERM"]


OWN_POSTGRES_WAIT_S = 30
SERVICE_ROLE = "chittycharge"


def _as_postgres_user():
    """The argv prefix that runs a PostgreSQL program as `postgres` (it refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups", "--"]


def _migrate_binary():
    """chittycharge-migrate beside the worker under test, else build/'s (as run.sh)."""
    worker = pathlib.Path(os.environ.get("CHITTYCHARGE_WORKER", REPO / "build" / "chittycharge"))
    beside = worker.with_name("chittycharge-migrate")
    return beside if os.access(beside, os.X_OK) else REPO / "build" / "chittycharge-migrate"


class OwnPostgres:
    """A PostgreSQL cluster run by the harness (run.sh uses it through DATABASE_URL, as an
    external database): initialised into its own temp dir (initdb, the database, the
    service role and the migrations, as run.sh does), started on `port`, stopped, killed
    and started again there by its pid (`pid_file`). Runs as `postgres` when root."""

    def __init__(self, port):
        self.home = pathlib.Path(tempfile.mkdtemp(prefix="chittycharge-own-pg-"))
        self.home.chmod(0o711)
        self.socket_dir = self.home / "sock"
        self.data = self.home / "data"
        self.port = port
        self.pid_file = self.home / "postgres.pid"
        self.log = self.home / "postgres.log"
        self.proc = None
        for path in (self.socket_dir, self.data):
            path.mkdir(mode=0o700)
            if os.geteuid() == 0:
                shutil.chown(path, "postgres", "postgres")
        host = urllib.parse.quote(str(self.socket_dir), safe="")
        self.url = f"postgresql://{SERVICE_ROLE}@/chittycharge?host={host}&port={port}"
        try:
            self._init()
        except BaseException:
            self.stop()
            raise

    def _run(self, argv, **kwargs):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=OWN_POSTGRES_WAIT_S,
                              check=False, **kwargs)
        assert done.returncode == 0, f"{argv[0]} failed: {done.stdout}{done.stderr}"

    def _init(self):
        self._run(_as_postgres_user() + [str(PG_BIN / "initdb"), "-D", str(self.data), "-U",
                                         "postgres", "--auth=trust", "-E", "UTF8",
                                         "--locale=C.UTF-8", "--no-sync"])
        self.start()
        psql(self.socket_dir, self.port, f"CREATE ROLE {SERVICE_ROLE} LOGIN", "postgres")
        psql(self.socket_dir, self.port, "CREATE DATABASE chittycharge", "postgres")
        host = urllib.parse.quote(str(self.socket_dir), safe="")
        migrate = _migrate_binary()
        self._run([str(migrate), "--dir", str(REPO / "db" / "migrations"), "--grant-role",
                   SERVICE_ROLE],
                  env={"DATABASE_URL": f"postgresql://postgres@/chittycharge?host={host}"
                                       f"&port={self.port}", "PATH": os.environ["PATH"]})

    def _ready(self):
        return subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", str(self.socket_dir),
                               "-p", str(self.port), "-t", "1"], check=False).returncode == 0

    def start(self):
        """Starts the cluster on its port (again after kill/stop) and waits until it accepts
        connections. Retried while the backends of a killed postmaster are still leaving."""
        deadline = time.monotonic() + OWN_POSTGRES_WAIT_S
        while True:
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    _as_postgres_user() + [str(PG_BIN / "postgres"), "-D", str(self.data), "-k",
                                           str(self.socket_dir), "-p", str(self.port), "-c",
                                           "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True)
            self.pid_file.write_text(f"{self.proc.pid}\n")
            if poll(lambda: self.proc.poll() is not None or self._ready(), OWN_POSTGRES_WAIT_S,
                    interval=0.05) and self.proc.poll() is None:
                return
            self.proc.kill()
            self.proc.wait(OWN_POSTGRES_WAIT_S)
            assert time.monotonic() < deadline, f"PostgreSQL did not start; see {self.log}"
            time.sleep(0.5)

    def kill(self, signum=signal.SIGKILL):
        """`signum` to the pid in the pid file (SIGKILL: PostgreSQL dies as in a crash);
        waits until it is gone and its port closed."""
        pid = int(self.pid_file.read_text())
        os.kill(pid, signum)
        self.proc.wait(OWN_POSTGRES_WAIT_S)
        self.pid_file.unlink()
        wait_until(lambda: not _port_open(self.port), OWN_POSTGRES_WAIT_S,
                   f"port {self.port} to close", interval=0.05)

    def stop(self):
        """Fast shutdown; problems found (empty when it went away). Removes its temp dir."""
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(OWN_POSTGRES_WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                problems.append(f"postgres {self.proc.pid} ignored SIGINT")
        if not problems:
            shutil.rmtree(self.home, ignore_errors=True)
        return problems
