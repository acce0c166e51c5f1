"""Guest links through the real stack, API side (CONTRACT.md Part 3, "Guest links";
docs/guest-page.md): POST /api/holds/:id/guest_link (owner only), GET /pay/<token>/hold,
POST /pay/<token>/accept, the page's 404 for a bad link, the token kept hashed.
The browser side is test_guest_page.py."""

import datetime
import hashlib
import os
import re
import subprocess
import time
import urllib.parse

from conftest import ALPHA_TOKEN, BETA_TOKEN, REPO, assert_error, wait_until


def rfc3339(unix):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def make_link(stack, hold_id, token=ALPHA_TOKEN):
    return stack.api("POST", f"/api/holds/{urllib.parse.quote(hold_id)}/guest_link", token=token)


def token_of(answer):
    url = answer.json["url"]
    path = urllib.parse.urlsplit(url).path
    assert path.startswith("/pay/"), url
    return path[len("/pay/"):]


def guest(stack, method, path, body=None, headers=None):
    """The guest's browser: no client token."""
    return stack.api(method, path, body, token=None, headers=headers)


def events(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return answer.json["data"]


def test_the_owner_makes_a_link_to_the_public_url_and_only_its_hash_is_kept(stack):
    hold = stack.create_hold(property_id="Lake House", amount=25000)
    answer = make_link(stack, hold["id"])
    assert answer.status == 201, answer
    assert answer.json["url"].startswith(f"https://127.0.0.1:{stack.https_port}/pay/")
    assert answer.json["hold_id"] == hold["id"]
    expires = datetime.datetime.fromisoformat(answer.json["expires_at"].replace("Z", "+00:00"))
    assert abs(expires.timestamp() - (time.time() + 72 * 3600)) < 120
    token = token_of(answer)
    assert len(token) >= 32 and token.isalnum()  # ≥ 128 bits, URL-safe
    assert token_of(make_link(stack, hold["id"])) != token

    rows = stack.sql(f"SELECT token_sha256, hold_id FROM guest_links WHERE hold_id = '{hold['id']}'")
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert digest in [row[0] for row in rows]
    assert all(row[1] == hold["id"] for row in rows)
    everything = stack.sql("SELECT g::text FROM guest_links g")
    assert token not in repr(everything)  # the token itself is stored nowhere in the table

    # Another client's hold does not exist for it; neither does an unknown one.
    assert_error(make_link(stack, hold["id"], token=BETA_TOKEN), 404, "not_found")
    assert_error(make_link(stack, "pi_nope_guest"), 404, "not_found")
    assert make_link(stack, hold["id"], token=None).status == 401


def test_the_link_reads_the_hold_without_a_client_token(stack):
    hold = stack.create_hold(property_id="Lake House", amount=25000, description="Deposit")
    token = token_of(make_link(stack, hold["id"]))
    answer = guest(stack, "GET", f"/pay/{token}/hold")
    assert answer.status == 200, answer
    body = answer.json
    assert set(body) == {"hold_id", "status", "amount", "currency", "description", "property_id",
                         "disclosure", "client_secret", "setup_client_secret", "publishable_key"}
    assert body["hold_id"] == hold["id"]
    assert body["status"] == "requires_payment_method"
    assert (body["amount"], body["currency"], body["description"]) == (25000, "usd", "Deposit")
    assert body["property_id"] == "Lake House"
    current = stack.api("GET", "/api/disclosure").json
    assert body["disclosure"]["version"] == current["version"]
    assert "$250.00" in body["disclosure"]["text"] and "Lake House" in body["disclosure"]["text"]
    assert body["client_secret"] == hold["client_secret"]
    assert body["setup_client_secret"] is None
    assert body["publishable_key"] == "pk_test_sandbox"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]

    # Once authorized, nothing is left to confirm: no client secret.
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: guest(stack, "GET", f"/pay/{token}/hold").json["status"]
               == "requires_capture", 15, "the page to see the authorization")
    assert guest(stack, "GET", f"/pay/{token}/hold").json["client_secret"] is None


def test_accept_records_the_disclosure_and_its_event_before_the_card(stack):
    hold = stack.create_hold(amount=12000)
    token = token_of(make_link(stack, hold["id"]))
    version = stack.api("GET", "/api/disclosure").json["version"]
    outdated = guest(stack, "POST", f"/pay/{token}/accept", {"disclosure_version": "1999-01-01"})
    assert_error(outdated, 409, "disclosure_outdated")
    assert stack.get_hold(hold["id"]).json["disclosure"] is None

    accepted = guest(stack, "POST", f"/pay/{token}/accept", {"disclosure_version": version},
                     headers={"User-Agent": "GuestPhone/1.0"})
    assert accepted.status == 200, accepted
    disclosure = stack.get_hold(hold["id"]).json["disclosure"]
    assert set(disclosure) == {"version", "accepted_at"}
    assert disclosure["version"] == version
    assert accepted.json == {"hold_id": hold["id"], "disclosure": disclosure}
    trail = events(stack, hold["id"])
    accepted_events = [e for e in trail if e["type"] == "disclosure_accepted"]
    assert len(accepted_events) == 1
    assert accepted_events[0]["actor"] == "guest"
    assert accepted_events[0]["detail"]["user_agent"] == "GuestPhone/1.0"
    assert accepted_events[0]["detail"]["version"] == version

    # The card after it: authorized comes later in the trail.
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: "authorized" in [e["type"] for e in events(stack, hold["id"])], 15,
               "the authorized event")
    kinds = [e["type"] for e in events(stack, hold["id"])]
    assert kinds.index("disclosure_accepted") < kinds.index("authorized")


