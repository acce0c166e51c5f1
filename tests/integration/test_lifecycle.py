"""The hold's life through the real stack (CONTRACT.md, Part 2, "The hold's life"):
auto-release by the scheduler (chittycharge-jobs), run as the systemd timer runs it.

The stack's own scheduler loop is idle in tests (CHITTYCHARGE_JOBS_INTERVAL_S=3600);
each test runs a pass itself with the workers' environment (Stack.run_jobs).
"""

import concurrent.futures
import datetime
import signal
import subprocess
import time

import pytest

from conftest import assert_error, launched_stack, wait_until

WAIT_S = 10


def rfc3339(unix):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def cancels_of(stack, pi_id):
    return [r for r in stack.stripe_requests()
            if r["method"] == "POST" and r["path"] == f"/v1/payment_intents/{pi_id}/cancel"]


def trail(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return answer.json["data"]


def due_hold(stack, seconds=2, confirm=True):
    release_after = int(time.time()) + seconds
    hold = stack.create_hold(release_after=rfc3339(release_after))
    assert hold["release_after"] == rfc3339(release_after)
    if confirm:
        assert stack.confirm(hold["id"]).status == 200
    return hold, release_after


def wait_due(release_after):
    time.sleep(max(0.0, release_after + 1.1 - time.time()))


def test_release_after_is_shown_and_the_scheduler_releases_the_hold_once(stack):
    hold, release_after = due_hold(stack)
    shown = stack.get_hold(hold["id"]).json
    assert shown["release_after"] == rfc3339(release_after)
    assert shown["payment_intent"] == hold["id"]
    assert shown["payment_intents"] == [hold["id"]]
    stack.run_jobs()  # not due yet: nothing
    assert cancels_of(stack, hold["id"]) == []
    wait_due(release_after)
    report = stack.run_jobs()
    assert report["released"] >= 1, report
    released = stack.get_hold(hold["id"]).json
    assert released["status"] == "canceled"
    events = trail(stack, hold["id"])
    assert [e["type"] for e in events][-1] == "released", events
    assert events[-1]["actor"] == "scheduler"
    assert [e["type"] for e in events].count("released") == 1
    assert len(cancels_of(stack, hold["id"])) == 1
    # The webhook of that cancel, and another pass, record nothing more and move no money.
    time.sleep(1)
    stack.run_jobs()
    assert len(cancels_of(stack, hold["id"])) == 1
    assert [e["type"] for e in trail(stack, hold["id"])].count("released") == 1
    assert "canceled" not in [e["type"] for e in trail(stack, hold["id"])]


def test_a_bad_release_after_is_refused_before_stripe(stack):
    before = stack.count_payment_intents()
    now = int(time.time())
    for value in (rfc3339(now - 60), "tomorrow", rfc3339(now + 91 * 86400), 1767225600):
        answer = stack.api("POST", "/api/holds", {"amount": 5000, "description": "stay",
                                                  "release_after": value})
        assert_error(answer, 400, "invalid_request", "release_after")
    assert stack.count_payment_intents() == before


def test_a_captured_hold_is_not_released(stack):
    hold, release_after = due_hold(stack)
    captured = stack.api("POST", f"/api/holds/{hold['id']}/capture", {"amount_to_capture": 1000})
    assert captured.status == 200, captured
    assert captured.json["release_after"] == rfc3339(release_after)
    wait_due(release_after)
    stack.run_jobs()
    assert cancels_of(stack, hold["id"]) == []
    assert stack.get_hold(hold["id"]).json["status"] == "succeeded"


def test_a_hold_cancelled_at_stripe_meanwhile_is_recorded_not_released(stack):
    hold, release_after = due_hold(stack, confirm=False)
    # Cancelled in the Dashboard; the webhook is lost (the ledger still says open).
    stack.stripe("POST", "/_test/webhooks", {"paused": True})
    try:
        assert stack.stripe("POST", f"/v1/payment_intents/{hold['id']}/cancel", {}).status == 200
        wait_due(release_after)
        stack.run_jobs()
    finally:
        stack.stripe("POST", "/_test/webhooks", {"paused": False})
    assert len(cancels_of(stack, hold["id"])) == 2  # the Dashboard's, and the refused release
    types = [e["type"] for e in trail(stack, hold["id"])]
    assert types.count("released") + types.count("canceled") == 1, types


def test_two_passes_at_once_release_each_due_hold_once(stack):
    holds = [due_hold(stack, seconds=3)[0] for _ in range(6)]
    wait_due(int(time.time()) + 2)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: stack.run_jobs(), range(2)))
    assert sum(r["released"] for r in reports) >= 6, reports
    for hold in holds:
        assert len(cancels_of(stack, hold["id"])) == 1, hold["id"]
        wait_until(lambda h=hold: stack.get_hold(h["id"]).json["status"] == "canceled", WAIT_S,
                   "the release to show")
        assert [e["type"] for e in trail(stack, hold["id"])].count("released") == 1


