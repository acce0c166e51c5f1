"""The nginx edge of the local stack: body limits, CORS, nginx's own JSON errors, /metrics,
the access log.

Written from CONTRACT.md ("CORS", "Limits and routes"); the stack runs with the default
ALLOWED_ORIGINS.
"""

import email.parser
import http.client
import json
import socket
import time
import uuid

import pytest

ALPHA = "tok_alpha_0123456789"
EXPOSED = {"x-request-id", "retry-after", "idempotent-replayed"}
REQUEST_HEADERS = {"content-type", "chittyid-token", "authorization", "idempotency-key",
                   "x-request-id"}


def header_set(answer, name):
    return {item.strip().lower() for item in answer.headers.get(name, "").split(",") if item.strip()}


def raw_exchange(stack, request):
    """Sends `request` (bytes) as is; returns (status, headers, body) of nginx's answer,
    reading until nginx closes the connection (it does after the errors sent here)."""
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, _, header_block = head.decode("latin-1").partition("\r\n")
    headers = email.parser.Parser().parsestr(header_block, headersonly=True)
    return int(status_line.split()[1]), headers, body


def access_log_entry(stack, request_id, timeout=5):
    """nginx's access-log line for one X-Request-Id (written just after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in (stack.run_dir / "access.log").read_text(errors="replace").splitlines():
            if f'"request_id":"{request_id}"' in line:
                return json.loads(line)
        assert time.monotonic() < deadline, f"no access-log line for {request_id}"
        time.sleep(0.05)


def test_api_body_over_64k_is_413_json_with_cors(stack):
    body = b'{"description":"' + b"x" * (64 * 1024) + b'"}'
    answer = stack.api("POST", "/api/holds", raw=body, headers={"Origin": "https://chitty.cc"})
    assert answer.status == 413, answer
    assert answer.headers.get("Content-Type", "").startswith("application/json")
    assert answer.json["code"] == "payload_too_large"
    assert answer.headers.get("Access-Control-Allow-Origin") == "https://chitty.cc"
    assert answer.headers.get("X-Request-Id")


def test_webhook_takes_bodies_over_64k_but_not_over_1m(stack):
    medium = stack.api("POST", "/webhook", raw=b"{" + b" " * (200 * 1024) + b"}", token=None)
    assert medium.status != 413, medium
    assert medium.status == 400 and medium.json["code"] == "invalid_signature", medium
    large = stack.api("POST", "/webhook", raw=b"x" * (1024 * 1024 + 1), token=None)
    assert large.status == 413 and large.json["code"] == "payload_too_large", large


@pytest.mark.parametrize("origin,allowed", [
    ("https://chitty.cc", True),
    ("https://app.chitty.cc", True),
    ("https://a.b.chitty.cc", True),
    ("https://furnished-condos.com", True),
    ("http://localhost", True),
    ("http://localhost:5173", True),
    ("https://evil.com", False),
    ("https://evilchitty.cc", False),
    ("https://chitty.cc.evil.com", False),
    ("http://chitty.cc", False),
    ("https://app.chitty.cc:8443", False),
    ("http://localhost.evil.com", False),
    ("https://localhost:3000", False),
])
def test_cors_origin_is_echoed_only_when_allowed(stack, origin, allowed):
    answer = stack.api("GET", "/api/holds", headers={"Origin": origin})
    assert answer.status == 200, answer
    if allowed:
        assert answer.headers.get("Access-Control-Allow-Origin") == origin
        assert "origin" in header_set(answer, "Vary")
        assert EXPOSED <= header_set(answer, "Access-Control-Expose-Headers")
    else:
        assert answer.headers.get("Access-Control-Allow-Origin") is None, answer.headers


def test_preflight_is_204_with_allowed_methods_and_headers(stack):
    answer = stack.api("OPTIONS", "/api/holds", token=None, headers={
        "Origin": "https://app.chitty.cc",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, chittyid-token, idempotency-key",
    })
    assert answer.status == 204, answer
    assert answer.headers.get("Access-Control-Allow-Origin") == "https://app.chitty.cc"
    assert {"get", "post"} <= header_set(answer, "Access-Control-Allow-Methods")
    assert REQUEST_HEADERS <= header_set(answer, "Access-Control-Allow-Headers")
    assert "origin" in header_set(answer, "Vary")


def test_preflight_from_unknown_origin_gets_no_cors_headers(stack):
    answer = stack.api("OPTIONS", "/api/holds", token=None, headers={
        "Origin": "https://evil.com", "Access-Control-Request-Method": "POST"})
    assert answer.status == 204, answer
    assert answer.headers.get("Access-Control-Allow-Origin") is None
    assert answer.headers.get("Access-Control-Allow-Methods") is None


def test_worker_errors_carry_cors_headers(stack):
    answer = stack.api("GET", "/api/holds", token=None, headers={"Origin": "https://chitty.cc"})
    assert answer.status == 401, answer
    assert answer.headers.get("Access-Control-Allow-Origin") == "https://chitty.cc"


def test_server_header_hides_the_version(stack):
    answer = stack.api("GET", "/health", token=None)
    assert answer.headers.get("Server", "nginx") == "nginx"


def test_metrics_from_loopback_is_prometheus_text(stack):
    answer = stack.api("GET", "/metrics", token=None)
    assert answer.status == 200, answer
    assert answer.headers.get("Content-Type", "").startswith("text/plain"), answer.headers
    assert "# TYPE" in answer.text or "# HELP" in answer.text, answer.text[:500]


def test_api_body_of_exactly_64k_reaches_the_worker(stack):
    body = b"{" + b" " * (64 * 1024 - 2) + b"}"
    answer = stack.api("POST", "/api/holds", raw=body)
    assert answer.status == 400, answer  # the worker's validation, not nginx's 413
    assert answer.json["code"] != "payload_too_large"


def test_server_to_server_paths_get_no_cors_headers(stack):
    origin = {"Origin": "https://chitty.cc"}
    webhook = stack.api("POST", "/webhook", raw=b"{}", token=None, headers=origin)
    assert webhook.status == 400, webhook
    metrics = stack.api("GET", "/metrics", token=None, headers=origin)
    assert metrics.status == 200, metrics
    for answer in (webhook, metrics):
        assert answer.headers.get("Access-Control-Allow-Origin") is None, answer.headers
        assert answer.headers.get("Access-Control-Expose-Headers") is None


def test_preflight_of_a_hold_action_from_any_localhost_port(stack):
    answer = stack.api("OPTIONS", "/api/holds/pi_123/capture", token=None, headers={
        "Origin": "http://localhost:49152", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, content-type"})
    assert answer.status == 204 and answer.body == b"", answer
    assert answer.headers.get("Access-Control-Allow-Origin") == "http://localhost:49152"
    assert answer.headers.get("Access-Control-Max-Age") == "600"
    assert REQUEST_HEADERS <= header_set(answer, "Access-Control-Allow-Headers")


def test_security_headers_on_worker_and_nginx_answers(stack):
    answers = [stack.api("GET", "/health", token=None),
               stack.api("GET", "/api/holds/pi_missing"),
               stack.api("POST", "/api/holds", raw=b"x" * (64 * 1024 + 1))]
    assert [a.status for a in answers][2] == 413
    for answer in answers:
        assert answer.headers.get("X-Content-Type-Options") == "nosniff"
        assert answer.headers.get("X-Frame-Options") == "DENY"
        assert "default-src 'none'" in answer.headers.get("Content-Security-Policy", "")
        assert answer.headers.get("Cache-Control") == "no-store"
        # the local stack serves plain HTTP too: no HSTS pinning of localhost
        assert answer.headers.get("Strict-Transport-Security") is None


def test_plain_http_is_served_locally_not_redirected(stack):
    answer = stack.api("GET", "/health", token=None)
    assert answer.status == 200 and answer.headers.get("Location") is None


def test_metrics_from_another_address_is_403_json(stack):
    """nginx allows 127.0.0.1 and ::1 only; 127.0.0.2 stands in for a remote client."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10,
                                      source_address=("127.0.0.2", 0))
    try:
        conn.request("GET", "/metrics")
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert answer.status == 403, body
    assert answer.getheader("Content-Type", "").startswith("application/json")
    assert json.loads(body)["code"] == "forbidden"
    assert answer.getheader("X-Request-Id")


