"""The claims part of the Stripe double, end to end over HTTP: the Files API
(multipart uploads), refunds and charges, disputes and their evidence, and the
currencies ChittyCharge uses (CONTRACT.md "Claims, evidence, refunds, disputes",
"Currencies"; STRIPE-NEXT §3, §4, §7, §8).

Every /v1 answer is checked against Stripe's OpenAPI schema by CheckedStripe and
by the double's own --self-check.
"""

import json
import time
import zlib

import pytest

from doubles_harness import SPEC, TEST_SECRET_KEY as KEY, TEST_WEBHOOK_SECRET as SECRET
from doubles_harness import verify_stripe_signature
from multipart import encode_form_data

PIS = "/v1/payment_intents"
MIB = 1024 * 1024
UNSUPPORTED = ("We don't currently support that file type. Try uploading a file with one of the "
               "following mimetypes: application/pdf, image/jpeg, image/png.")
BINARY = bytes(range(256)) * 3 + b"\r\n--\r\n\r\n--notaboundary\r\n\x00\xff"


# ============================================================ helpers
def error_of(reply):
    return reply.json["error"]


def pdf(pages=1, compressed=False, size=None):
    """A small PDF-shaped file with binary bytes in it (enough for Stripe's checks)."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"
    pages_dict = b"2 0 obj << /Type /Pages /Count %d >> endobj\n" % pages
    if compressed:  # page dictionaries inside a Flate object stream, as PDF libraries write
        packed = zlib.compress(b"\n".join([page] * pages))
        body = b"3 0 obj << /Type /ObjStm /Filter /FlateDecode /Length %d >>\nstream\n%s\n" \
               b"endstream endobj\n" % (len(packed), packed)
    else:
        body = b"".join(b"%d 0 obj %s endobj\n" % (3 + i, page) for i in range(pages))
    data = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + pages_dict + body + b"4 0 obj << /Length 771 >>\n" \
        b"stream\n" + BINARY + b"\nendstream endobj\n%%EOF\n"
    if size is not None:
        data = data[:-6] + b"%" * (size - len(data)) + b"%%EOF\n"
        assert len(data) == size
    return data


PNG = b"\x89PNG\r\n\x1a\n" + BINARY
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + BINARY


def events(stripe):
    stripe.control("POST", "/_test/webhooks/drain", {"timeout_ms": 5000})
    return stripe.control("GET", "/_test/events")


def event_types(stripe):
    return [e["type"] for e in events(stripe)]


def schema_errors(event):
    errors = SPEC.validate(event, {"$ref": "#/components/schemas/event"})
    obj = event["data"]["object"]
    return errors + SPEC.validate(obj, {"$ref": f"#/components/schemas/{obj['object']}"})


def captured(stripe, amount=25000, currency="usd", pm="pm_card_visa", capture=None):
    """A held then captured PaymentIntent → (intent, charge id)."""
    intent = stripe.create(amount=amount, currency=currency, payment_method=pm, confirm=True)
    params = {} if capture is None else {"amount_to_capture": capture}
    done = stripe.post(f"{PIS}/{intent['id']}/capture", params, expect=200).json
    return done, done["latest_charge"]


def upload(stripe, data=None, **kwargs):
    return stripe.upload(pdf() if data is None else data, expect=200, **kwargs).json


def open_dispute(stripe, charge, **body):
    return stripe.control("POST", f"/_test/charges/{charge}/dispute", body)


def dispute_path(dispute, action=""):
    return f"/v1/disputes/{dispute['id']}" + (f"/{action}" if action else "")


# ============================================================ files
def test_upload_answers_a_file_and_keeps_the_bytes_exactly(stripe):
    data = pdf(pages=3)
    reply = stripe.upload(data, filename="check-out report.pdf", expect=200)
    file = reply.json
    assert file["id"].startswith("file_") and len(file["id"]) == 29
    assert (file["object"], file["purpose"], file["type"], file["size"]) == \
        ("file", "dispute_evidence", "pdf", len(data))
    assert file["filename"] == "check-out report.pdf" and file["title"] is None
    assert file["url"] == f"https://files.stripe.com/v1/files/{file['id']}/contents"
    assert 270 * 86400 <= file["expires_at"] - file["created"] <= 276 * 86400  # 9 months
    assert abs(file["created"] - time.time()) < 10
    assert stripe.get(f"/v1/files/{file['id']}", expect=200).json == file
    contents = stripe.client.request("GET", f"/_test/files/{file['id']}/contents")
    assert contents.status == 200 and contents.body == data
    assert contents.header("Content-Type") == "application/pdf"


@pytest.mark.parametrize("data, filename, content_type, kind", [
    (PNG, "before.png", "image/png", "png"),
    (JPEG, "after.jpg", "image/jpeg", "jpg"),
    (JPEG, "after.jpeg", "application/octet-stream", "jpg"),  # type from the extension
    (pdf(), "claim.PDF", "application/octet-stream", "pdf"),
])
def test_upload_images_and_types_by_extension(stripe, data, filename, content_type, kind):
    file = upload(stripe, data, filename=filename, content_type=content_type)
    assert file["type"] == kind and file["size"] == len(data)
    back = stripe.client.request("GET", f"/_test/files/{file['id']}/contents")
    assert back.body == data


@pytest.mark.parametrize("data, content_type, message", [
    (b"plain text evidence", "text/plain", UNSUPPORTED),
    (PNG, "application/pdf", UNSUPPORTED),  # the bytes are not what the type says
    (b"%PDF-1.4 but declared", "image/png", UNSUPPORTED),
    (b"", "application/pdf", UNSUPPORTED),
    (pdf(pages=51), "application/pdf",
     "The file you uploaded was too long. Please upload a file with fewer than 50 pages."),
    (pdf(pages=51, compressed=True), "application/pdf",
     "The file you uploaded was too long. Please upload a file with fewer than 50 pages."),
])
def test_upload_refuses_what_dispute_evidence_may_not_be(stripe, data, content_type, message):
    error = error_of(stripe.upload(data, content_type=content_type, expect=400))
    assert (error["type"], error["param"], error["message"]) == \
        ("invalid_request_error", "file", message)
    assert stripe.get("/v1/files", expect=200).json["data"] == []


def test_upload_size_limit_is_5_mib_and_50_pages_pass(stripe):
    assert upload(stripe, pdf(size=5 * MIB))["size"] == 5 * MIB
    error = error_of(stripe.upload(pdf(size=5 * MIB + 1), expect=400))
    assert error["param"] == "file" and "too large" in error["message"]
    assert upload(stripe, pdf(pages=50, compressed=True))["type"] == "pdf"
    assert upload(stripe, pdf(pages=50))["type"] == "pdf"


@pytest.mark.parametrize("fields, files, code, param", [
    ([("purpose", "dispute_evidence")], [], "parameter_missing", "file"),
    ([], [("file", "a.pdf", "application/pdf", pdf())], "parameter_missing", "purpose"),
    ([("purpose", "dispute_evidence"), ("bogus", "1")],
     [("file", "a.pdf", "application/pdf", pdf())], "parameter_unknown", "bogus"),
    ([("purpose", "selfie")], [("file", "a.pdf", "application/pdf", pdf())], None, "purpose"),
    ([("purpose", "identity_document")], [("file", "a.pdf", "application/pdf", pdf())], None,
     "purpose"),
])
def test_upload_params_are_checked(stripe, fields, files, code, param):
    body, content_type = encode_form_data(fields, files)
    error = error_of(stripe.post_raw("/v1/files", body, content_type, expect=400))
    assert (error.get("code"), error.get("param")) == (code, param)


def _multipart(boundary, *parts, close=True):
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--" + boundary + b"--\r\n" if close else b"")


_PURPOSE = b'Content-Disposition: form-data; name="purpose"\r\n\r\ndispute_evidence'
_FILE = b'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n' \
        b'Content-Type: application/pdf\r\n\r\n' + pdf()


@pytest.mark.parametrize("body, content_type", [
    (_multipart(b"b0", _PURPOSE, _FILE), "multipart/form-data"),  # no boundary parameter
    (_multipart(b"b0", _PURPOSE, _FILE), "multipart/form-data; boundary=other"),
    (_multipart(b"b0", _PURPOSE, _FILE, close=False)[:-40], "multipart/form-data; boundary=b0"),
    (_multipart(b"b0", b"X-Nothing: 1\r\n\r\nvalue", _FILE), "multipart/form-data; boundary=b0"),
    (_multipart(b"b0", b'Content-Disposition: form-data; name="purpose"'),
     "multipart/form-data; boundary=b0"),  # no blank line after the headers
    (_multipart(b"b0", b'Content-Disposition: attachment; name="x"\r\n\r\n1'),
     "multipart/form-data; boundary=b0"),
    (_multipart(b"b0", b'Content-Disposition: form-data; name="purpose"\r\n\r\n\xff\xfe'),
     "multipart/form-data; boundary=b0"),
    (_multipart(b"b0", b'Bad header line\r\n\r\n1'), "multipart/form-data; boundary=b0"),
    (b"--b0junk-without-crlf", "multipart/form-data; boundary=b0"),
    (b"", "multipart/form-data; boundary=b0"),
    (b"\x00\xff" * 1000, 'multipart/form-data; boundary="' + "x" * 71 + '"'),
    (_multipart(b"b0", b'Content-Disposition: form-data; name="a[b]"\r\n\r\n1',
                b'Content-Disposition: form-data; name="a[]"\r\n\r\n2'),
     "multipart/form-data; boundary=b0"),  # brackets that cannot be merged
])
def test_bad_multipart_is_a_400_not_a_crash(stripe, body, content_type):
    error = error_of(stripe.post_raw("/v1/files", body, content_type, expect=400))
    assert error["type"] == "invalid_request_error" and error["message"]
    assert stripe.client.request("GET", "/_test/health").status == 200
    assert stripe.get("/v1/files", expect=200).json["data"] == []


def test_multipart_details_that_are_valid(stripe):
    """Preamble, epilogue, quoted boundary, transport padding, escaped quotes, no file type."""
    file_part = b'Content-Disposition: form-data; name="file"; filename="say \\"hi\\".pdf"' \
                b'\r\n\r\n' + pdf()
    body = b"preamble\r\n" + _multipart(b"b 1", _PURPOSE, file_part).replace(
        b"--b 1\r\n", b"--b 1 \t\r\n", 1) + b"epilogue"
    file = stripe.post_raw("/v1/files", body, 'multipart/form-data; boundary="b 1"',
                           expect=200).json
    assert file["filename"] == 'say "hi".pdf' and file["type"] == "pdf"


def test_form_data_only_where_stripe_takes_it(stripe):
    body, content_type = encode_form_data([("amount", "5000"), ("currency", "usd")])
    error = error_of(stripe.post_raw(PIS, body, content_type, expect=400))
    assert "x-www-form-urlencoded" in error["message"]
    missing = error_of(stripe.post("/v1/files", {"purpose": "dispute_evidence"}, expect=400))
    assert (missing["code"], missing["param"]) == ("parameter_missing", "file")
    as_text = error_of(stripe.post("/v1/files", {"purpose": "dispute_evidence", "file": "x"},
                                   expect=400))
    assert as_text["param"] == "file"


def test_file_contents_on_the_files_host_need_the_secret_key(stripe):
    data = pdf(pages=2)
    file = upload(stripe, data)
    auth = {"Authorization": f"Bearer {stripe.key}"}
    got = stripe.client.request("GET", f"/v1/files/{file['id']}/contents", headers=auth)
    assert got.status == 200 and got.body == data
    assert got.header("Content-Type") == "application/pdf"
    assert stripe.client.request("GET", f"/v1/files/{file['id']}/contents").status == 401
    missing = stripe.client.request("GET", "/v1/files/file_nope/contents", headers=auth)
    assert missing.status == 404
    assert json.loads(missing.body)["error"]["code"] == "resource_missing"


def test_list_and_retrieve_files(stripe):
    first, second, third = (upload(stripe, pdf(pages=n)) for n in (1, 2, 3))
    page = stripe.get("/v1/files", {"limit": 2, "purpose": "dispute_evidence"}, expect=200).json
    assert [f["id"] for f in page["data"]] == [third["id"], second["id"]] and page["has_more"]
    rest = stripe.get("/v1/files", {"starting_after": second["id"]}, expect=200).json
    assert [f["id"] for f in rest["data"]] == [first["id"]] and not rest["has_more"]
    assert stripe.get("/v1/files", {"purpose": "identity_document"}, expect=200).json["data"] == []
    missing = error_of(stripe.get("/v1/files/file_nope", expect=404))
    assert (missing["code"], missing["param"], missing["message"]) == \
        ("resource_missing", "file", "No such file upload: 'file_nope'")
    stripe.get(f"/v1/files/{first['id']}", {"expand": ["purpose"]}, expect=400)
    assert stripe.client.request("GET", "/_test/files/file_nope/contents").status == 404
    assert [f["id"] for f in stripe.control("GET", "/_test/files")] == \
        [first["id"], second["id"], third["id"]]


def test_file_link_data_creates_a_link(stripe):
    file = upload(stripe, fields=[("file_link_data[create]", "true"),
                                  ("file_link_data[metadata][claim]", "c1")])
    link = file["links"]["data"][0]
    assert link["object"] == "file_link" and link["file"] == file["id"]
    assert link["metadata"] == {"claim": "c1"} and link["expired"] is False


def test_upload_idempotency_and_request_log(stripe):
    data = pdf()
    first = stripe.upload(data, headers={"Idempotency-Key": "up-1"}, expect=200)
    again = stripe.upload(data, headers={"Idempotency-Key": "up-1"}, expect=200)
    assert again.json["id"] == first.json["id"] and again.header("Idempotent-Replayed") == "true"
    other = error_of(stripe.upload(pdf(pages=2), headers={"Idempotency-Key": "up-1"},
                                   expect=400))
    assert other["type"] == "idempotency_error"
    logged = stripe.control("GET", "/_test/requests")[0]["params"]
    assert logged["purpose"] == "dispute_evidence"
    assert logged["file"].startswith("evidence.pdf (application/pdf, ") and "sha256" in \
        logged["file"]


# ============================================================ refunds
def test_partial_refunds_add_up_to_the_captured_amount(stripe):
    intent, charge_id = captured(stripe)
    first = stripe.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 10000,
                                        "reason": "requested_by_customer",
                                        "metadata": {"hold": "h1"}}, expect=200).json
    assert first["id"].startswith("re_") and first["object"] == "refund"
    assert (first["amount"], first["status"], first["charge"], first["payment_intent"]) == \
        (10000, "succeeded", charge_id, intent["id"])
    assert (first["currency"], first["reason"], first["metadata"]) == \
        ("usd", "requested_by_customer", {"hold": "h1"})
    charge = stripe.get(f"/v1/charges/{charge_id}", expect=200).json
    assert (charge["amount_refunded"], charge["refunded"]) == (10000, False)
    second = stripe.post("/v1/refunds", {"charge": charge_id, "amount": 15000}, expect=200).json
    assert second["amount"] == 15000
    charge = stripe.get(f"/v1/charges/{charge_id}", {"expand": ["refunds"]}, expect=200).json
    assert (charge["amount_refunded"], charge["refunded"]) == (25000, True)
    assert [r["id"] for r in charge["refunds"]["data"]] == [second["id"], first["id"]]
    done = error_of(stripe.post("/v1/refunds", {"payment_intent": intent["id"]}, expect=400))
    assert (done["code"], done["message"]) == \
        ("charge_already_refunded", f"Charge {charge_id} has already been refunded.")
    assert stripe.get(f"{PIS}/{intent['id']}", expect=200).json["status"] == "succeeded"


def test_refund_over_what_is_left_is_refused_with_stripes_message(stripe):
    intent, charge_id = captured(stripe)
    error = error_of(stripe.post("/v1/refunds", {"payment_intent": intent["id"],
                                                 "amount": 25001}, expect=400))
    assert (error["type"], error["param"], error.get("code")) == \
        ("invalid_request_error", "amount", None)
    assert error["message"] == "Refund amount ($250.01) is greater than charge amount ($250.00)"
    stripe.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 10000}, expect=200)
    error = error_of(stripe.post("/v1/refunds", {"charge": charge_id, "amount": 20000},
                                 expect=400))
    assert error["message"] == ("Refund amount ($200.00) is greater than unrefunded amount on "
                                "charge ($150.00)")
    assert stripe.get(f"/v1/charges/{charge_id}", expect=200).json["amount_refunded"] == 10000


def test_refund_after_partial_capture_defaults_to_the_rest(stripe):
    intent, charge_id = captured(stripe, capture=10000)
    refund = stripe.post("/v1/refunds", {"payment_intent": intent["id"]}, expect=200).json
    assert refund["amount"] == 10000
    charge = stripe.get(f"/v1/charges/{charge_id}", expect=200).json
    assert (charge["amount"], charge["amount_captured"], charge["amount_refunded"],
            charge["refunded"]) == (25000, 10000, 10000, True)


def test_refund_needs_a_captured_charge(stripe):
    held = stripe.create(payment_method="pm_card_visa", confirm=True)
    message = f"This PaymentIntent ({held['id']}) does not have a successful charge to refund."
    assert error_of(stripe.post("/v1/refunds", {"payment_intent": held["id"]},
                                expect=400))["message"] == message
    assert error_of(stripe.post("/v1/refunds", {"charge": held["latest_charge"]},
                                expect=400))["message"] == message
    stripe.post(f"{PIS}/{held['id']}/cancel", expect=200)
    stripe.post("/v1/refunds", {"payment_intent": held["id"]}, expect=400)
    fresh = stripe.create()
    stripe.post("/v1/refunds", {"payment_intent": fresh["id"]}, expect=400)
    assert stripe.control("GET", "/_test/refunds") == []


@pytest.mark.parametrize("params, code, param", [
    ({}, "parameter_missing", "payment_intent"),
    ({"payment_intent": "pi_nope"}, "resource_missing", "payment_intent"),
    ({"charge": "ch_nope"}, "resource_missing", "charge"),
    ({"payment_intent": "{pi}", "amount": 0}, None, "amount"),
    ({"payment_intent": "{pi}", "amount": "1.5"}, "parameter_invalid_integer", "amount"),
    ({"payment_intent": "{pi}", "reason": "changed_mind"}, None, "reason"),
    ({"payment_intent": "{pi}", "reverse_transfer": True}, None, "reverse_transfer"),
    ({"payment_intent": "{pi}", "currency": "eur"}, None, "currency"),
    ({"payment_intent": "pi_other", "charge": "{ch}"}, None, "charge"),
    ({"payment_intent": "{pi}", "expand": ["balance_transaction"]}, None, None),
])
def test_refund_rejects_like_stripe(stripe, params, code, param):
    intent, charge_id = captured(stripe)
    filled = {k: v.format(pi=intent["id"], ch=charge_id) if isinstance(v, str) else v
              for k, v in params.items()}
    error = error_of(stripe.post("/v1/refunds", filled, expect=400))
    assert (error.get("code"), error.get("param")) == (code, param)
    assert stripe.get(f"/v1/charges/{charge_id}", expect=200).json["amount_refunded"] == 0


def test_refund_events_once_each_with_the_right_objects(stripe, receiver):
    intent, charge_id = captured(stripe)
    before = len(events(stripe))
    refund = stripe.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 5000},
                         headers={"Idempotency-Key": "rf-1"}, expect=200).json
    replay = stripe.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 5000},
                         headers={"Idempotency-Key": "rf-1"}, expect=200)
    assert replay.json["id"] == refund["id"]
    new = events(stripe)[before:]
    assert [e["type"] for e in new] == ["charge.refunded", "refund.created"]
    charge_event, refund_event = (e["event"] for e in new)
    assert charge_event["data"]["object"]["id"] == charge_id
    assert charge_event["data"]["object"]["amount_refunded"] == 5000
    assert refund_event["data"]["object"]["id"] == refund["id"]
    assert charge_event["request"]["idempotency_key"] == "rf-1"
    for record in new:
        assert not schema_errors(record["event"])
    sent = [json.loads(d["body"]) for d in receiver.wait_for(before + 2)]
    assert [e["type"] for e in sent[before:]] == ["charge.refunded", "refund.created"]
    assert stripe.control("GET", "/_test/refunds")[0]["amount"] == 5000


def test_retrieve_list_and_update_refunds(stripe):
    intent, charge_id = captured(stripe)
    other, _ = captured(stripe)
    first = stripe.post("/v1/refunds", {"charge": charge_id, "amount": 1000}, expect=200).json
    second = stripe.post("/v1/refunds", {"charge": charge_id, "amount": 2000}, expect=200).json
    third = stripe.post("/v1/refunds", {"payment_intent": other["id"]}, expect=200).json
    got = stripe.get(f"/v1/refunds/{first['id']}", {"expand": ["charge", "payment_intent"]},
                     expect=200).json
    assert got["charge"]["id"] == charge_id and got["payment_intent"]["id"] == intent["id"]
    listed = stripe.get("/v1/refunds", {"charge": charge_id}, expect=200).json
    assert [r["id"] for r in listed["data"]] == [second["id"], first["id"]]
    by_intent = stripe.get("/v1/refunds", {"payment_intent": other["id"]}, expect=200).json
    assert [r["id"] for r in by_intent["data"]] == [third["id"]]
    everything = stripe.get("/v1/refunds", {"limit": 2, "expand": ["data.charge"]},
                            expect=200).json
    assert everything["has_more"] and everything["data"][0]["charge"]["object"] == "charge"
    updated = stripe.post(f"/v1/refunds/{first['id']}", {"metadata": {"note": "goodwill"}},
                          expect=200).json
    assert updated["metadata"] == {"note": "goodwill"} and updated["amount"] == 1000
    assert event_types(stripe)[-1] == "refund.updated"
    missing = error_of(stripe.get("/v1/refunds/re_nope", expect=404))
    assert (missing["code"], missing["param"]) == ("resource_missing", "refund")


def test_charges_retrieve_and_update(stripe):
    intent, charge_id = captured(stripe)
    charge = stripe.get(f"/v1/charges/{charge_id}", {"expand": ["payment_intent"]},
                        expect=200).json
    assert charge["payment_intent"]["id"] == intent["id"] and "refunds" not in charge
    updated = stripe.post(f"/v1/charges/{charge_id}", {
        "description": "Damage deposit", "metadata": {"claim": "c-1"},
        "fraud_details": {"user_report": "safe"}}, expect=200).json
    assert updated["description"] == "Damage deposit" and updated["metadata"]["claim"] == "c-1"
    assert updated["fraud_details"] == {"user_report": "safe"}
    last = events(stripe)[-1]
    assert last["type"] == "charge.updated" and not schema_errors(last["event"])
    missing = error_of(stripe.get("/v1/charges/ch_nope", expect=404))
    assert (missing["code"], missing["param"], missing["message"]) == \
        ("resource_missing", "charge", "No such charge: 'ch_nope'")
    stripe.post(f"/v1/charges/{charge_id}", {"customer": "cus_1"}, expect=400)
    stripe.post(f"/v1/charges/{charge_id}", {"amount": 1}, expect=400)


def test_a_refund_can_fail_later(stripe):
    intent, charge_id = captured(stripe, pm="pm_card_refundFail")
    refund = stripe.post("/v1/refunds", {"payment_intent": intent["id"]}, expect=200).json
    assert refund["status"] == "succeeded"  # as Stripe answers; it fails "some time later"
    now_ = stripe.get(f"/v1/refunds/{refund['id']}", expect=200).json
    assert (now_["status"], now_["failure_reason"]) == ("failed", "expired_or_canceled_card")
    assert now_["failure_balance_transaction"].startswith("txn_")
    charge = stripe.get(f"/v1/charges/{charge_id}", expect=200).json
    assert (charge["amount_refunded"], charge["refunded"]) == (0, False)
    assert event_types(stripe)[-4:] == ["charge.refunded", "refund.created", "refund.updated",
                                        "refund.failed"]
    ok_intent, ok_charge = captured(stripe)
    ok = stripe.post("/v1/refunds", {"charge": ok_charge, "amount": 7000}, expect=200).json
    failed = stripe.control("POST", f"/_test/refunds/{ok['id']}/fail",
                            {"failure_reason": "lost_or_stolen_card"})
    assert (failed["status"], failed["failure_reason"]) == ("failed", "lost_or_stolen_card")
    assert stripe.get(f"/v1/charges/{ok_charge}", expect=200).json["amount_refunded"] == 0
    again = stripe.client.request("POST", f"/_test/refunds/{ok['id']}/fail", b"{}")
    assert again.status == 400
    bad = stripe.client.request("POST", f"/_test/refunds/{ok['id']}/fail",
                                b'{"failure_reason": "bored"}')
    assert bad.status == 400
    assert stripe.client.request("POST", "/_test/refunds/re_nope/fail", b"{}").status == 404


# ============================================================ disputes
def test_dispute_test_card_is_disputed_after_capture(stripe):
    intent = stripe.create(payment_method="pm_card_createDispute", confirm=True)
    assert intent["status"] == "requires_capture"
    assert stripe.get("/v1/disputes", expect=200).json["data"] == []
    stripe.post(f"{PIS}/{intent['id']}/capture", expect=200)
    disputes = stripe.get("/v1/disputes", expect=200).json["data"]
    assert len(disputes) == 1
    dispute = disputes[0]
    assert dispute["id"].startswith("du_") and dispute["object"] == "dispute"
    assert (dispute["status"], dispute["reason"], dispute["amount"], dispute["currency"]) == \
        ("needs_response", "fraudulent", 25000, "usd")
    assert (dispute["charge"], dispute["payment_intent"]) == (intent["latest_charge"], intent["id"])
    assert dispute["is_charge_refundable"] is False and dispute["livemode"] is False
    details = dispute["evidence_details"]
    assert (details["has_evidence"], details["past_due"], details["submission_count"]) == \
        (False, False, 0)
    assert abs(details["due_by"] - (time.time() + 7 * 86400)) < 10
    assert all(v is None for k, v in dispute["evidence"].items() if k != "enhanced_evidence")
    withdrawal, = dispute["balance_transactions"]
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (-25000, 1500, -26500)
    assert dispute["payment_method_details"]["card"]["case_type"] == "chargeback"
    assert stripe.get(f"/v1/charges/{intent['latest_charge']}", expect=200).json["disputed"]
    assert event_types(stripe) == [
        "payment_intent.amount_capturable_updated", "charge.captured",
        "payment_intent.succeeded", "charge.dispute.created", "charge.dispute.funds_withdrawn"]
    for record in events(stripe)[-2:]:
        assert record["event"]["data"]["object"]["id"] == dispute["id"]
        assert record["event"]["request"]["id"] is None
        assert not schema_errors(record["event"])


def test_dispute_cards_with_automatic_capture_and_inquiry(stripe):
    base = {"amount": 8000, "currency": "usd", "payment_method_types": ["card"], "confirm": True}
    stripe.post(PIS, dict(base, payment_method="pm_card_createDisputeProductNotReceived"),
                expect=200)
    inquiry_pi = stripe.post(PIS, dict(base, payment_method="pm_card_createDisputeInquiry"),
                             expect=200).json
    product, inquiry = stripe.get("/v1/disputes", expect=200).json["data"][::-1]
    assert (product["reason"], product["status"]) == ("product_not_received", "needs_response")
    assert (inquiry["status"], inquiry["is_charge_refundable"]) == \
        ("warning_needs_response", True)
    assert inquiry["balance_transactions"] == []
    assert event_types(stripe).count("charge.dispute.funds_withdrawn") == 1
    refund = stripe.post("/v1/refunds", {"payment_intent": inquiry_pi["id"]}, expect=200).json
    assert refund["amount"] == 8000  # an inquiry moves no money: the charge stays refundable
    charged_back = error_of(stripe.post("/v1/refunds", {"charge": product["charge"]},
                                        expect=400))
    assert (charged_back["code"], charged_back["message"]) == \
        ("charge_disputed", f"Charge {product['charge']} has been charged back; cannot issue a "
                            "refund.")


def test_evidence_is_staged_then_submitted_once(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge)
    photos = upload(stripe, pdf(pages=4), filename="photos.pdf")
    staged = stripe.post(dispute_path(dispute), {"submit": False, "evidence": {
        "uncategorized_file": photos["id"], "product_description": "3 nights, deposit terms",
        "customer_email_address": "guest@example.com"}}, expect=200).json
    assert staged["status"] == "needs_response"
    assert staged["evidence_details"]["has_evidence"] is True
    assert staged["evidence_details"]["submission_count"] == 0
    again = stripe.post(dispute_path(dispute), {"submit": False, "evidence": {
        "service_date": "2026-09-01 to 2026-09-04", "customer_email_address": ""}},
        expect=200).json
    read = stripe.get(dispute_path(dispute), expect=200).json
    assert read == again
    evidence = read["evidence"]
    assert (evidence["uncategorized_file"], evidence["product_description"],
            evidence["service_date"], evidence["customer_email_address"]) == \
        (photos["id"], "3 nights, deposit terms", "2026-09-01 to 2026-09-04", None)
    submitted = stripe.post(dispute_path(dispute), {"submit": True}, expect=200).json
    assert submitted["status"] == "under_review"
    assert submitted["evidence_details"]["submission_count"] == 1
    assert submitted["evidence"] == evidence
    for params in ({"submit": True}, {"evidence": {"uncategorized_text": "more"}},
                   {"evidence": {"uncategorized_text": "more"}, "submit": False}):
        error = error_of(stripe.post(dispute_path(dispute), params, expect=400))
        assert "under_review" in error["message"]
    tagged = stripe.post(dispute_path(dispute), {"metadata": {"hold": "h1"}}, expect=200).json
    assert tagged["metadata"] == {"hold": "h1"}
    assert tagged["evidence_details"]["submission_count"] == 1
    assert event_types(stripe)[-4:] == ["charge.dispute.updated"] * 4


def test_submit_is_stripes_default_and_needs_evidence(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge)
    empty = error_of(stripe.post(dispute_path(dispute), {"submit": True}, expect=400))
    assert empty["param"] == "evidence"
    sent = stripe.post(dispute_path(dispute), {"evidence": {"uncategorized_text": "see photos"}},
                       expect=200).json
    assert (sent["status"], sent["evidence_details"]["submission_count"]) == ("under_review", 1)


def test_evidence_files_must_exist(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge)
    error = error_of(stripe.post(dispute_path(dispute), {"submit": False, "evidence": {
        "uncategorized_file": "file_nope"}}, expect=400))
    assert (error["code"], error["param"], error["message"]) == \
        ("resource_missing", "evidence[uncategorized_file]", "No such file upload: 'file_nope'")
    unknown = error_of(stripe.post(dispute_path(dispute), {"evidence": {"photos": "x"}},
                                   expect=400))
    assert (unknown["code"], unknown["param"]) == ("parameter_unknown", "evidence[photos]")
    read = stripe.get(dispute_path(dispute), expect=200).json
    assert read["evidence_details"]["has_evidence"] is False


def test_evidence_size_limits(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge)
    long_field = error_of(stripe.post(dispute_path(dispute), {"submit": False, "evidence": {
        "uncategorized_text": "x" * 20001}}, expect=400))
    assert long_field["param"] == "evidence[uncategorized_text]"
    fields = ("access_activity_log", "cancellation_policy_disclosure", "cancellation_rebuttal",
              "duplicate_charge_explanation", "product_description", "refund_policy_disclosure",
              "refund_refusal_explanation", "uncategorized_text")
    too_much = error_of(stripe.post(dispute_path(dispute), {"submit": False, "evidence": {
        name: "y" * 19000 for name in fields}}, expect=400))
    assert too_much["param"] == "evidence" and "150,000" in too_much["message"]
    big, bigger = upload(stripe, pdf(size=2_500_000)), upload(stripe, pdf(size=2_000_001))
    stripe.post(dispute_path(dispute), {"submit": False, "evidence": {
        "uncategorized_file": big["id"], "receipt": big["id"]}}, expect=200)  # counted once
    over = error_of(stripe.post(dispute_path(dispute), {"submit": False, "evidence": {
        "receipt": bigger["id"]}}, expect=400))
    assert over["message"].startswith("The files you've attached to this dispute as evidence "
                                      "will exceed the limit for a dispute's total size.")
    read = stripe.get(dispute_path(dispute), expect=200).json["evidence"]
    assert read["receipt"] == big["id"]  # the refused update changed nothing


def test_close_accepts_the_loss(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge)
    closed = stripe.post(dispute_path(dispute, "close"), expect=200).json
    assert closed["status"] == "lost"
    assert len(closed["balance_transactions"]) == 1  # the withdrawal stays
    assert event_types(stripe)[-1] == "charge.dispute.closed"
    stripe.post(dispute_path(dispute, "close"), expect=400)
    stripe.post(dispute_path(dispute), {"evidence": {"uncategorized_text": "late"}}, expect=400)
    assert stripe.post(dispute_path(dispute), {"metadata": {"k": "v"}}, expect=200).json[
        "status"] == "lost"
    stripe.post("/v1/disputes/du_nope/close", expect=404)


def test_control_decides_won_and_funds_come_back(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge, reason="product_unacceptable", amount=12000)
    assert (dispute["amount"], dispute["reason"]) == (12000, "product_unacceptable")
    stripe.post(dispute_path(dispute), {"evidence": {"uncategorized_text": "photos"}},
                expect=200)
    before = len(events(stripe))
    won = stripe.control("POST", f"/_test/disputes/{dispute['id']}/close", {"outcome": "won"})
    assert won["status"] == "won"
    withdrawal, reinstatement = won["balance_transactions"]
    assert (withdrawal["amount"], reinstatement["amount"]) == (-12000, 12000)
    new = events(stripe)[before:]
    assert [e["type"] for e in new] == ["charge.dispute.funds_reinstated",
                                        "charge.dispute.closed"]
    assert all(e["event"]["data"]["object"]["status"] == "won" for e in new)
    assert stripe.get(dispute_path(dispute), expect=200).json == won
    again = stripe.client.request("POST", f"/_test/disputes/{dispute['id']}/close",
                                  b'{"outcome": "lost"}')
    assert again.status == 400


def test_control_decides_lost(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge)
    lost = stripe.control("POST", f"/_test/disputes/{dispute['id']}/close", {"outcome": "lost"})
    assert lost["status"] == "lost" and len(lost["balance_transactions"]) == 1
    assert event_types(stripe)[-1] == "charge.dispute.closed"
    assert "charge.dispute.funds_reinstated" not in event_types(stripe)


@pytest.mark.parametrize("text, outcome", [("winning_evidence", "won"),
                                           ("losing_evidence", "lost")])
def test_stripes_test_mode_evidence_decides(stripe, text, outcome):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge)
    decided = stripe.post(dispute_path(dispute), {"evidence": {"uncategorized_text": text}},
                          expect=200).json
    assert decided["status"] == outcome
    assert decided["evidence_details"]["submission_count"] == 1
    types = event_types(stripe)
    assert types[-1] == "charge.dispute.closed" and types.count("charge.dispute.closed") == 1
    staged = open_dispute(stripe, captured(stripe)[1])
    kept = stripe.post(dispute_path(staged), {"submit": False, "evidence": {
        "uncategorized_text": text}}, expect=200).json
    assert kept["status"] == "needs_response"  # only a submission decides


def test_inquiry_escalates_or_closes(stripe):
    _, charge = captured(stripe)
    inquiry = open_dispute(stripe, charge, status="warning_needs_response")
    assert inquiry["payment_method_details"]["card"]["case_type"] == "inquiry"
    bad = stripe.client.request("POST", f"/_test/disputes/{inquiry['id']}/close",
                                b'{"outcome": "lost"}')
    assert bad.status == 400
    chargeback = stripe.control("POST", f"/_test/disputes/{inquiry['id']}/escalate")
    assert (chargeback["status"], chargeback["is_charge_refundable"]) == ("needs_response", False)
    assert event_types(stripe)[-2:] == ["charge.dispute.updated",
                                        "charge.dispute.funds_withdrawn"]
    _, other = captured(stripe)
    second = open_dispute(stripe, other, status="warning_needs_response")
    closed = stripe.post(dispute_path(second, "close"), expect=200).json
    assert closed["status"] == "warning_closed"
    submitted = open_dispute(stripe, captured(stripe)[1], status="warning_needs_response")
    review = stripe.post(dispute_path(submitted), {"evidence": {"uncategorized_text": "x"}},
                         expect=200).json
    assert review["status"] == "warning_under_review"
    settled = stripe.control("POST", f"/_test/disputes/{submitted['id']}/close",
                             {"outcome": "won"})
    assert settled["status"] == "warning_closed"


def test_control_open_checks(stripe):
    held = stripe.create(payment_method="pm_card_visa", confirm=True)
    raw = stripe.client.request
    uncaptured = raw("POST", f"/_test/charges/{held['latest_charge']}/dispute", b"{}")
    assert uncaptured.status == 400 and "captured" in uncaptured.json["error"]
    assert raw("POST", "/_test/charges/ch_nope/dispute", b"{}").status == 404
    _, charge = captured(stripe, amount=9000)
    for body in (b'{"reason": "bored"}', b'{"amount": 9001}', b'{"amount": 0}',
                 b'{"status": "won"}', b'{"due_by": "soon"}', b'{"colour": "red"}'):
        assert raw("POST", f"/_test/charges/{charge}/dispute", body).status == 400, body
    open_dispute(stripe, charge)
    assert raw("POST", f"/_test/charges/{charge}/dispute", b"{}").status == 400
    assert raw("POST", "/_test/disputes/du_nope/close", b'{"outcome": "won"}').status == 404


def test_past_due_submission(stripe):
    _, charge = captured(stripe)
    dispute = open_dispute(stripe, charge, due_by=int(time.time()) - 60)
    late = stripe.post(dispute_path(dispute), {"evidence": {"uncategorized_text": "late"}},
                       expect=200).json
    assert late["evidence_details"]["past_due"] is True
    none_due = open_dispute(stripe, captured(stripe)[1], due_by=None)
    assert none_due["evidence_details"]["due_by"] is None


def test_list_and_expand_disputes(stripe):
    first_pi, first_charge = captured(stripe)
    second_pi, second_charge = captured(stripe)
    first, second = open_dispute(stripe, first_charge), open_dispute(stripe, second_charge)
    listed = stripe.get("/v1/disputes", expect=200).json["data"]
    assert [d["id"] for d in listed] == [second["id"], first["id"]]
    by_charge = stripe.get("/v1/disputes", {"charge": first_charge}, expect=200).json["data"]
    by_intent = stripe.get("/v1/disputes", {"payment_intent": second_pi["id"]},
                           expect=200).json["data"]
    assert [d["id"] for d in by_charge] == [first["id"]]
    assert [d["id"] for d in by_intent] == [second["id"]]
    file = upload(stripe)
    stripe.post(dispute_path(first), {"submit": False,
                                      "evidence": {"uncategorized_file": file["id"]}}, expect=200)
    expanded = stripe.get(dispute_path(first), {"expand": [
        "charge", "payment_intent", "evidence.uncategorized_file"]}, expect=200).json
    assert expanded["charge"]["id"] == first_charge
    assert expanded["payment_intent"]["id"] == first_pi["id"]
    assert expanded["evidence"]["uncategorized_file"]["id"] == file["id"]
    in_list = stripe.get("/v1/disputes", {"expand": ["data.charge"], "limit": 1},
                         expect=200).json
    assert in_list["has_more"] and in_list["data"][0]["charge"]["object"] == "charge"
    stripe.get(dispute_path(first), {"expand": ["evidence"]}, expect=400)
    missing = error_of(stripe.get("/v1/disputes/du_nope", expect=404))
    assert (missing["code"], missing["param"]) == ("resource_missing", "dispute")


def test_dispute_webhooks_are_signed(stripe, receiver):
    _, charge = captured(stripe)
    open_dispute(stripe, charge)
    deliveries = receiver.wait_for(5)
    sent = []
    for delivery in deliveries:
        assert verify_stripe_signature(delivery["body"], delivery["headers"]["Stripe-Signature"],
                                       SECRET)
        sent.append(json.loads(delivery["body"]))
    assert [e["type"] for e in sent][-2:] == ["charge.dispute.created",
                                              "charge.dispute.funds_withdrawn"]
    assert sent[-1]["data"]["object"]["object"] == "dispute"


def test_reset_forgets_claims(stripe):
    _, charge = captured(stripe)
    upload(stripe)
    open_dispute(stripe, charge)
    stripe.control("POST", "/_test/reset")
    for path in ("/_test/files", "/_test/refunds", "/_test/disputes"):
        assert stripe.control("GET", path) == []


# ============================================================ currencies
@pytest.mark.parametrize("currency, minimum, shown", [
    ("usd", 50, "$0.50"), ("eur", 50, "€0.50"), ("gbp", 30, "£0.30"), ("cad", 50, "$0.50"),
    ("aud", 50, "$0.50"), ("jpy", 50, "¥50")])
def test_currencies_and_their_minimums(stripe, currency, minimum, shown):
    intent = stripe.create(amount=minimum, currency=currency.upper())
    assert (intent["amount"], intent["currency"]) == (minimum, currency)
    error = error_of(stripe.post(PIS, {"amount": minimum - 1, "currency": currency,
                                       "payment_method_types": ["card"]}, expect=400))
    assert (error["code"], error["param"], error["message"]) == \
        ("amount_too_small", "amount", f"Amount must be at least {shown} {currency}")


def test_jpy_is_zero_decimal_through_capture_and_refund(stripe):
    intent = stripe.create(amount=12000, currency="jpy", payment_method="pm_card_visa",
                           confirm=True)
    small = error_of(stripe.post(f"{PIS}/{intent['id']}/capture", {"amount_to_capture": 49},
                                 expect=400))
    assert (small["code"], small["param"], small["message"]) == \
        ("amount_too_small", "amount_to_capture", "Amount must be at least ¥50 jpy")
    done = stripe.post(f"{PIS}/{intent['id']}/capture", {"amount_to_capture": 5000},
                       expect=200).json
    assert (done["amount_received"], done["currency"]) == (5000, "jpy")
    error = error_of(stripe.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 6000},
                                 expect=400))
    assert error["message"] == "Refund amount (¥6,000) is greater than charge amount (¥5,000)"
    refund = stripe.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 1},
                         expect=200).json
    assert (refund["amount"], refund["currency"]) == (1, "jpy")  # refunds have no minimum
    dispute = open_dispute(stripe, done["latest_charge"])
    assert (dispute["amount"], dispute["currency"]) == (4999, "jpy")


def test_capture_below_the_minimum_is_refused_in_every_currency(stripe):
    intent = stripe.create(amount=5000, currency="gbp", payment_method="pm_card_visa",
                           confirm=True)
    error = error_of(stripe.post(f"{PIS}/{intent['id']}/capture", {"amount_to_capture": 29},
                                 expect=400))
    assert error["message"] == "Amount must be at least £0.30 gbp"
    ok = stripe.post(f"{PIS}/{intent['id']}/capture", {"amount_to_capture": 30}, expect=200)
    assert ok.json["amount_received"] == 30


def test_key_is_never_in_the_files_log(stripe):
    upload(stripe)
    assert KEY not in json.dumps(stripe.control("GET", "/_test/requests"))
