"""The production deployment files: nginx site, systemd units, install layout, and how the
pool behaves when it is stopped.

- The renderer (scripts/render-nginx.sh) and `nginx -t` on what it renders.
- The units: `systemd-analyze verify` (any output fails), the security exposure, a
  comment above every hardening line, the environment example against the variables the
  worker reads, timeouts that agree with each other.
- `cmake --install` into a DESTDIR: every file in its FHS place.
- A production rig: nginx with the rendered production site, and the pool started the
  way chittycharge.socket + chittycharge.service start it (this process holds the
  listening socket, as systemd does, and runs the unit's ExecStart with fd 0 = the
  socket, the unit's Environment= and an EnvironmentFile made from the shipped example).
  Checked through it: HTTPS and the redirect, TLS versions/ciphers/ALPN, HSTS and the
  security headers, CORS from the environment file, /metrics for loopback only, 413s, a
  graceful restart that keeps the socket.
- The local stack: HTTPS, graceful SIGTERM of the workers with a request in flight, and
  nginx's limit_req (on a second stack started with low limits).

Container has no running systemd: the units are checked with systemd-analyze and
exercised by emulating what systemd does with them.
"""

import contextlib
import http.client
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

import conftest
from conftest import (ALPHA_TOKEN, CHITTY_ID_TOKEN, REPO, SANDBOX_STRIPE_KEY, WEBHOOK_SECRET,
                      launched_stack, wait_until)

RENDER = REPO / "scripts" / "render-nginx.sh"
NGINX_DIR = REPO / "nginx"
SITE_TEMPLATE = NGINX_DIR / "site.conf.template"
LOCAL_TEMPLATE = NGINX_DIR / "nginx.conf.template"
SERVICE = REPO / "systemd" / "chittycharge.service"
JOBS_SERVICE = REPO / "systemd" / "chittycharge-jobs.service"
JOBS_TIMER = REPO / "systemd" / "chittycharge-jobs.timer"
SOCKET_UNIT = REPO / "systemd" / "chittycharge.socket"
ENV_EXAMPLE = REPO / "systemd" / "chittycharge.env.example"
WORKER = pathlib.Path(os.environ.get("CHITTYCHARGE_WORKER", REPO / "build" / "chittycharge"))
MIGRATE = conftest._migrate_binary()
DEFAULT_ORIGINS = "https://chitty.cc,https://*.chitty.cc,https://furnished-condos.com,http://localhost:*"
RIG_ORIGINS = "https://app.example.com, https://*.example.org,http://localhost:*"
VALID = {"amount": 5000, "currency": "usd", "description": "deploy test hold"}
MAX_EXPOSURE = 1.5  # docs/deploy.md reports the current figure


# ---------------------------------------------------------------- helpers

def render(template, *defines, env_file=None, environ=None, out=None, check=True):
    """Runs the renderer; returns the CompletedProcess (text)."""
    argv = [str(RENDER)]
    if env_file is not None:
        argv += ["-e", str(env_file)]
    if out is not None:
        argv += ["-o", str(out)]
    for item in defines:
        argv += ["-D", item]
    argv.append(str(template))
    env = {k: v for k, v in os.environ.items() if k != "ALLOWED_ORIGINS"}
    env.update(environ or {})
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def self_signed(directory):
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def cors_regexes(rendered):
    """The CORS map's entries, as Python regexes (nginx's ~* is case-insensitive PCRE)."""
    block = re.search(r"map \$http_origin \$cc_cors_allowed_origin \{(.*?)\n\s*\}", rendered, re.S)
    assert block, rendered[:2000]
    entries = re.findall(r'"~\*(\^[^"]+\$)" \$http_origin;', block.group(1))
    return [re.compile(entry, re.I) for entry in entries]


def origin_allowed(regexes, origin):
    return any(regex.search(origin) for regex in regexes)


def unit_entries(path):
    """[(section, key, value)] of a unit file; comment and blank lines skipped."""
    entries, section = [], None
    for line in pathlib.Path(path).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("["):
            section = stripped.strip("[]")
            continue
        key, _, value = stripped.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(path, key, section="Service"):
    return [v for s, k, v in unit_entries(path) if s == section and k == key]


def read_env_file(path):
    """KEY=VALUE lines the way systemd's EnvironmentFile= reads them (no expansion)."""
    values = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_pids(parent):
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                children.append(int(entry))
    return children


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def json_lines(text):
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def accept_backlog(socket_path):
    """Connections to the unix socket `socket_path` that no process has accepted yet: in
    /proc/net/unix such a connection's server end is still SS_CONNECTING (state 02)."""
    waiting = 0
    for line in pathlib.Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[7] == socket_path and fields[5] == "02":
            waiting += 1
    return waiting


def create_waits_on_stripe(stack):
    """True while a create from this module is inside the Stripe double (logged, not answered)."""
    return any(e.get("method") == "POST" and e.get("path") == "/v1/payment_intents"
               and e.get("status") is None
               and (e.get("params") or {}).get("description") == VALID["description"]
               for e in stack.stripe_requests())


def in_flight(get_metrics):
    """chittycharge_http_requests_in_flight, counting the /metrics request itself."""
    answer = get_metrics()
    match = re.search(r"^chittycharge_http_requests_in_flight (\d+)$", answer, re.M)
    return int(match.group(1)) if match else 0


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Answer {self.status} {self.body[:500]!r}>"


def call(host, port, method, path, body=None, headers=None, tls=None, source=None, timeout=30):
    """One request on a fresh connection; tls is an SSLContext or None."""
    if tls is not None:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=tls,
                                           source_address=source)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=source)
    try:
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        conn.request(method, path, body=payload, headers=all_headers)
        answer = conn.getresponse()
        return Answer(answer.status, answer.headers, answer.read())
    finally:
        conn.close()


