"""Evidence upload and the create's disclosure through the real stack: nginx -> workers ->
PostgreSQL + memcached + the Stripe double (its Files API).

Written from CONTRACT.md, Part 2, "Claims, evidence, refunds, disputes" ("Evidence") and
"The hold's life" (the `disclosure` create field): the file is the raw body, checked by its
signature, stored with Stripe's Files API (purpose dispute_evidence, multipart), recorded
with its `evidence_added` event before the 201; nginx allows 5 MiB on this route only;
evidence ids in claim items must be that hold's.
"""

import json
import os
import re
import socket
import subprocess
import urllib.parse

from conftest import ALPHA_TOKEN, BETA_TOKEN, REPO, assert_error, unique, wait_until

WAIT_S = 10
MIB = 1024 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x22" * 200
PDF = b"%PDF-1.4\n% evidence\n" + b"\x33" * 200 + b"\n%%EOF\n"


def upload(stack, hold_id, data, content_type, filename, token=ALPHA_TOKEN, headers=None):
    path = (f"/api/holds/{urllib.parse.quote(hold_id)}/evidence?"
            f"filename={urllib.parse.quote(filename)}")
    return stack.api("POST", path, raw=data, token=token,
                     headers={"Content-Type": content_type, **(headers or {})})


def listed(stack, hold_id, token=ALPHA_TOKEN):
    answer = stack.api("GET", f"/api/holds/{hold_id}/evidence", token=token)
    assert answer.status == 200, answer
    return answer.json


def file_posts(stack):
    return [r for r in stack.stripe_requests() if r["method"] == "POST" and r["path"] == "/v1/files"]


def types_of(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return [e["type"] for e in answer.json["data"]]


def evidence_rows(stack, hold_id):
    return stack.sql(f"SELECT count(*) FROM evidence WHERE hold_id = '{hold_id}'")[0][0]


def authorized_hold(stack, **fields):
    fields.setdefault("property_id", unique("prop-evid"))
    hold = stack.create_hold(**fields)
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: "authorized" in types_of(stack, hold["id"]), WAIT_S,
               "the authorization to reach the audit trail (webhook)")
    return hold


# ---------------------------------------------------------------- upload and list