def test_the_reconciler_applies_an_event_whose_webhook_never_arrived(stack):
    stack.run_jobs()  # a cursor in Stripe's event list exists from here on
    settings = stack.stripe("GET", "/_test/webhooks").json
    hold = stack.create_hold()
    stack.stripe("POST", "/_test/webhooks", {"url": "http://127.0.0.1:9/webhook", "retries": 0})
    try:
        assert stack.confirm(hold["id"]).status == 200
        stack.stripe("POST", "/_test/webhooks/drain", {"timeout_ms": 5000})
    finally:
        stack.stripe("POST", "/_test/webhooks", {"url": settings["url"],
                                                  "retries": settings["retries"]})
    assert [e["type"] for e in trail(stack, hold["id"])] == ["created"]  # the webhook is lost
    report = stack.run_jobs()
    assert report["events_applied"] >= 1, report
    events = trail(stack, hold["id"])
    assert [e["type"] for e in events] == ["created", "authorized"], events
    assert events[-1]["actor"] == "stripe"
    assert stack.run_jobs()["events_applied"] == 0  # the cursor moved past it: nothing twice
    assert [e["type"] for e in trail(stack, hold["id"])] == ["created", "authorized"]


def test_a_pass_killed_mid_release_leaves_one_cancel_and_one_released_event(stack):
    hold, release_after = due_hold(stack)
    wait_until(lambda: "authorized" in [e["type"] for e in trail(stack, hold["id"])], WAIT_S,
               "authorized")
    wait_due(release_after)
    # Stripe cancels, then its answer is held back 5 s: the pass is killed meanwhile, and
    # no webhook tells the service (paused): the next passes must finish the release.
    stack.stripe("POST", "/_test/webhooks", {"paused": True})
    stack.stripe("POST", "/_test/faults", {"method": "POST", "path": f"/{hold['id']}/cancel$",
                                           "delay_ms": 5000, "when": "after"})
    try:
        killed = subprocess.Popen([str(stack.run_dir / "chittycharge-jobs")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: len(cancels_of(stack, hold["id"])) == 1, WAIT_S, "the release POST")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        stack.stripe("DELETE", "/_test/faults")
        assert "released" not in [e["type"] for e in trail(stack, hold["id"])]
        stack.run_jobs()  # the reconciler finds Stripe's cancel, or the lease still holds
        # The lease runs out (moved back here rather than waiting its 5 minutes).
        stack.sql(f"UPDATE holds SET lease_until = now() - interval '1 second' "
                  f"WHERE id = '{hold['id']}'")
        stack.run_jobs()
    finally:
        stack.stripe("POST", "/_test/webhooks", {"paused": False})
    posts = cancels_of(stack, hold["id"])
    assert len({p["idempotency_key"] for p in posts}) == 1, posts  # one Stripe key
    assert [p["replayed"] for p in posts].count(False) == 1, posts  # Stripe cancelled once
    events = trail(stack, hold["id"])
    assert [e["type"] for e in events].count("released") == 1, events
    assert events[-1]["actor"] == "scheduler"
    assert stack.get_hold(hold["id"]).json["status"] == "canceled"


@pytest.fixture(scope="module")
def clock_stack():
    """A stack of its own: moving the Stripe double's clock lapses every hold in it."""
    yield from launched_stack(prefix="chittycharge-it-clock-")


def test_a_lapsed_authorization_shows_expired(clock_stack):
    stack = clock_stack
    hold = stack.create_hold()
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: "authorized" in [e["type"] for e in trail(stack, hold["id"])], WAIT_S,
               "authorized")
    expires_at = stack.get_hold(hold["id"]).json["expires_at"]
    assert expires_at is not None
    lapsed = stack.stripe("POST", "/_test/clock", {"advance_seconds": 8 * 86400})
    assert lapsed.status == 200, lapsed
    wait_until(lambda: "expired" in [e["type"] for e in trail(stack, hold["id"])], WAIT_S,
               "the lapse to reach the audit trail (webhook)")
    events = trail(stack, hold["id"])
    assert [e["type"] for e in events].count("expired") == 1, events
    assert events[-1]["actor"] == "stripe"
    assert stack.get_hold(hold["id"]).json["status"] == "canceled"
    stack.run_jobs()  # nothing to release, nothing recorded twice
    assert [e["type"] for e in trail(stack, hold["id"])].count("expired") == 1