def tls_context(ca_file, check_hostname=True, minimum=None, maximum=None, ciphers=None,
                alpn=None):
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.check_hostname = check_hostname
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def handshake(port, ctx, session=None):
    """(protocol, cipher, alpn, session, reused) of one TLS handshake with 127.0.0.1:port."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            # TLS 1.3 tickets arrive after the handshake; read a byte of an answer.
            tls.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            tls.recv(1)
            return (tls.version(), tls.cipher()[0], tls.selected_alpn_protocol(), tls.session,
                    tls.session_reused)


# ---------------------------------------------------------------- the renderer

@pytest.mark.parametrize("origins,allowed,refused", [
    (None, ["https://chitty.cc", "https://a.b.chitty.cc", "http://localhost", "http://localhost:5173",
            "https://FURNISHED-CONDOS.com"],
     ["https://chitty.cc.evil.com", "https://evilchitty.cc", "http://chitty.cc",
      "https://localhost:3000", "null", ""]),
    ("https://app.example.com, https://*.example.org ,http://localhost:*,https://pay.example.net:8443",
     ["https://app.example.com", "https://x.example.org", "https://a.b.example.org",
      "http://localhost:3000", "https://pay.example.net:8443"],
     ["https://example.org", "https://appXexample.com", "https://app.example.com:444",
      "https://pay.example.net", "https://chitty.cc", "https://x.example.org.evil.com"]),
])
def test_renderer_builds_the_cors_map_from_allowed_origins(origins, allowed, refused):
    environ = {} if origins is None else {"ALLOWED_ORIGINS": origins}
    rendered = render(SITE_TEMPLATE, "SERVER_NAME=charge.example.com", "TLS_CERT=/c.pem",
                      "TLS_KEY=/k.pem", environ=environ).stdout
    regexes = cors_regexes(rendered)
    expected = len([o for o in (origins or DEFAULT_ORIGINS).split(",") if o.strip()])
    assert len(regexes) == expected, rendered
    for origin in allowed:
        assert origin_allowed(regexes, origin), origin
    for origin in refused:
        assert not origin_allowed(regexes, origin), origin


def test_renderer_reads_allowed_origins_from_the_environment_file(tmp_path):
    env_file = tmp_path / "chittycharge.env"
    env_file.write_text("STRIPE_SECRET_KEY=sk_test_not_read\n"
                        "ALLOWED_ORIGINS=https://old.example.com\n"
                        "# ALLOWED_ORIGINS=https://commented.example.com\n"
                        'ALLOWED_ORIGINS="https://new.example.com,http://localhost:*"\n')
    rendered = render(SITE_TEMPLATE, "SERVER_NAME=s", "TLS_CERT=/c", "TLS_KEY=/k",
                      env_file=env_file, environ={"ALLOWED_ORIGINS": "https://env.example.com"}).stdout
    regexes = cors_regexes(rendered)
    assert origin_allowed(regexes, "https://new.example.com")
    assert origin_allowed(regexes, "http://localhost:8080")
    for origin in ("https://old.example.com", "https://commented.example.com",
                   "https://env.example.com"):
        assert not origin_allowed(regexes, origin), origin
    assert "sk_test_not_read" not in rendered
    env_file.write_text("STRIPE_SECRET_KEY=x\n")  # no ALLOWED_ORIGINS: the default list
    regexes = cors_regexes(render(SITE_TEMPLATE, "SERVER_NAME=s", "TLS_CERT=/c", "TLS_KEY=/k",
                                  env_file=env_file).stdout)
    assert origin_allowed(regexes, "https://app.chitty.cc")


@pytest.mark.parametrize("origin", [
    "*", "https://example.com/", "https://example.com/path", "ftp://example.com",
    "https://*.example.*", "https://a*.example.com", "example.com", "https://exa$mple.com",
    "https://example.com:80:80", 'https://e.com" $x;',
])
def test_renderer_refuses_an_unusable_origin(origin):
    done = render(SITE_TEMPLATE, "SERVER_NAME=s", "TLS_CERT=/c", "TLS_KEY=/k",
                  environ={"ALLOWED_ORIGINS": f"https://ok.example.com,{origin}"}, check=False)
    assert done.returncode == 1 and "ALLOWED_ORIGINS" in done.stderr, done
    assert done.stdout == ""
    check = subprocess.run([str(RENDER), "--check-origins"], capture_output=True, text=True,
                           env=dict(os.environ, ALLOWED_ORIGINS=origin))
    assert check.returncode == 1


def test_renderer_fails_on_a_missing_value_and_writes_nothing(tmp_path):
    out = tmp_path / "site.conf"
    done = render(SITE_TEMPLATE, "TLS_CERT=/c", "TLS_KEY=/k", out=out, check=False)
    assert done.returncode == 1 and "@SERVER_NAME@" in done.stderr, done
    assert not out.exists()
    done = render(SITE_TEMPLATE, "SERVER_NAME=a\nb", "TLS_CERT=/c", "TLS_KEY=/k", check=False)
    assert done.returncode == 1 and "line break" in done.stderr


def test_renderer_output_has_no_placeholder_and_keeps_the_include_indent(tmp_path):
    out = tmp_path / "site.conf"
    render(SITE_TEMPLATE, "SERVER_NAME=charge.example.com", "TLS_CERT=/c", "TLS_KEY=/k", out=out)
    text = out.read_text()
    assert not re.search(r"@[A-Z][A-Z0-9_]*@", text)
    assert "\n    ssl_protocols             TLSv1.2 TLSv1.3;\n" in text
    assert "\n    location = /metrics {\n" in text
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_run_sh_has_no_nginx_rendering_of_its_own():
    """One implementation: run.sh delegates the CORS map and placeholders to the renderer."""
    run_sh = (REPO / "scripts" / "run.sh").read_text()
    assert "render-nginx.sh" in run_sh
    assert "cors_map_entries" not in run_sh and "http_origin" not in run_sh
    assert "${text//" not in run_sh


# ---------------------------------------------------------------- nginx -t

def nginx_t(config, prefix=None):
    argv = ["nginx", "-t", "-c", str(config), "-e", str(pathlib.Path(config).parent / "test-error.log")]
    if prefix is not None:
        argv += ["-p", str(prefix)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    problems = [line for line in done.stderr.splitlines()
                if "[warn]" in line or "[emerg]" in line or "[alert]" in line]
    return done.returncode, problems, done.stderr


def test_production_site_passes_nginx_t_inside_debians_nginx_conf(tmp_path):
    """The rendered site next to Debian's default site, in a copy of /etc/nginx/nginx.conf."""
    cert, key = self_signed(tmp_path)
    site = tmp_path / "chittycharge"
    render(SITE_TEMPLATE, "SERVER_NAME=charge.example.com", f"TLS_CERT={cert}", f"TLS_KEY={key}",
           f"ACCESS_LOG={tmp_path}/access.log", f"ERROR_LOG={tmp_path}/error.log",
           env_file=ENV_EXAMPLE, out=site)
    main = pathlib.Path("/etc/nginx/nginx.conf").read_text()
    assert "include /etc/nginx/sites-enabled/*;" in main
    main = main.replace("include /etc/nginx/sites-enabled/*;",
                        f"include /etc/nginx/sites-enabled/*;\n\tinclude {site};")
    main = re.sub(r"(?m)^pid .*$", f"pid {tmp_path}/nginx.pid;", main)
    (tmp_path / "nginx.conf").write_text(main)
    status, problems, output = nginx_t(tmp_path / "nginx.conf")
    assert status == 0 and not problems, output


