"""Notifications to client apps through the real stack (CONTRACT.md, Part 2,
"Notifications to client apps"; docs/notifications.md).

The stack is this module's own (launched_stack) with CHITTYCHARGE_CLIENT_WEBHOOKS pointing
client alpha at a small receiver this module runs on 127.0.0.1, and two notify secrets
(the new one first, as while rotating). Its scheduler loop is idle; each test runs a pass
itself (Stack.run_jobs), as the systemd timer would. The receiver checks nothing: the tests
verify every signature here, with Python's hmac, the way a client app would.
"""

import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.parse

import pytest

from conftest import ALPHA_TOKEN, BETA_TOKEN, launched_stack, wait_until

NOTIFY_SECRET = "notify_integration_secret_new_0001"
NOTIFY_SECRET_OLD = "notify_integration_secret_old_0001"
WAIT_S = 15
FIRST_RETRY_S = 10  # the first retry is due this long after a failed try


class Receiver:
    """A client app's webhook endpoint: records every POST and answers `status`."""

    def __init__(self):
        self.status = 200
        self.received = []  # dicts: path, headers, body (bytes), json
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.status
                    receiver.received.append({"path": self.path, "headers": dict(self.headers),
                                              "body": body, "json": json.loads(body),
                                              "answered": status})
                answer = b'{"ok":true}' if status < 300 else b"temporarily down"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of_hold(self, hold_id):
        with self.lock:
            return [r for r in self.received if r["json"]["data"]["event"]["hold_id"] == hold_id]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    running = Receiver()
    yield running
    running.close()


@pytest.fixture(scope="module")
def notify_stack(receiver):
    yield from launched_stack({
        "CHITTYCHARGE_CLIENT_WEBHOOKS":
            f"alpha=http://127.0.0.1:{receiver.port}/hooks/chittycharge",
        "CHITTYCHARGE_NOTIFY_SECRET": f"{NOTIFY_SECRET},{NOTIFY_SECRET_OLD}",
    }, prefix="chittycharge-it-notify-")


def verify(delivery, secret=NOTIFY_SECRET, tolerance=300):
    """A client app's check of ChittyCharge-Signature (Stripe's scheme): t=…,v1=…[,v1=…];
    one v1 must be HMAC-SHA256(secret, "<t>.<raw body>") and t recent."""
    header = delivery["headers"].get("ChittyCharge-Signature", "")
    parts = [item.split("=", 1) for item in header.split(",")]
    timestamps = [value for key, value in parts if key == "t"]
    signatures = [value for key, value in parts if key == "v1"]
    assert len(timestamps) == 1 and signatures, header
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + delivery["body"],
                        hashlib.sha256).hexdigest()
    assert any(hmac.compare_digest(expected, s) for s in signatures), header
    assert abs(time.time() - int(timestamps[0])) < tolerance, header


def trail(stack, hold_id, token=ALPHA_TOKEN):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100", token=token)
    assert answer.status == 200, answer
    return answer.json["data"]


def failed_list(stack, token=ALPHA_TOKEN):
    answer = stack.api("GET", "/api/notifications?status=failed", token=token)
    assert answer.status == 200, answer
    return answer.json


def created_and_captured(stack, token=ALPHA_TOKEN):
    hold = stack.create_hold(token=token, payment_method="pm_card_visa")
    assert hold["status"] == "requires_capture", hold
    captured = stack.api("POST", f"/api/holds/{hold['id']}/capture", {"amount_to_capture": 1000},
                         token=token)
    assert captured.status == 200, captured
    time.sleep(1)  # the double's webhooks for it arrive (they record nothing new)
    return hold


def wait_for_clients(stack):
    # Each worker writes the configured clients into the ledger at start.
    wait_until(lambda: stack.sql("SELECT client FROM notification_clients") == [("alpha",)],
               WAIT_S, "the workers to register alpha as a notification client")