def test_oversized_header_is_400_json_with_cors(stack):
    answer = stack.api("GET", "/api/holds",
                       headers={"Origin": "https://chitty.cc", "X-Filler": "x" * (16 * 1024)})
    assert answer.status == 400, answer
    assert answer.headers.get("Content-Type", "").startswith("application/json")
    assert answer.json["code"] == "invalid_request"
    assert answer.headers.get("Access-Control-Allow-Origin") == "https://chitty.cc"


def test_oversized_uri_is_414_json(stack):
    answer = stack.api("GET", "/api/holds?" + "a" * (16 * 1024))
    assert answer.status == 414, answer
    assert answer.headers.get("Content-Type", "").startswith("application/json")
    assert answer.json["code"] == "invalid_request"


@pytest.mark.parametrize("request_line", [b"NONSENSE\r\n", b"GET /api/holds HTTP/1.1\r\nHost\r\n",
                                          b"GET /api/ho lds HTTP/9.9\r\n"])
def test_malformed_request_is_400_json(stack, request_line):
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as conn:
        conn.sendall(request_line + b"\r\n")
        answer = b""
        while chunk := conn.recv(65536):  # nginx closes the connection after a 400
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/json" in head
    assert json.loads(body)["code"] == "invalid_request"


def test_access_log_leaves_out_the_query_string(stack):
    """/api queries carry e-mail addresses and whatever else a client puts there."""
    request_id = f"edge-log-{uuid.uuid4().hex}"
    stack.api("GET", "/api/holds?property_id=x&customer_email=guest@example.com&token=secret123",
              headers={"X-Request-Id": request_id})
    entry = access_log_entry(stack, request_id)
    assert (entry["method"], entry["uri"]) == ("GET", "/api/holds"), entry
    log = (stack.run_dir / "access.log").read_text(errors="replace")
    assert "guest@example.com" not in log and "secret123" not in log