def test_local_config_passes_nginx_t(tmp_path):
    cert, key = self_signed(tmp_path)
    (tmp_path / "nginx-tmp").mkdir()
    render(LOCAL_TEMPLATE, f"RUN_DIR={tmp_path}", f"SOCKET={tmp_path}/cc.sock", "HTTP_PORT=1",
           "HTTPS_PORT=2", f"TLS_CERT={cert}", f"TLS_KEY={key}", "LIMIT_RATE=5r/m",
           out=tmp_path / "nginx.conf")
    status, problems, output = nginx_t(tmp_path / "nginx.conf", prefix=tmp_path)
    assert status == 0 and not problems, output


def directive(text, name):
    match = re.search(rf"^\s*{name}\s+([^;]+);", text, re.M)
    assert match, name
    return match.group(1).strip()


def seconds(value):
    match = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert match, value
    number, unit = int(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * 60 if unit == "m" else number


def test_timeouts_are_coherent():
    """nginx waits longer than the worker can take; systemd waits longer than nginx."""
    server = (NGINX_DIR / "common-server.conf.template").read_text()
    retry_h = (REPO / "src" / "stripe" / "stripe_client.h").read_text()
    config_h = (REPO / "src" / "config" / "config.h").read_text()
    budget_ms = int(re.search(r"retry_budget\{(\d+)\}", retry_h).group(1))
    stripe_ms = int(re.search(r"stripe_timeout_ms = (\d+)", config_h).group(1))
    chittyid_ms = int(re.search(r"chitty_id_timeout_ms = (\d+)", config_h).group(1))
    # capture/cancel: refresh, metadata, operation; each within budget + one last attempt
    worst = (3 * (budget_ms + stripe_ms) + chittyid_ms) / 1000
    read_timeout = seconds(directive(server, "fastcgi_read_timeout"))
    assert read_timeout >= worst, (read_timeout, worst)
    stop = seconds(unit_values(SERVICE, "TimeoutStopSec")[0])
    assert stop > read_timeout
    assert seconds(directive(server, "client_body_timeout")) <= read_timeout
    assert directive(server, "fastcgi_next_upstream") == "off"


def test_body_limits_and_zones_in_the_shared_server_part():
    server = (NGINX_DIR / "common-server.conf.template").read_text()
    assert directive(server, "client_max_body_size") == "64k"
    webhook = re.search(r"location = /webhook \{(.*?)\}", server, re.S).group(1)
    assert directive(webhook, "client_max_body_size") == "1m"
    assert "zone=cc_webhook" in webhook
    api = re.search(r"location /api/ \{(.*?)\}", server, re.S).group(1)
    assert "zone=cc_api" in api
    metrics = re.search(r"location = /metrics \{(.*?)\}", server, re.S).group(1)
    assert re.findall(r"(allow|deny)\s+(\S+);", metrics) == [
        ("allow", "127.0.0.1"), ("allow", "::1"), ("deny", "all")]
    # add_header in a location would silently drop every server-level header
    for block in re.findall(r"location [^{]*\{(.*?)\}", server, re.S):
        assert "add_header" not in block


# ---------------------------------------------------------------- systemd units

def test_units_pass_systemd_analyze_verify():
    done = subprocess.run(["systemd-analyze", "verify", str(SOCKET_UNIT), str(SERVICE),
                           str(JOBS_SERVICE), str(JOBS_TIMER)],
                          capture_output=True, text=True, timeout=60)
    # The one thing verify cannot see here: the binaries are installed by the package
    # (test_cmake_install_puts_every_file_in_its_fhs_place), not on this host.
    stderr = done.stderr
    for unit, tool in (("chittycharge.service", "chittycharge-migrate"),
                       ("chittycharge-jobs.service", "chittycharge-jobs")):
        missing = (f"{unit}: Command /usr/bin/{tool} is not executable: "
                   "No such file or directory\n")
        if not os.access(f"/usr/bin/{tool}", os.X_OK):
            stderr = stderr.replace(missing, "")
    missing_only = stderr == "" and done.stderr != ""  # verify's status says "missing"
    assert (done.returncode == 0 or missing_only) and done.stdout == "" and stderr == "", done


@pytest.mark.parametrize("unit", [SERVICE, JOBS_SERVICE], ids=lambda u: u.name)
def test_service_exposure_is_low(unit):
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(rf"Overall exposure level for {re.escape(unit.name)}: ([\d.]+)", done.stdout)
    assert match, done
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, done.stdout
    documented = (REPO / "docs" / "deploy.md").read_text()
    assert f"{exposure:.1f}" in documented, "docs/deploy.md does not report the current exposure"


def test_jobs_timer_runs_the_pass_on_the_default_interval():
    assert unit_values(JOBS_TIMER, "OnUnitActiveSec", "Timer") == ["60s"]
    assert unit_values(JOBS_SERVICE, "Type") == ["oneshot"]
    assert unit_values(JOBS_SERVICE, "ExecStart") == ["/usr/bin/chittycharge-jobs"]
    assert "postgresql.service" in unit_values(JOBS_SERVICE, "After", "Unit")[0].split()


@pytest.mark.parametrize("unit", [SERVICE, JOBS_SERVICE], ids=lambda u: u.name)
def test_every_hardening_line_carries_a_comment(unit):
    lines = unit.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# --- hardening"))
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    keys = []
    for i in range(start + 1, end):
        line = lines[i]
        if line and not line.startswith("#"):
            assert lines[i - 1].startswith("# "), f"no comment above: {line}"
            keys.append(line.split("=", 1)[0])
    for wanted in ("User", "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
                   "PrivateDevices", "RestrictAddressFamilies", "CapabilityBoundingSet",
                   "SystemCallFilter", "MemoryDenyWriteExecute"):
        assert wanted in keys, wanted
    assert unit_values(unit, "CapabilityBoundingSet") == [""]
    assert "@system-service" in unit_values(unit, "SystemCallFilter")


def test_service_takes_the_socket_and_logs_to_the_journal():
    assert unit_values(SERVICE, "StandardInput") == ["socket"]
    assert unit_values(SERVICE, "StandardOutput") == ["journal"]
    assert unit_values(SERVICE, "EnvironmentFile") == ["/etc/chittycharge/chittycharge.env"]
    assert unit_values(SERVICE, "Restart") == ["on-failure"]
    assert "memcached.service" in unit_values(SERVICE, "After", "Unit")
    assert "chittycharge.socket" in unit_values(SERVICE, "Requires", "Unit")
    socket_path = unit_values(SOCKET_UNIT, "ListenStream", "Socket")
    assert socket_path == ["/run/chittycharge.sock"]
    assert f"SOCKET={socket_path[0]}" in SITE_TEMPLATE.read_text()
    assert unit_values(SOCKET_UNIT, "SocketGroup", "Socket") == ["www-data"]
    assert unit_values(SOCKET_UNIT, "SocketMode", "Socket") == ["0660"]
    exec_start = unit_values(SERVICE, "ExecStart")[0]
    assert exec_start.startswith("/usr/bin/multiwatch ") and exec_start.endswith(" /usr/bin/chittycharge")
    assert "--signal=TERM" in exec_start


def test_service_waits_for_postgresql_and_checks_the_migrations_first():
    assert "postgresql.service" in unit_values(SERVICE, "After", "Unit")
    assert "postgresql.service" in unit_values(SERVICE, "Wants", "Unit")
    assert "postgresql.service" not in unit_values(SERVICE, "Requires", "Unit")
    assert unit_values(SERVICE, "ExecStartPre") == [
        "/usr/bin/chittycharge-migrate --dir /usr/share/chittycharge/migrations"]
    assert re.search(r"^#?DATABASE_URL=", ENV_EXAMPLE.read_text(), re.M)


def test_sysusers_file_creates_the_service_user(tmp_path):
    (tmp_path / "etc").mkdir()
    done = subprocess.run(["systemd-sysusers", f"--root={tmp_path}",
                           str(REPO / "systemd" / "chittycharge.sysusers")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    user = unit_values(SERVICE, "User")[0]
    passwd = {line.split(":")[0]: line.split(":") for line in
              (tmp_path / "etc" / "passwd").read_text().splitlines()}
    assert passwd[user][6] == "/usr/sbin/nologin"
    group = {line.split(":")[0]: line.split(":") for line in
             (tmp_path / "etc" / "group").read_text().splitlines()}
    assert unit_values(SERVICE, "Group")[0] in group and passwd[user][3] == group[user][2]


def test_env_example_names_every_variable_and_holds_no_secret():
    sources = (REPO / "src" / "config" / "config.cpp").read_text() + \
        (REPO / "src" / "app" / "main.cpp").read_text()
    read = set(re.findall(r'getenv\(\s*"([A-Z][A-Z0-9_]+)"', sources))
    read |= set(re.findall(r'(?:ReadInt|ReadString)\(getenv, "([A-Z][A-Z0-9_]+)"', sources))
    assert {"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "CHITTYCHARGE_API_TOKENS"} <= read
    read -= {"CHITTYCHARGE_METRICS_FILE"}  # set by the unit itself
    read |= {"ALLOWED_ORIGINS", "CHITTYCHARGE_PROCESSES"}  # nginx's, multiwatch's
    text = ENV_EXAMPLE.read_text()
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, re.M))
    assert read <= named, sorted(read - named)
    for key, value in read_env_file(ENV_EXAMPLE).items():
        assert value == "", f"{key} has a value in the example"
    assert not re.search(r"(sk|rk)_(live|test)_[A-Za-z0-9]|whsec_[A-Za-z0-9]", text)


# ---------------------------------------------------------------- cmake --install

def test_cmake_install_puts_every_file_in_its_fhs_place(tmp_path):
    build = REPO / "build"
    if not (build / "cmake_install.cmake").exists():
        pytest.fail("build/ is not configured; run scripts/setup.sh", pytrace=False)
    if "chittycharge.socket" not in (build / "cmake_install.cmake").read_text():
        subprocess.run(["cmake", "-S", str(REPO), "-B", str(build)], check=True,
                       capture_output=True, timeout=120)
    dest = tmp_path / "root"
    done = subprocess.run(["cmake", "--install", str(build), "--prefix", "/usr"],
                          env=dict(os.environ, DESTDIR=str(dest)), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    expected = {
        "usr/bin/chittycharge": 0o755,
        "usr/bin/chittycharge-jobs": 0o755,
        "usr/lib/systemd/system/chittycharge-jobs.service": 0o644,
        "usr/lib/systemd/system/chittycharge-jobs.timer": 0o644,
        "usr/share/doc/chittycharge/lifecycle.md": 0o644,
        "usr/lib/systemd/system/chittycharge.service": 0o644,
        "usr/lib/systemd/system/chittycharge.socket": 0o644,
        "usr/lib/sysusers.d/chittycharge.conf": 0o644,
        "usr/share/chittycharge/render-nginx.sh": 0o755,
        "usr/share/chittycharge/nginx/site.conf.template": 0o644,
        "usr/share/chittycharge/nginx/common-http.conf.template": 0o644,
        "usr/share/chittycharge/nginx/common-server.conf.template": 0o644,
        "usr/share/chittycharge/nginx/common-tls.conf.template": 0o644,
        "usr/share/doc/chittycharge/deploy.md": 0o644,
        "etc/chittycharge/chittycharge.env.example": 0o600,
    }
    for path, mode in expected.items():
        installed = dest / path
        assert installed.is_file(), path
        assert installed.stat().st_mode & 0o777 == mode, (path, oct(installed.stat().st_mode))
    for unit in ("chittycharge.service", "chittycharge.socket"):
        assert (dest / "usr/lib/systemd/system" / unit).read_bytes() == \
            (REPO / "systemd" / unit).read_bytes()
    # The installed renderer finds the installed includes and reads the installed example.
    cert, key = self_signed(tmp_path)
    done = subprocess.run(
        [str(dest / "usr/share/chittycharge/render-nginx.sh"),
         "-e", str(dest / "etc/chittycharge/chittycharge.env.example"),
         "-D", "SERVER_NAME=charge.example.com", "-D", f"TLS_CERT={cert}", "-D", f"TLS_KEY={key}",
         str(dest / "usr/share/chittycharge/nginx/site.conf.template")],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "fastcgi_pass unix:/run/chittycharge.sock;" in done.stdout


# ---------------------------------------------------------------- the production rig

class Rig:
    """nginx with the rendered production site + the pool run as the units run it."""

    def __init__(self, stack, directory):
        self.stack = stack
        self.dir = directory
        self.http_port = free_port()
        self.https_port = free_port()
        self.socket_path = str(directory / "chittycharge.sock")
        self.ca_file = stack.ca_file
        self.listener = None
        self.pool = None
        self.nginx = None
        self.pool_log = open(directory / "pool.log", "ab")

    # --- the units, emulated
    def write_env_file(self):
        """The shipped example with this test's values filled in (mode 0600, as deployed)."""
        values = {
            "STRIPE_SECRET_KEY": SANDBOX_STRIPE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "CHITTY_ID_TOKEN": CHITTY_ID_TOKEN,
            "CHITTYCHARGE_API_TOKENS": f"alpha:{ALPHA_TOKEN}",
            "DATABASE_URL": self.stack.database_url(),
            "STRIPE_API_BASE": f"https://127.0.0.1:{self.stack.stripe_port}",
            "CHITTY_ID_URL": f"https://127.0.0.1:{self.stack.chittyid_port}",
            "MEMCACHED_SERVERS": f"127.0.0.1:{self.stack.memcached_port}",
            "CHITTYCHARGE_CA_FILE": self.ca_file,
            "RATE_LIMIT_PER_MINUTE": "100000",
            "ALLOWED_ORIGINS": RIG_ORIGINS,
            "STRIPE_TIMEOUT_MS": "5000",
            "CHITTYCHARGE_IN_FLIGHT": "4",
        }
        lines = []
        for line in ENV_EXAMPLE.read_text().splitlines():
            match = re.match(r"^#?([A-Z][A-Z0-9_]+)=", line)
            if match and match.group(1) in values:
                line = f"{match.group(1)}={values.pop(match.group(1))}"
            lines.append(line)
        assert not values, f"not in the example: {sorted(values)}"
        env_file = self.dir / "chittycharge.env"
        env_file.write_text("\n".join(lines) + "\n")
        env_file.chmod(0o600)
        return env_file

    def pool_command(self, env):
        runtime = self.dir / "run"
        (runtime / "chittycharge").mkdir(parents=True, exist_ok=True)

        def expand(text):
            text = text.replace("%t", str(runtime))
            return re.sub(r"\$\{([A-Z_]+)\}", lambda m: env[m.group(1)], text)

        for assignment in unit_values(SERVICE, "Environment"):
            key, _, value = assignment.partition("=")
            env.setdefault(key, expand(value))  # EnvironmentFile= wins
        argv = shlex.split(expand(unit_values(SERVICE, "ExecStart")[0]))
        return [str(WORKER) if word == "/usr/bin/chittycharge" else word for word in argv]

    def migrate_check(self, env):
        """ExecStartPre=: chittycharge-migrate with the service's environment must pass
        before the pool starts (the stack's ledger is migrated; the role only checks)."""
        for line in unit_values(SERVICE, "ExecStartPre"):
            argv = shlex.split(line)
            argv = [str(MIGRATE) if word == "/usr/bin/chittycharge-migrate" else
                    str(REPO / "db" / "migrations")
                    if word == "/usr/share/chittycharge/migrations" else word for word in argv]
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                                  check=False)
            assert done.returncode == 0, f"ExecStartPre {line}: {done.stderr}"
            assert '"applied":0' in done.stderr, done.stderr

    def start_pool(self):
        """ExecStart with fd 0 = the listening socket (StandardInput=socket)."""
        env = {"PATH": "/usr/bin:/bin"}
        unit_env = read_env_file(self.env_file)
        env.update(unit_env)
        argv = self.pool_command(env)
        self.migrate_check(env)
        self.pool = subprocess.Popen(argv, stdin=self.listener.fileno(), stdout=self.pool_log,
                                     stderr=self.pool_log, env=env, start_new_session=True)

    def stop_pool(self, timeout=20):
        """KillMode=mixed: SIGTERM to the main process (multiwatch) only; after `timeout`
        SIGKILL to the whole pool, as TimeoutStopSec= does. True when it stopped by itself."""
        self.pool.send_signal(signal.SIGTERM)
        try:
            self.pool.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pool.pid, signal.SIGKILL)
            self.pool.wait()
            return False

    def start(self):
        self.env_file = self.write_env_file()
        # chittycharge.socket
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o660)
        self.listener.listen(1024)
        self.start_pool()
        # the nginx site, rendered from the same environment file
        (self.dir / "acme" / ".well-known" / "acme-challenge").mkdir(parents=True)
        (self.dir / "tmp").mkdir()
        tls = pathlib.Path(self.stack.run_dir) / "tls"
        render(SITE_TEMPLATE, "SERVER_NAME=localhost", f"TLS_CERT={tls}/cert.pem",
               f"TLS_KEY={tls}/key.pem", f"SOCKET={self.socket_path}",
               f"HTTP_LISTEN=127.0.0.1:{self.http_port}", f"HTTP_LISTEN6=[::1]:{self.http_port}",
               f"HTTPS_LISTEN=127.0.0.1:{self.https_port}",
               f"HTTPS_LISTEN6=[::1]:{self.https_port}", f"ACME_ROOT={self.dir}/acme",
               f"ACCESS_LOG={self.dir}/access.log", f"ERROR_LOG={self.dir}/error.log",
               env_file=self.env_file, out=self.dir / "site.conf")
        user = "user root;" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(f"""{user}
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {self.dir}/tmp/body;
    fastcgi_temp_path {self.dir}/tmp/fastcgi;
    proxy_temp_path {self.dir}/tmp/proxy;
    uwsgi_temp_path {self.dir}/tmp/uwsgi;
    scgi_temp_path {self.dir}/tmp/scgi;
    include {self.dir}/site.conf;
}}
""")
        self.nginx = subprocess.Popen(
            ["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
             "-e", str(self.dir / "error.log"), "-g", "daemon off;"],
            stdout=self.pool_log, stderr=self.pool_log, start_new_session=True)
        wait_until(self.healthy, 30, "the production rig's /health")

    def healthy(self):
        try:
            answer = self.https("GET", "/health", timeout=5)
        except OSError:
            return False
        return answer.status in (200, 503) and answer.body.startswith(b"{")

    def close(self):
        for proc, sig in ((self.nginx, signal.SIGQUIT), (self.pool, signal.SIGTERM)):
            if proc is not None and proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        if self.pool is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pool.pid, signal.SIGKILL)  # orphaned workers, if any
        if self.listener is not None:
            self.listener.close()
        self.pool_log.close()

    # --- talking to it
    def tls(self, **kwargs):
        return tls_context(self.ca_file, **kwargs)

    def https(self, method, path, body=None, headers=None, token=None, source=None, timeout=30):
        all_headers = {"ChittyID-Token": token} if token else {}
        all_headers.update(headers or {})
        return call("127.0.0.1", self.https_port, method, path, body, all_headers,
                    tls=self.tls(), source=source, timeout=timeout)

    def get_metrics(self):
        return self.https("GET", "/metrics").body.decode()


