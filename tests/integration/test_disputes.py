"""Disputes through the real stack: nginx -> workers -> PostgreSQL + memcached + the Stripe
double, and chittycharge-jobs for the staging pass.

Written from CONTRACT.md Part 2 ("Disputes") and STRIPE-NEXT §3/§4: a dispute of a hold's
charge shows on the hold and in its trail; the scheduler stages the evidence at Stripe with
submit=false (the itemized claim, the disclosure, the trail, and the claim's evidence files
combined into one PDF as uncategorized_file); the client submits it once; the outcome shows.
The PDF is read back with poppler-utils (pdfinfo, pdftotext, pdfimages).

The evidence files go through the service's own route (POST /api/holds/:id/evidence) before
the itemized capture cites them; the hold is created with the disclosure the guest accepted.
"""

import json
import pathlib
import random
import re
import struct
import subprocess
import urllib.parse
import uuid
import zlib

from conftest import SANDBOX_STRIPE_KEY, assert_error, unique, wait_until
from test_webhooks import drain

WAIT_S = 10
DISCLOSURE = {"version": "2026-12-01", "accepted_at": "2026-01-02T03:04:05Z"}
ITEMS = [
    {"description": "Broken bedside lamp", "amount": 12000, "category": "damage"},
    {"description": "Red wine stain on the sofa", "amount": 4550, "category": "cleaning"},
    {"description": "Missing TV remote", "amount": 2500, "category": "missing_item"},
]


# ---------------------------------------------------------------- evidence files

def png(width, height, seed=0):
    """A real RGB PNG (a gradient), any size, standard library only."""
    base = bytes((x * 7 + seed) % 256 for x in range(width * 3 + 256))
    rows = b"".join(b"\x00" + base[y % 256:y % 256 + width * 3] for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0,
                                                             0, 0)) + \
        chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


def pdf(pages_text, padding=0):
    """A real PDF whose pages show the given text (Helvetica); `padding` bytes of
    incompressible data in an unused stream make it as large as needed."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", None,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages_text:
        content = f"BT /F1 18 Tf 72 700 Td ({text}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (len(objects)))
        kids.append(len(objects))
    if padding:
        blob = random.Random(padding).randbytes(padding)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(blob), blob))
    objects[1] = b"<< /Type /Pages /Count %d /Kids [%s] >>" % (
        len(kids), b" ".join(b"%d 0 R" % k for k in kids))
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


def jpeg(tmp_path, text):
    """A real JPEG: a one-page PDF rendered by poppler's pdftoppm."""
    source = tmp_path / f"{uuid.uuid4().hex}.pdf"
    source.write_bytes(pdf([text]))
    subprocess.run(["pdftoppm", "-jpeg", "-r", "40", "-singlefile", str(source),
                    str(source.with_suffix(""))], check=True, timeout=60)
    return source.with_suffix(".jpg").read_bytes()


def upload(stack, hold_id, data, filename, content_type):
    """An evidence file through the service (stored at the Stripe double, recorded)."""
    path = (f"/api/holds/{urllib.parse.quote(hold_id)}/evidence?"
            f"filename={urllib.parse.quote(filename)}")
    answer = stack.api("POST", path, raw=data, headers={"Content-Type": content_type})
    assert answer.status == 201, answer
    return answer.json["id"]


def file_bytes(stack, file_id):
    answer = stack.stripe("GET", f"/_test/files/{file_id}/contents")
    assert answer.status == 200, answer
    return answer.body


# ---------------------------------------------------------------- the stack

def trail(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return answer.json["data"]


def types_of(stack, hold_id):
    return [e["type"] for e in trail(stack, hold_id)]


def authorized_hold(stack, **fields):
    hold = stack.create_hold(amount=25000, property_id=unique("prop-dispute"),
                             customer_email="guest@example.com", **fields)
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: stack.get_hold(hold["id"]).json["status"] == "requires_capture", WAIT_S,
               "the authorization")
    return hold


def capture_claim(stack, hold_id, items):
    answer = stack.api("POST", f"/api/holds/{hold_id}/capture", {"items": items})
    assert answer.status == 200, answer
    drain(stack)


def captured_claim(stack, items=ITEMS):
    hold = authorized_hold(stack)
    capture_claim(stack, hold["id"], items)
    return hold


def open_dispute(stack, hold_id, **body):
    charge = stack.stripe_pi(hold_id)["latest_charge"]
    charge = charge["id"] if isinstance(charge, dict) else charge
    answer = stack.stripe("POST", f"/_test/charges/{charge}/dispute", body)
    assert answer.status == 200, answer
    drain(stack)
    wait_until(lambda: stack.get_hold(hold_id).json["dispute"] is not None, WAIT_S,
               "the dispute on the hold")  # a settled hold's body lives a few seconds
    return answer.json


