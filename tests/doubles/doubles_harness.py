"""Helpers to run the doubles from Python tests (used by test_doubles.py; meant
for the integration harness too). Standard library only.

    with DoubleProcess.stripe("--webhook-secret", "whsec_x") as stripe:
        client = Client(stripe.base_url)
        reply = client.post("/v1/payment_intents", {"amount": 5000, "currency": "usd"},
                            key="sk_test_123")
        client.control("POST", "/_test/reset")
"""

import hmac
import http.client
import json
import os
import re
import select
import signal
import ssl
import subprocess
import sys
import threading
import time
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from formcodec import encode_form
from multipart import encode_form_data
from openapi_check import load_spec

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# Credentials the doubles' own tests use (any sk_test_… works unless --api-key is given).
TEST_SECRET_KEY = "sk_test_51DoubleKey0000000000000000"
TEST_WEBHOOK_SECRET = "whsec_test_gWgutz0qslZscKq3HpdLvYWhcBhmUD1r"
TEST_CHITTY_TOKEN = "chitty-test-token"


class DoubleProcess:
    """A double running as a child process on a free port."""

    def __init__(self, script, *args, tls=False):
        self.command = [PYTHON, os.path.join(HERE, script), "--port", "0", *args]
        self.scheme = "https" if tls else "http"
        self.proc = None
        self.port = None

    @classmethod
    def stripe(cls, *args, tls=False):
        return cls("stripe_double.py", *args, tls=tls)

    @classmethod
    def chittyid(cls, token, *args, tls=False):
        return cls("chittyid_double.py", "--token", token, *args, tls=tls)

    @property
    def base_url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout_s=10):
        self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("LISTENING "):
            self.proc.kill()
            raise RuntimeError(f"{self.command} did not start (got {line!r})")
        self.port = int(line.split()[1])
        return self

    def stop(self, timeout_s=5):
        """SIGTERM, wait, and return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)


class Client:
    """One kept-alive connection; reconnects after an error."""

    def __init__(self, base_url, timeout_s=10):
        parts = urlsplit(base_url)
        self.tls = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.timeout_s = timeout_s
        self.conn = None

    def _connection(self):
        if self.conn is None:
            if self.tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                self.conn = http.client.HTTPSConnection(self.host, self.port,
                                                        timeout=self.timeout_s, context=context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        return self.conn

    def request(self, method, path, body=None, headers=None):
        try:
            conn = self._connection()
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # Stripe-style calls
    def stripe(self, method, path, params=None, key="sk_test_double", headers=None):
        all_headers = {"Authorization": f"Bearer {key}"} if key else {}
        all_headers.update(headers or {})
        form = encode_form(params or {})
        if method == "GET":
            return self.request(method, f"{path}?{form}" if form else path, headers=all_headers)
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self.request(method, path, form.encode(), all_headers)

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        reply = self.request(method, path, data, {"Content-Type": "application/json"})
        if reply.status != 200:
            raise AssertionError(f"{method} {path} → {reply.status} {reply.body[:300]!r}")
        return reply.json


def verify_stripe_signature(payload, header, secret, tolerance_s=300, now=None):
    """Stripe's scheme (STRIPE-FACTS §15): any v1 = HMAC-SHA256(secret, t.payload)."""
    items = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [v for k, v in items if k == "t"]
    if not timestamps or not timestamps[0].isdigit():
        return False
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + payload,
                        sha256).hexdigest()
    fresh = (now or time.time()) - int(timestamps[0]) <= tolerance_s
    return fresh and any(hmac.compare_digest(expected, v) for k, v in items if k == "v1")


class WebhookReceiver:
    """Records POSTs; answers with ``statuses`` in turn (then 200), after ``delay_s``."""

    def __init__(self):
        self.received = []
        self.statuses = []
        self.delay_s = 0
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay_s)
                with receiver.cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append({"headers": dict(self.headers), "body": body,
                                              "status": status})
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"

    def wait_for(self, count, timeout_s=5):
        with self.cond:
            self.cond.wait_for(lambda: len(self.received) >= count, timeout_s)
            return list(self.received)

    def clear(self):
        with self.cond:
            self.received.clear()
            self.statuses.clear()
            self.delay_s = 0

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------ schema-checked Stripe client
SPEC = load_spec()
PI_ID = re.compile(r"^pi_[A-Za-z0-9]{24}$")
ERROR_SCHEMA = {"$ref": "#/components/schemas/error"}


class CheckedStripe:
    """Stripe client whose every /v1 reply is validated against Stripe's OpenAPI
    response schema (200 → the operation's schema, else the error schema)."""

    def __init__(self, client, key=TEST_SECRET_KEY):
        self.client = client
        self.key = key

    def call(self, method, path, params=None, key=..., headers=None, expect=None):
        reply = self.client.stripe(method, path, params, self.key if key is ... else key, headers)
        check_stripe_reply(method, path, reply)
        if expect is not None:
            assert reply.status == expect, reply.body.decode()
        return reply

    def post(self, path, params=None, **kwargs):
        return self.call("POST", path, params, **kwargs)

    def get(self, path, params=None, **kwargs):
        return self.call("GET", path, params, **kwargs)

    def control(self, method, path, body=None):
        return self.client.control(method, path, body)

    def post_raw(self, path, body, content_type, key=..., headers=None, expect=None):
        """POST a body as it is (e.g. multipart/form-data); the reply is checked like any."""
        key = self.key if key is ... else key
        all_headers = {"Content-Type": content_type}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        all_headers.update(headers or {})
        reply = self.client.request("POST", path, body, all_headers)
        check_stripe_reply("POST", path, reply)
        if expect is not None:
            assert reply.status == expect, reply.body.decode()
        return reply

    def upload(self, data, filename="evidence.pdf", content_type="application/pdf",
               purpose="dispute_evidence", fields=(), expect=None, **kwargs):
        """POST /v1/files as stripe-node sends it (multipart/form-data) → the reply."""
        body, header = encode_form_data([("purpose", purpose), *fields],
                                        [("file", filename, content_type, data)])
        return self.post_raw("/v1/files", body, header, expect=expect, **kwargs)

    def create(self, expect=200, **params):
        """A PaymentIntent as ChittyCharge creates it (manual capture, card only)."""
        base = {"amount": 25000, "currency": "usd", "capture_method": "manual",
                "payment_method_types": ["card"]}
        return self.post("/v1/payment_intents", dict(base, **params), expect=expect).json


def check_stripe_reply(method, path, reply):
    found = SPEC.match(method, path.split("?")[0])
    schema = SPEC.response_schema(found[1], reply.status) if found else ERROR_SCHEMA
    body = reply.json
    errors = SPEC.validate(body, schema)
    assert not errors, f"{method} {path} → {reply.status}: {errors[:5]}"
    if reply.status != 200:
        assert set(body) == {"error"}
    for intent in _intents_in(body):
        check_intent_shape(intent)


def _intents_in(body):
    if body.get("object") == "payment_intent":
        yield body
    data = body.get("data")
    for item in data if isinstance(data, list) else []:
        if item.get("object") == "payment_intent":
            yield item
    error = body.get("error", {})
    if isinstance(error.get("payment_intent"), dict):
        yield error["payment_intent"]


def check_intent_shape(intent):
    assert PI_ID.match(intent["id"]), intent["id"]
    assert re.fullmatch(rf"{intent['id']}_secret_[A-Za-z0-9]+", intent["client_secret"])
    assert intent["livemode"] is False