@pytest.fixture(scope="module")
def rig(stack):
    if not os.access(WORKER, os.X_OK):
        pytest.fail(f"{WORKER} is not built", pytrace=False)
    directory = pathlib.Path(tempfile.mkdtemp(prefix="chittycharge-rig-"))
    running = Rig(stack, directory)
    try:
        running.start()
        yield running
    finally:
        running.close()
        if os.environ.get("CHITTYCHARGE_KEEP_RUN_DIR") == "1":
            print(f"\nrig dir kept: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def slow_stripe(stack, ms):
    answer = stack.stripe("POST", "/_test/latency", {"ms": ms})
    assert answer.status == 200, answer
    try:
        yield
    finally:
        stack.stripe("POST", "/_test/latency", {"ms": 0})


def test_rig_pool_runs_as_the_unit_says(rig):
    workers = child_pids(rig.pool.pid)
    assert len(workers) == int(read_env_file(rig.env_file).get("CHITTYCHARGE_PROCESSES") or 2)
    for pid in workers:
        assert os.readlink(f"/proc/{pid}/fd/0").startswith("socket:")
    assert (rig.dir / "run" / "chittycharge" / "metrics.shm").exists()
    created = rig.https("POST", "/api/holds", VALID, token=ALPHA_TOKEN)
    assert created.status == 201, created


def test_http_redirects_to_https_except_the_acme_challenge(rig):
    for path in ("/health", "/api/holds?property_id=p1"):
        answer = call("127.0.0.1", rig.http_port, "GET", path)
        assert answer.status == 301, answer
        assert answer.headers["Location"] == f"https://localhost{path}"
        assert answer.headers.get("Server") == "nginx"
    (rig.dir / "acme" / ".well-known" / "acme-challenge" / "tok123").write_text("tok123.key\n")
    answer = call("127.0.0.1", rig.http_port, "GET", "/.well-known/acme-challenge/tok123")
    assert answer.status == 200 and answer.body == b"tok123.key\n", answer
    v6 = call("::1", rig.http_port, "GET", "/health")
    assert v6.status == 301


def test_https_answers_with_hsts_and_security_headers(rig):
    answer = rig.https("GET", "/health")
    assert answer.status == 200, answer
    hsts = answer.headers.get("Strict-Transport-Security", "")
    assert int(re.fullmatch(r"max-age=(\d+)", hsts).group(1)) >= 365 * 86400
    assert answer.headers.get("X-Content-Type-Options") == "nosniff"
    assert answer.headers.get("X-Frame-Options") == "DENY"
    assert "frame-ancestors 'none'" in answer.headers.get("Content-Security-Policy", "")
    assert answer.headers.get("Referrer-Policy") == "no-referrer"
    assert answer.headers.get("Cache-Control") == "no-store"
    assert answer.headers.get("Server") == "nginx"
    assert answer.headers.get("X-Request-Id")
    # nginx's own answers carry them too
    too_large = rig.https("POST", "/api/holds", b"x" * (64 * 1024 + 1), token=ALPHA_TOKEN)
    assert too_large.status == 413 and too_large.json["code"] == "payload_too_large"
    assert too_large.headers.get("Strict-Transport-Security") == hsts


@pytest.mark.parametrize("which", ["local", "production"])
def test_tls_is_mozilla_intermediate(which, stack, rig):
    port, ca = (stack.https_port, stack.ca_file) if which == "local" else (rig.https_port, rig.ca_file)
    v13 = handshake(port, tls_context(ca, minimum=ssl.TLSVersion.TLSv1_3, alpn=["h2", "http/1.1"]))
    assert v13[0] == "TLSv1.3" and v13[2] == "h2"
    ctx12 = tls_context(ca, maximum=ssl.TLSVersion.TLSv1_2)
    first = handshake(port, ctx12)
    assert first[0] == "TLSv1.2" and first[1].startswith("ECDHE-"), first
    assert "GCM" in first[1] or "CHACHA20" in first[1], first
    resumed = handshake(port, ctx12, session=first[3])
    assert resumed[4], "TLS 1.2 session not resumed from the shared session cache"
    for ciphers in ("AES128-SHA256:AES256-SHA", "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES128-GCM-SHA256"):
        with pytest.raises(ssl.SSLError):
            handshake(port, tls_context(ca, maximum=ssl.TLSVersion.TLSv1_2, ciphers=ciphers))
    legacy = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1",
                             "-cipher", "DEFAULT@SECLEVEL=0"], input="", capture_output=True,
                            text=True, timeout=20)
    # The client offered TLS 1.1 only; the server answered with an alert, no cipher.
    assert legacy.returncode != 0 and "Cipher is (NONE)" in legacy.stdout, legacy.stdout
    assert "alert protocol version" in legacy.stderr, legacy.stderr