def stripe_dispute(stack, dispute_id):
    answer = stack.stripe("GET", f"/v1/disputes/{dispute_id}")
    assert answer.status == 200, answer
    return answer.json


def dispute_posts(stack, dispute_id):
    return [r for r in stack.stripe_requests()
            if r["method"] == "POST" and r["path"] == f"/v1/disputes/{dispute_id}"]


def wait_dispute(stack, hold_id, field, value, what):
    """A GET may serve a settled hold's body remembered a few seconds before (api.md)."""
    wait_until(lambda: (stack.get_hold(hold_id).json["dispute"] or {}).get(field) == value,
               WAIT_S, what)


def submit(stack, hold_id, token=None):
    kwargs = {} if token is None else {"token": token}
    return stack.api("POST", f"/api/holds/{hold_id}/dispute/submit", {}, **kwargs)


def poppler(tool, path, *args):
    done = subprocess.run([tool, *args, str(path)] + (["-"] if tool == "pdftotext" else []),
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


# ---------------------------------------------------------------- tests

def test_a_dispute_is_staged_with_the_claim_and_one_pdf_then_submitted_once_and_won(
        stack, tmp_path):
    hold = authorized_hold(stack, disclosure=DISCLOSURE)
    hold_id = hold["id"]
    photo = upload(stack, hold_id, png(3200, 2400, seed=1), "lamp-before-after.png", "image/png")
    stain = upload(stack, hold_id, jpeg(tmp_path, "SOFA STAIN PHOTO"), "sofa.jpg", "image/jpeg")
    report = upload(stack, hold_id,
                    pdf(["CHECKOUT INSPECTION PAGE ONE", "CHECKOUT INSPECTION PAGE TWO"]),
                    "inspection.pdf", "application/pdf")
    huge = upload(stack, hold_id, pdf(["TOO BIG TO ATTACH"], padding=4_600_000), "scan.pdf",
                  "application/pdf")
    evidence = [[photo, report], [stain], [huge]]
    capture_claim(stack, hold_id, [dict(item, evidence=files)
                                   for item, files in zip(ITEMS, evidence)])
    assert stack.get_hold(hold_id).json["dispute"] is None

    opened = open_dispute(stack, hold_id, reason="product_unacceptable")
    dispute = stack.get_hold(hold_id).json["dispute"]
    assert dispute["id"] == opened["id"] and dispute["status"] == "needs_response"
    assert dispute["reason"] == "product_unacceptable" and dispute["amount"] == 19050
    assert dispute["evidence_due_by"].endswith("Z") and dispute["evidence_staged"] is False
    assert dispute["submitted_at"] is None
    types = types_of(stack, hold_id)
    assert types.count("dispute_opened") == 1
    opened_event = next(e for e in trail(stack, hold_id) if e["type"] == "dispute_opened")
    assert opened_event["actor"] == "stripe" and opened_event["amount"] == 19050
    assert opened_event["detail"]["dispute"] == opened["id"]
    assert_error(submit(stack, hold_id), 409, "dispute_evidence_not_staged")

    # Stripe fails the evidence update (5xx, every retry): nothing is staged; the next pass does it.
    stack.clear_stripe_requests()
    rule = {"method": "POST", "path": f"^/v1/disputes/{opened['id']}$", "status": 500,
            "count": -1}
    assert stack.stripe("POST", "/_test/faults", rule).status == 200
    try:
        failed = stack.run_jobs()
    finally:
        stack.stripe("DELETE", "/_test/faults")
    assert failed["disputes_failed"] == 1 and failed["disputes_staged"] == 0, failed
    assert stack.get_hold(hold_id).json["dispute"]["evidence_staged"] is False
    assert "dispute_evidence_staged" not in types_of(stack, hold_id)
    assert not stripe_dispute(stack, opened["id"])["evidence_details"]["has_evidence"]

    staged = stack.run_jobs()
    assert staged["disputes_staged"] == 1, staged
    wait_dispute(stack, hold_id, "evidence_staged", True, "evidence_staged on the hold")
    posts = dispute_posts(stack, opened["id"])
    assert posts and all(p["params"]["submit"] in (False, "false") for p in posts), posts
    keys = {p["idempotency_key"] for p in posts if p.get("status") == 200} or \
        {p.get("idempotency_key") for p in posts}
    assert len(keys) == 1  # the failed pass and the good one sent the same key

    evidence = stripe_dispute(stack, opened["id"])["evidence"]
    text = evidence["uncategorized_text"]
    for line in ("1. Broken bedside lamp [damage]: $120.00",
                 "2. Red wine stain on the sofa [cleaning]: $45.50",
                 "3. Missing TV remote [missing_item]: $25.00", "(total $190.50)"):
        assert line in text, text
    assert ("Hold disclosure accepted by the guest: version 2026-12-01, accepted at "
            "2026-01-02T03:04:05Z.") in text, text
    assert re.search(r"scan\.pdf \(" + huge + r"\): .*size limit", text), text
    assert "captured by client:alpha" in text and "dispute_opened by stripe" in text
    assert evidence["customer_email_address"] == "guest@example.com"
    assert "property" in evidence["product_description"] or \
        hold["property_id"] in evidence["product_description"]
    assert evidence["service_date"].startswith("Hold placed ")

    file_id = evidence["uncategorized_file"]
    files = {f["id"]: f for f in stack.stripe("GET", "/_test/files").json}
    assert files[file_id]["purpose"] == "dispute_evidence" and files[file_id]["type"] == "pdf"
    combined = tmp_path / "combined.pdf"
    combined.write_bytes(file_bytes(stack, file_id))
    assert combined.stat().st_size <= 4_500_000
    info = poppler("pdfinfo", combined)
    assert re.search(r"^Pages:\s+5$", info, re.M), info  # summary, 2 images, 2 PDF pages
    words = poppler("pdftotext", combined)
    for needle in ("Broken bedside lamp", "$120.00", "Red wine stain on the sofa", "$45.50",
                   "Missing TV remote", "version 2026-12-01", "Not attached",
                   "scan.pdf", "lamp-before-after.png", "sofa.jpg", "inspection.pdf",
                   "CHECKOUT INSPECTION PAGE ONE", "CHECKOUT INSPECTION PAGE TWO"):
        assert needle in words, (needle, words)
    assert "TOO BIG TO ATTACH" not in words
    images = [line.split() for line in poppler("pdfimages", combined, "-list").splitlines()[2:]]
    assert len(images) == 2, images
    assert all(int(i[3]) <= 1600 and int(i[4]) <= 1600 for i in images), images  # scaled down
    assert max(int(i[3]) for i in images) == 1600  # the 3200 x 2400 photo, halved
    staged_event = next(e for e in trail(stack, hold_id) if e["type"] == "dispute_evidence_staged")
    assert staged_event["actor"] == "scheduler" and staged_event["detail"]["file"] == file_id
    assert staged_event["detail"]["not_attached"][0]["id"] == huge

    assert stack.run_jobs()["disputes_staged"] == 0  # staged once

    done = submit(stack, hold_id)
    assert done.status == 200, done
    assert done.json["dispute"]["submitted_at"] is not None
    assert stripe_dispute(stack, opened["id"])["evidence_details"]["submission_count"] == 1
    stack.clear_stripe_requests()
    assert_error(submit(stack, hold_id), 409, "dispute_already_submitted")
    assert dispute_posts(stack, opened["id"]) == []
    drain(stack)
    wait_dispute(stack, hold_id, "status", "under_review", "under_review (charge.dispute.updated)")
    assert types_of(stack, hold_id).count("dispute_submitted") == 1

    closed = stack.stripe("POST", f"/_test/disputes/{opened['id']}/close", {"outcome": "won"})
    assert closed.status == 200, closed
    drain(stack)
    wait_dispute(stack, hold_id, "status", "won", "the won dispute on the hold")
    events = trail(stack, hold_id)
    closes = [e for e in events if e["type"] == "dispute_closed"]
    assert len(closes) == 1 and closes[0]["detail"]["status"] == "won", closes
    assert closes[0]["detail"]["funds_reinstated"] is True and closes[0]["actor"] == "stripe"


def test_a_lost_dispute_without_evidence_files_and_the_409s(stack, tmp_path):
    plain = stack.create_hold()
    assert_error(submit(stack, plain["id"]), 409, "no_dispute")
    assert_error(submit(stack, "pi_NoSuchHold123"), 404, "not_found")

    hold = captured_claim(stack, items=ITEMS[:1])
    hold_id = hold["id"]
    opened = open_dispute(stack, hold_id)
    assert stack.run_jobs()["disputes_staged"] == 1
    evidence = stripe_dispute(stack, opened["id"])["evidence"]
    assert "1. Broken bedside lamp [damage]: $120.00" in evidence["uncategorized_text"]
    summary = tmp_path / "summary.pdf"
    summary.write_bytes(file_bytes(stack, evidence["uncategorized_file"]))
    assert re.search(r"^Pages:\s+1$", poppler("pdfinfo", summary), re.M)
    assert "Broken bedside lamp" in poppler("pdftotext", summary)

    closed = stack.stripe("POST", f"/_test/disputes/{opened['id']}/close", {"outcome": "lost"})
    assert closed.status == 200, closed
    drain(stack)
    wait_dispute(stack, hold_id, "status", "lost", "the lost dispute on the hold")
    closes = [e for e in trail(stack, hold_id) if e["type"] == "dispute_closed"]
    assert len(closes) == 1 and closes[0]["detail"]["status"] == "lost"
    assert closes[0]["detail"]["funds_reinstated"] is False
    assert_error(submit(stack, hold_id), 409, "dispute_closed")
    wait_until(lambda: pathlib.Path(summary).exists(), 1, "the summary")