def test_unknown_tampered_and_expired_links_are_404(stack):
    hold = stack.create_hold()
    token = token_of(make_link(stack, hold["id"]))
    tampered = ("0" if token[0] != "0" else "1") + token[1:]
    # An expired link, as the ledger keeps it (created 73 h ago, the default TTL 72 h).
    expired = "e" * 64
    digest = hashlib.sha256(expired.encode()).hexdigest()
    stack.sql("INSERT INTO guest_links (token_sha256, hold_id, created_at, expires_at) VALUES "
              f"('{digest}', '{hold['id']}', now() - interval '73 hours', "
              "now() - interval '1 hour')")
    for bad in (tampered, expired, "not-a-token", "a" * 64):
        assert_error(guest(stack, "GET", f"/pay/{bad}/hold"), 404, "not_found")
        assert_error(guest(stack, "POST", f"/pay/{bad}/accept", {"disclosure_version": "x"}),
                     404, "not_found")
        page = guest(stack, "GET", f"/pay/{bad}")
        assert page.status == 404, page
        assert page.headers["Content-Type"].startswith("text/html")
        assert "expired or invalid" in page.text
    page = guest(stack, "GET", f"/pay/{token}")
    assert page.status == 200, page
    assert page.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="/pay/assets/pay.js">' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com https://*.js.stripe.com;" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_the_token_stays_out_of_the_access_log(stack):
    hold = stack.create_hold()
    token = token_of(make_link(stack, hold["id"]))
    assert guest(stack, "GET", f"/pay/{token}/hold").status == 200
    assert guest(stack, "GET", f"/pay/{token}").status == 200
    assert guest(stack, "GET", "/pay/assets/pay.css").status == 200
    # nginx writes a request's line in its log phase, after the answer left: wait for it.
    wait_until(lambda: '"uri":"/pay/assets/pay.css"' in (stack.run_dir / "access.log").read_text(),
               10, "the access log's lines")
    log = (stack.run_dir / "access.log").read_text()
    assert token not in log
    assert '"uri":"/pay/-/hold"' in log and '"uri":"/pay/-"' in log
    assert '"uri":"/pay/assets/pay.css"' in log  # the page's own files are named as they are


def test_the_token_stays_out_of_the_error_log(stack):
    """nginx's error lines quote the request line: a body over the 64k limit on /accept (a
    413 nginx answers itself, logged at error level) must not put the token there."""
    hold = stack.create_hold()
    token = token_of(make_link(stack, hold["id"]))
    oversized = b'{"disclosure_version": "' + b"x" * (100 * 1024) + b'"}'
    answer = stack.api("POST", f"/pay/{token}/accept", raw=oversized, token=None)
    assert answer.status == 413, answer
    assert answer.json["code"] == "payload_too_large"
    # nginx writes that line while it refuses the body, before the 413 leaves
    assert token not in (stack.run_dir / "error.log").read_text()


def test_a_scheduled_holds_link_carries_the_setup_client_secret(stack):
    hold = stack.create_hold(customer_email="guest@example.com",
                             authorize_at=rfc3339(int(time.time()) + 10 * 86400))
    assert hold["status"] == "scheduled"
    token = token_of(make_link(stack, hold["id"]))
    body = guest(stack, "GET", f"/pay/{token}/hold").json
    assert body["status"] == "scheduled"
    assert body["client_secret"] is None
    assert body["setup_client_secret"] == hold["setup_client_secret"]


def test_sandbox_stripe_js_is_the_doubles_stand_in_on_this_origin(stack):
    redirect = guest(stack, "GET", "/pay/stripe.js")
    assert redirect.status == 302
    assert redirect.headers["Location"].endswith("/stripe-sandbox/v3/")
    script = guest(stack, "GET", "/stripe-sandbox/v3/")
    assert script.status == 200, script
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "window.Stripe = Stripe" in script.text
    assert "'/stripe-sandbox'" in script.text  # its API calls come back through nginx


def test_the_guest_link_walk_through_in_api_md_runs_as_written(stack):
    text = (REPO / "docs" / "api.md").read_text()
    section = text.split("## A guest link, start to end (sandbox)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "one script"
    script = ("set -euo pipefail\n" + blocks[0].replace("chitty-sandbox-token", ALPHA_TOKEN)
              .replace("127.0.0.1:8080", f"127.0.0.1:{stack.http_port}"))
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          check=False, env=dict(os.environ))
    assert done.returncode == 0, done.stderr + done.stdout
    hold_id = done.stdout.split()[-1]
    wait_until(lambda: "authorized" in [e["type"] for e in events(stack, hold_id)], 15,
               "the authorized event")
    kinds = [e["type"] for e in events(stack, hold_id)]
    assert kinds[:3] == ["created", "disclosure_accepted", "authorized"], kinds