def test_a_holds_events_reach_the_client_in_order_signed(notify_stack, receiver):
    wait_for_clients(notify_stack)
    hold = created_and_captured(notify_stack)
    other = created_and_captured(notify_stack, token=BETA_TOKEN)  # beta has no URL
    events = trail(notify_stack, hold["id"])
    assert [e["type"] for e in events][:1] == ["created"] and "captured" in [
        e["type"] for e in events], events

    report = notify_stack.run_jobs()
    assert report["notifications_delivered"] >= len(events), report
    assert report["notifications_failed"] == 0, report

    got = receiver.of_hold(hold["id"])
    assert [d["json"]["data"]["event"]["id"] for d in got][:len(events)] == [
        e["id"] for e in events]
    assert [d["json"]["type"] for d in got][:len(events)] == [
        f"hold.{e['type']}" for e in events]
    for delivery, event in zip(got, events):
        verify(delivery)
        verify(delivery, NOTIFY_SECRET_OLD)  # while rotating, the old secret verifies too
        body = delivery["json"]
        assert delivery["path"] == "/hooks/chittycharge"
        assert delivery["headers"]["Content-Type"] == "application/json"
        assert body["id"].startswith("ntf_")
        assert body["created_at"] == event["created_at"]
        assert body["data"]["event"] == event  # as GET /api/holds/:id/events renders it
        assert body["data"]["hold"]["id"] == hold["id"]
        assert body["data"]["hold"]["status"] == "succeeded"  # the hold as it is when sent
        assert set(body) == {"id", "type", "created_at", "data"}
    assert len({d["json"]["id"] for d in got}) == len(got)
    assert receiver.of_hold(other["id"]) == []
    # A second pass sends nothing again.
    before = len(receiver.of_hold(hold["id"]))
    notify_stack.run_jobs()
    assert len(receiver.of_hold(hold["id"])) == before
    assert failed_list(notify_stack) == {"data": [], "has_more": False}


def test_a_failing_client_sees_retrying_then_gets_everything_in_order(notify_stack, receiver):
    wait_for_clients(notify_stack)
    receiver.status = 500
    try:
        hold = created_and_captured(notify_stack)
        report = notify_stack.run_jobs()
        assert report["notifications_failed"] >= 1, report
        tried = receiver.of_hold(hold["id"])
        assert len(tried) == 1  # the captured one waits for the created one
        assert tried[0]["json"]["type"] == "hold.created"
        verify(tried[0])

        listed = failed_list(notify_stack)
        mine = [n for n in listed["data"] if n["hold_id"] == hold["id"]]
        assert len(mine) == 1, listed
        entry = mine[0]
        assert entry["id"] == tried[0]["json"]["id"]
        assert entry["type"] == "hold.created"
        assert entry["status"] == "retrying"
        assert entry["attempts"] == 1
        assert entry["last_error"].startswith("HTTP 500"), entry
        assert set(entry) == {"id", "type", "hold_id", "status", "attempts", "last_error",
                              "next_attempt_at"}
        next_at = time.mktime(time.strptime(entry["next_attempt_at"], "%Y-%m-%dT%H:%M:%SZ"))
        next_at -= time.timezone  # mktime is local time; the string is UTC
        assert next_at - time.time() <= FIRST_RETRY_S + 1
        # Another client does not see it; paging and bad queries behave.
        assert all(n["hold_id"] != hold["id"] for n in failed_list(notify_stack, BETA_TOKEN)["data"])
        anonymous = notify_stack.api("GET", "/api/notifications?status=failed", token=None)
        assert anonymous.status == 401, anonymous
        bad = notify_stack.api("GET", "/api/notifications")
        assert bad.status == 400 and bad.json["param"] == "status", bad
        page = notify_stack.api("GET", "/api/notifications?status=failed&limit=1&starting_after="
                                + urllib.parse.quote(entry["id"]))
        assert page.status == 200, page
    finally:
        receiver.status = 200

    # The receiver is back; once the retry is due, one pass delivers the hold's whole
    # backlog, in order, the retried one under the same id.
    time.sleep(max(0.0, next_at + 1.1 - time.time()))
    events = trail(notify_stack, hold["id"])
    report = notify_stack.run_jobs()
    assert report["notifications_delivered"] >= len(events), report
    got = [d for d in receiver.of_hold(hold["id"]) if d["answered"] == 200]
    assert [d["json"]["data"]["event"]["id"] for d in got][:len(events)] == [
        e["id"] for e in events]
    assert got[0]["json"]["id"] == entry["id"]
    for delivery in got:
        verify(delivery)
    assert all(n["hold_id"] != hold["id"] for n in failed_list(notify_stack)["data"])