def test_access_log_names_the_method_of_a_request_nginx_refused(stack):
    """nginx's error pages are internal redirects that turn the method into GET."""
    request_id = f"edge-log-{uuid.uuid4().hex}"
    answer = stack.api("POST", "/api/holds?x=1", raw=b"{}", headers={
        "X-Request-Id": request_id, "X-Filler": "x" * (16 * 1024)})
    assert answer.status == 400, answer
    entry = access_log_entry(stack, request_id)
    assert (entry["method"], entry["uri"], entry["status"]) == ("POST", "/api/holds", 400), entry


def assert_nginx_json_error(status, headers, body, expected_status, code):
    """The shape of nginx's own JSON errors: exactly {"error": sentence, "code": code}."""
    assert status == expected_status, (status, headers.items(), body)
    assert headers.get("Content-Type", "").startswith("application/json"), (headers.items(), body)
    error = json.loads(body)
    assert set(error) == {"error", "code"} and error["code"] == code, error
    assert isinstance(error["error"], str) and error["error"].endswith("."), error
    assert headers.get("X-Request-Id"), headers.items()


@pytest.mark.parametrize("method", ["TRACE", "CONNECT"])
def test_trace_and_connect_are_405_json_with_allow(stack, method):
    request_id = f"edge-405-{uuid.uuid4().hex}"
    status, headers, body = raw_exchange(stack, (
        f"{method} /api/holds HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://chitty.cc\r\n"
        f"X-Request-Id: {request_id}\r\n\r\n").encode())
    assert_nginx_json_error(status, headers, body, 405, "method_not_allowed")
    assert headers.get_all("Allow") == ["GET, POST, OPTIONS"], headers.items()
    assert headers.get("Access-Control-Allow-Origin") == "https://chitty.cc"
    entry = access_log_entry(stack, request_id)
    assert (entry["method"], entry["uri"], entry["status"]) == (method, "/api/holds", 405), entry


def test_unknown_transfer_encoding_is_501_json(stack):
    status, headers, body = raw_exchange(stack, (
        b"POST /api/holds HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://chitty.cc\r\n"
        b"ChittyID-Token: " + ALPHA.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: gzip\r\n\r\n"))
    assert_nginx_json_error(status, headers, body, 501, "invalid_request")
    assert headers.get("Access-Control-Allow-Origin") == "https://chitty.cc"


def test_the_workers_405_keeps_its_own_allow_alone(stack):
    """nginx adds Allow to its own 405 only, never a second one to the worker's."""
    answer = stack.api("DELETE", "/api/holds")
    assert answer.status == 405 and answer.json["code"] == "method_not_allowed", answer
    assert answer.headers.get_all("Allow") == ["GET, POST"], answer.headers