def test_jpeg_png_and_pdf_are_stored_at_stripe_recorded_and_listed(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    stack.clear_stripe_requests()
    made = []
    for data, mime, name in ((JPEG, "image/jpeg", "lamp.jpg"), (PNG, "image/png", "rug.png"),
                             (PDF, "application/pdf", "invoice.pdf")):
        answer = upload(stack, hold["id"], data, mime, name)
        assert answer.status == 201, answer
        body = answer.json
        assert set(body) == {"id", "filename", "size", "type", "created_at"}
        assert body["id"].startswith("file_")
        assert (body["filename"], body["size"], body["type"]) == (name, len(data), mime)
        # the bytes at Stripe are the file's, byte for byte, with purpose dispute_evidence
        stored = stack.stripe("GET", f"/_test/files/{body['id']}/contents")
        assert stored.body == data
        made.append(body)
    at_stripe = {f["id"]: f for f in stack.stripe("GET", "/_test/files").json}
    for body in made:
        assert at_stripe[body["id"]]["purpose"] == "dispute_evidence"
        assert at_stripe[body["id"]]["filename"] == body["filename"]
    assert len(file_posts(stack)) == 3
    assert listed(stack, hold["id"]) == {"data": made, "has_more": False}
    assert types_of(stack, hold["id"]).count("evidence_added") == 3
    events = stack.api("GET", f"/api/holds/{hold['id']}/events?limit=100").json["data"]
    added = [e for e in events if e["type"] == "evidence_added"]
    assert added[0]["detail"] == {"file": made[0]["id"], "filename": "lamp.jpg",
                                  "size": len(JPEG), "type": "image/jpeg"}
    assert added[0]["actor"] == "client:alpha"
    assert added[0]["amount"] == hold["amount"] and added[0]["status_after"] is None


def test_the_same_upload_again_is_the_same_file(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    first = upload(stack, hold["id"], PNG, "image/png", "same.png")
    again = upload(stack, hold["id"], PNG, "image/png", "same.png")
    assert first.status == 201 and again.status == 201, (first, again)
    assert again.json == first.json
    assert len(listed(stack, hold["id"])["data"]) == 1
    assert types_of(stack, hold["id"]).count("evidence_added") == 1


def test_a_keyed_upload_replays(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    key = {"Idempotency-Key": unique("evid-key")}
    first = upload(stack, hold["id"], PDF, "application/pdf", "k.pdf", headers=key)
    again = upload(stack, hold["id"], PDF, "application/pdf", "k.pdf", headers=key)
    assert first.status == 201, first
    assert again.status == 201 and again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = upload(stack, hold["id"], PNG, "image/png", "k.png", headers=key)
    assert_error(other, 422, "idempotency_key_reused")


def test_a_png_renamed_pdf_is_refused_with_no_stripe_call(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    stack.clear_stripe_requests()
    answer = upload(stack, hold["id"], PNG, "application/pdf", "scan.pdf")
    assert_error(answer, 400, "invalid_request", "file")
    assert file_posts(stack) == []
    assert listed(stack, hold["id"])["data"] == []
    assert evidence_rows(stack, hold["id"]) == "0"


def test_refusals_are_the_contracts_400s(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    stack.clear_stripe_requests()
    assert_error(upload(stack, hold["id"], PNG, "image/gif", "a.gif"), 400, "invalid_request",
                 "file")
    assert_error(upload(stack, hold["id"], PNG, "image/png", "a/b.png"), 400, "invalid_request",
                 "filename")
    no_name = stack.api("POST", f"/api/holds/{hold['id']}/evidence", raw=PNG,
                        headers={"Content-Type": "image/png"})
    assert_error(no_name, 400, "invalid_request", "filename")
    assert file_posts(stack) == []


def test_another_clients_hold_is_404(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    stack.clear_stripe_requests()
    answer = upload(stack, hold["id"], PNG, "image/png", "x.png", token=BETA_TOKEN)
    assert_error(answer, 404, "not_found")
    assert_error(stack.api("GET", f"/api/holds/{hold['id']}/evidence", token=BETA_TOKEN), 404,
                 "not_found")
    assert file_posts(stack) == []


# ---------------------------------------------------------------- sizes (nginx)

def test_five_mib_exactly_is_accepted(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    data = b"%PDF-1.4\n" + b"\x20" * (5 * MIB - 9)
    assert len(data) == 5 * MIB
    answer = upload(stack, hold["id"], data, "application/pdf", "big.pdf")
    assert answer.status == 201, answer
    assert answer.json["size"] == 5 * MIB


def test_five_mib_and_one_byte_is_nginxs_json_413(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    stack.clear_stripe_requests()
    data = b"%PDF-1.4\n" + b"\x20" * (5 * MIB - 8)
    answer = upload(stack, hold["id"], data, "application/pdf", "big.pdf")
    assert answer.status == 413, answer
    assert answer.headers.get("Content-Type", "").startswith("application/json")
    assert answer.json["code"] == "payload_too_large"
    assert answer.json["error"] == "Request body is too large."  # nginx's own, not the worker's
    assert file_posts(stack) == []
    assert listed(stack, hold["id"])["data"] == []


def test_other_routes_keep_64k(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    body = b'{"reason":"' + b"x" * (64 * 1024) + b'"}'
    answer = stack.api("POST", f"/api/holds/{hold['id']}/capture", raw=body)
    assert answer.status == 413 and answer.json["code"] == "payload_too_large", answer


def test_an_upload_cut_off_mid_body_leaves_nothing(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    stack.clear_stripe_requests()
    head = (f"POST /api/holds/{hold['id']}/evidence?filename=cut.pdf HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nChittyID-Token: {ALPHA_TOKEN}\r\n"
            f"Content-Type: application/pdf\r\nContent-Length: {2 * MIB}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=10) as sock:
        sock.sendall(head + b"%PDF-1.4\n" + b"\x20" * MIB)  # half of it, then the client is gone
    # The next request on the stack is answered after nginx has dropped the cut one.
    assert listed(stack, hold["id"])["data"] == []
    assert file_posts(stack) == []
    assert evidence_rows(stack, hold["id"]) == "0"
    assert "evidence_added" not in types_of(stack, hold["id"])


# ---------------------------------------------------------------- Stripe failing

def test_stripe_5xx_on_the_upload_is_502_and_records_no_file(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"))
    stack.stripe("POST", "/_test/faults",
                 {"method": "POST", "path": "^/v1/files$", "status": 500, "count": -1})
    try:
        answer = upload(stack, hold["id"], JPEG, "image/jpeg", "down.jpg")
    finally:
        stack.stripe("DELETE", "/_test/faults")
    assert_error(answer, 502, "upstream_error")
    assert listed(stack, hold["id"])["data"] == []
    assert evidence_rows(stack, hold["id"]) == "0"
    assert "evidence_added" not in types_of(stack, hold["id"])
    # its intent was written before the POST and is left for the reconciler to close
    assert stack.sql("SELECT state FROM stripe_intents WHERE operation = 'evidence' "
                     f"AND hold_id = '{hold['id']}'") == [("pending",)]
    # the same upload once Stripe is back is recorded (the same key, Stripe's first answer)
    again = upload(stack, hold["id"], JPEG, "image/jpeg", "down.jpg")
    assert again.status == 201, again
    assert [f["id"] for f in listed(stack, hold["id"])["data"]] == [again.json["id"]]


# ---------------------------------------------------------------- claims

def capture_posts(stack, hold_id):
    return [r for r in stack.stripe_requests()
            if r["method"] == "POST" and r["path"] == f"/v1/payment_intents/{hold_id}/capture"]


def test_evidence_of_another_hold_in_claim_items_is_400_with_no_capture(stack):
    other = stack.create_hold(property_id=unique("prop-evid"))
    theirs = upload(stack, other["id"], PNG, "image/png", "theirs.png")
    assert theirs.status == 201, theirs
    hold = authorized_hold(stack)
    body = {"items": [{"description": "Lamp", "amount": 1200, "category": "damage",
                       "evidence": [theirs.json["id"]]}]}
    answer = stack.api("POST", f"/api/holds/{hold['id']}/capture", body)
    assert_error(answer, 400, "invalid_request", "items")
    assert theirs.json["id"] in answer.json["error"]
    assert capture_posts(stack, hold["id"]) == []
    assert stack.stripe_pi(hold["id"])["status"] == "requires_capture"


def test_an_itemized_capture_with_its_own_evidence_captures(stack):
    hold = authorized_hold(stack, amount=20000)
    photo = upload(stack, hold["id"], JPEG, "image/jpeg", "lamp.jpg").json
    invoice = upload(stack, hold["id"], PDF, "application/pdf", "invoice.pdf").json
    items = [{"description": "Broken lamp", "amount": 12000, "category": "damage",
              "evidence": [photo["id"], invoice["id"]]},
             {"description": "Cleaning", "amount": 3000, "category": "cleaning"}]
    answer = stack.api("POST", f"/api/holds/{hold['id']}/capture", {"items": items})
    assert answer.status == 200, answer
    assert answer.json["amount_captured"] == 15000
    assert answer.json["claim"]["items"][0]["evidence"] == [photo["id"], invoice["id"]]
    assert len(capture_posts(stack, hold["id"])) == 1


# ---------------------------------------------------------------- disclosure on create

def test_the_disclosure_is_kept_on_the_hold_and_shown(stack):
    disclosure = {"version": "2026-12-01", "accepted_at": "2026-01-02T03:04:05Z"}
    hold = stack.create_hold(property_id=unique("prop-evid"), disclosure=disclosure)
    assert hold["disclosure"] == disclosure
    assert stack.get_hold(hold["id"]).json["disclosure"] == disclosure
    stored = stack.sql(f"SELECT disclosure::text FROM holds WHERE id = '{hold['id']}'")
    assert stored == [('{"version":"2026-12-01","accepted_at":"2026-01-02T03:04:05Z"}',)]
    plain = stack.create_hold(property_id=unique("prop-evid"))
    assert plain["disclosure"] is None
    assert stack.get_hold(plain["id"]).json["disclosure"] is None


def test_a_disclosure_with_an_offset_is_kept_in_utc(stack):
    hold = stack.create_hold(property_id=unique("prop-evid"), disclosure={
        "version": "2026-12-01", "accepted_at": "2026-01-02T05:04:05+02:00"})
    assert hold["disclosure"]["accepted_at"] == "2026-01-02T03:04:05Z"


def test_a_bad_disclosure_is_refused_before_stripe(stack):
    before = stack.count_payment_intents()
    for disclosure, param in (
            ({"version": "1999-01-01", "accepted_at": "2026-01-02T03:04:05Z"},
             "disclosure[version]"),
            ({"version": "2026-12-01", "accepted_at": "yesterday"}, "disclosure[accepted_at]"),
            ({"version": "2026-12-01", "accepted_at": "2999-01-01T00:00:00Z"},
             "disclosure[accepted_at]"),
            ({"version": "2026-12-01", "accepted_at": "2026-01-02T03:04:05Z", "ip": "x"},
             "disclosure"),
            ("2026-12-01", "disclosure")):
        answer = stack.api("POST", "/api/holds", {"amount": 5000, "description": "deposit",
                                                  "disclosure": disclosure})
        assert_error(answer, 400, "invalid_request", param)
    assert stack.count_payment_intents() == before


# ---------------------------------------------------------------- docs/api.md's examples

def test_the_api_docs_evidence_examples_run(stack):
    """docs/api.md's curl examples for evidence, as written (the sandbox token and port
    swapped for the test stack's), against a hold of ours."""
    text = (REPO / "docs" / "api.md").read_text()
    rest = text[text.index("### `POST /api/holds/:id/evidence"):]
    headings = [m.start() for m in re.finditer(r"^### ", rest, flags=re.M)]
    section = rest[:next((h for h in headings[1:]
                          if "evidence" not in rest[h:rest.index("\n", h)]), len(rest))]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2, "upload, list"
    hold = stack.create_hold(property_id=unique("prop-evid"))
    outputs = []
    for block in blocks:
        script = ("set -euo pipefail\n" + block.replace("chitty-sandbox-token", ALPHA_TOKEN)
                  .replace("127.0.0.1:8080", f"127.0.0.1:{stack.http_port}"))
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                              check=False, env={**os.environ, "HOLD": hold["id"]})
        assert done.returncode == 0, done.stderr + done.stdout
        outputs.append(json.loads(done.stdout))
    uploaded, page = outputs
    assert uploaded["filename"] == "lamp.png" and uploaded["type"] == "image/png", uploaded
    assert page == {"data": [uploaded], "has_more": False}