def test_cors_follows_allowed_origins_from_the_environment_file(rig):
    cases = {
        "https://app.example.com": True, "https://a.b.example.org": True,
        "http://localhost": True, "http://localhost:5173": True,
        "https://example.org": False, "https://chitty.cc": False,
        "https://app.example.com.evil.com": False, "https://localhost:5173": False,
    }
    for origin, allowed in cases.items():
        answer = rig.https("GET", "/api/holds", token=ALPHA_TOKEN, headers={"Origin": origin})
        assert answer.status == 200, answer
        if allowed:
            assert answer.headers.get("Access-Control-Allow-Origin") == origin
            assert answer.headers.get("Vary") == "Origin"
        else:
            assert answer.headers.get("Access-Control-Allow-Origin") is None, origin
    preflight = rig.https("OPTIONS", "/api/holds", headers={
        "Origin": "https://x.example.org", "Access-Control-Request-Method": "POST"})
    assert preflight.status == 204
    assert preflight.headers.get("Access-Control-Allow-Origin") == "https://x.example.org"
    assert "POST" in preflight.headers.get("Access-Control-Allow-Methods", "")
    assert preflight.headers.get("Strict-Transport-Security")


def test_metrics_only_for_loopback_127_0_0_1_and_ipv6(rig):
    ok = rig.https("GET", "/metrics")
    assert ok.status == 200 and b"chittycharge_http_requests_total" in ok.body
    v6 = call("::1", rig.https_port, "GET", "/metrics", tls=rig.tls(check_hostname=False))
    assert v6.status == 200, v6
    other = rig.https("GET", "/metrics", source=("127.0.0.2", 0))
    assert other.status == 403, other
    assert other.json["code"] == "forbidden"
    assert other.headers.get("Content-Type", "").startswith("application/json")
    # the rest of the API answers that address normally
    assert rig.https("GET", "/health", source=("127.0.0.2", 0)).status == 200


def test_rig_body_limits(rig):
    ok = rig.https("POST", "/api/holds", b"{" + b" " * (64 * 1024 - 2) + b"}", token=ALPHA_TOKEN)
    assert ok.status == 400, ok  # reached the worker: 64 KiB exactly is allowed
    webhook_ok = rig.https("POST", "/webhook", b"{" + b" " * (1024 * 1024 - 2) + b"}")
    assert webhook_ok.status == 400 and webhook_ok.json["code"] == "invalid_signature"
    webhook_big = rig.https("POST", "/webhook", b"x" * (1024 * 1024 + 1))
    assert webhook_big.status == 413 and webhook_big.json["code"] == "payload_too_large"
    assert webhook_big.headers.get("Access-Control-Allow-Origin") is None


def test_restart_finishes_the_request_in_flight_and_keeps_the_socket(rig, stack):
    """systemctl restart: SIGTERM to multiwatch, workers finish, a new pool starts on the
    same listening socket; a request made while no worker runs waits and succeeds."""
    old_workers = child_pids(rig.pool.pid)
    answers = {}
    with slow_stripe(stack, 1500):
        create = threading.Thread(target=lambda: answers.update(
            create=rig.https("POST", "/api/holds", VALID, token=ALPHA_TOKEN)))
        create.start()
        wait_until(lambda: in_flight(rig.get_metrics) >= 2, 5, "the create to be in flight")
        # the stop comes while the create waits on Stripe (1.5 s), not before it got there
        wait_until(lambda: create_waits_on_stripe(stack), 5, "the create to reach Stripe")
        stopped_at = time.monotonic()
        assert rig.stop_pool(), "the pool did not stop within 20 s of SIGTERM"
        create.join(20)
    assert answers["create"].status == 201, answers["create"]
    assert time.monotonic() - stopped_at > 0.3  # the stop waited for the request
    assert not any(alive(pid) for pid in old_workers)
    # No worker now: a request waits in the socket's backlog instead of failing.
    waiting = threading.Thread(target=lambda: answers.update(health=rig.https("GET", "/health")))
    waiting.start()
    wait_until(lambda: accept_backlog(rig.socket_path) >= 1, 5,
               "nginx's connection to wait in the socket's backlog")
    assert "health" not in answers
    rig.start_pool()
    waiting.join(20)
    assert answers["health"].status == 200, answers["health"]
    log = (rig.dir / "pool.log").read_text()
    assert log.count('"msg":"stopped"') >= len(old_workers)


def test_stop_is_graceful_with_a_connection_that_has_sent_nothing_yet(rig):
    """A FastCGI connection accepted but still silent when the stop comes (a slow or
    overloaded web server): the worker drops it and still exits within seconds."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(rig.socket_path)
        # the stop must find it accepted by a worker loop that waits for its first bytes
        wait_until(lambda: accept_backlog(rig.socket_path) == 0, 5,
                   "a worker loop to accept the silent connection")
        graceful = rig.stop_pool(timeout=5)
    rig.start_pool()
    wait_until(rig.healthy, 15, "the new pool")
    assert graceful, "a worker was still running 5 s after SIGTERM (SIGKILLed)"


# ---------------------------------------------------------------- the local stack

def test_sigterm_lets_a_request_in_flight_finish(stack):
    """SIGTERM to every worker while a create waits on a slow Stripe: the create still
    answers 201, each worker logs a clean stop after it, and multiwatch starts new ones."""
    pool = stack.pids["pool"]  # spawn-fcgi -n exec'd multiwatch
    workers = child_pids(pool)
    assert workers, "no worker under multiwatch"
    log_path = stack.run_dir / "worker.log"
    offset = log_path.stat().st_size
    request_id = f"graceful-{uuid.uuid4().hex}"
    answers = {}
    with slow_stripe(stack, 1500):
        create = threading.Thread(target=lambda: answers.update(create=stack.api(
            "POST", "/api/holds", VALID, headers={"X-Request-Id": request_id})))
        create.start()
        wait_until(lambda: in_flight(lambda: stack.api("GET", "/metrics", token=None).text) >= 2,
                   5, "the create to be in flight")
        # the signal comes while the create waits on Stripe (1.5 s), not before it got there
        wait_until(lambda: create_waits_on_stripe(stack), 5, "the create to reach Stripe")
        signalled_at = time.monotonic()
        for pid in workers:
            os.kill(pid, signal.SIGTERM)
        create.join(20)
    answer = answers["create"]
    assert answer.status == 201, answer
    assert answer.headers.get("X-Request-Id") == request_id
    assert time.monotonic() - signalled_at > 0.3
    wait_until(lambda: not any(alive(pid) for pid in workers), 10, "the old workers to exit")
    lines = json_lines(log_path.read_bytes()[offset:].decode(errors="replace"))
    messages = [line.get("msg") for line in lines]
    stopping = [i for i, m in enumerate(messages) if m == "stopping: finishing requests in flight"]
    stopped = [i for i, m in enumerate(messages) if m == "stopped"]
    served = [i for i, line in enumerate(lines)
              if line.get("msg") == "request" and line.get("request_id") == request_id]
    assert len(stopping) == len(workers) and len(stopped) == len(workers), messages
    assert len(served) == 1 and lines[served[0]]["status"] == 201
    assert max(stopping) < served[0] < max(stopped), messages
    # multiwatch replaced them: the stack serves again
    wait_until(lambda: stack.api("GET", "/health", token=None).status == 200, 15, "a new pool")
    assert set(child_pids(pool)).isdisjoint(workers)


@pytest.fixture(scope="module")
def limited_stack():
    """A second stack whose nginx limits loopback clients too: 1 request a minute with a
    burst of 2 on /api, a burst of 3 on /webhook (no refill while the tests run)."""
    yield from launched_stack({
        "CHITTYCHARGE_NGINX_RATE": "1r/m", "CHITTYCHARGE_NGINX_BURST": "2",
        "CHITTYCHARGE_NGINX_WEBHOOK_RATE": "1r/m", "CHITTYCHARGE_NGINX_WEBHOOK_BURST": "3",
        "CHITTYCHARGE_NGINX_LIMIT_LOOPBACK": "1", "CHITTYCHARGE_PROCESSES": "1",
        "CHITTYCHARGE_IN_FLIGHT": "4",
    }, prefix="chittycharge-limits-")


def test_nginx_limit_req_answers_429_json(limited_stack):
    statuses, limited = [], None
    for _ in range(6):
        answer = limited_stack.api("GET", "/api/holds", headers={"Origin": "https://chitty.cc"})
        statuses.append(answer.status)
        if answer.status == 429:
            limited = answer
    assert statuses.count(429) >= 3 and statuses[0] != 429, statuses
    assert statuses.index(429) <= 3 and all(s == 429 for s in statuses[statuses.index(429):])
    assert limited.json["code"] == "rate_limited"
    assert limited.headers.get("Content-Type", "").startswith("application/json")
    assert limited.headers.get("Retry-After") == "1"
    assert limited.headers.get("Access-Control-Allow-Origin") == "https://chitty.cc"
    assert limited.headers.get("X-Request-Id")
    # /health is not limited
    assert limited_stack.api("GET", "/health", token=None).status == 200
    error_log = (limited_stack.run_dir / "error.log").read_text()
    assert 'limiting requests, excess' in error_log and 'zone "cc_api"' in error_log


def test_a_rate_limited_guest_link_leaves_its_token_out_of_the_error_log(limited_stack):
    """limit_req logs each refusal with the request line: /pay/<token> must not be in it."""
    token = "ab" * 32  # shaped like a link's token; nginx refuses it before the worker looks
    statuses = [limited_stack.api("GET", path, token=None).status
                for path in (f"/pay/{token}/hold", f"/pay/{token}") * 2]
    assert statuses.count(429) >= 2, statuses
    assert token not in (limited_stack.run_dir / "error.log").read_text()


def test_webhook_has_its_own_limit_zone(limited_stack):
    statuses = [limited_stack.api("POST", "/webhook", raw=b"{}", token=None).status
                for _ in range(7)]
    assert statuses[:4] == [400] * 4, statuses  # 1 + burst 3, whatever /api used
    assert statuses[4:] == [429] * 3, statuses
