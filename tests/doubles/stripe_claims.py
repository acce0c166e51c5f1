"""The claims part of the Stripe double in one place: files, refunds, charges and
disputes (stripe_files, stripe_refunds, stripe_disputes), their /v1 handlers,
their /_test control endpoints and the event hook, so that stripe_double.py
only has to plug ``Claims`` in (see the "claims" lines there).

    claims = Claims(model, emit)
    handlers.update(claims.api_handlers())          # (method, spec path) → handler
    for method, pattern, handler in claims.control_routes(): router.add(...)
    claims.on_event(event_type, obj)                # after every emitted event
    claims.reset()

Handlers run under StripeApp's lock, like stripe_model's.
"""

from double_http import Response
from stripe_disputes import Disputes, install_test_cards
from stripe_files import FileStore
from stripe_model import TEST_PAYMENT_METHODS, RequestContext
from stripe_refunds import FAILURE_REASONS, Refunds


class Claims:
    def __init__(self, model, emit):
        install_test_cards(TEST_PAYMENT_METHODS)
        self.files = FileStore()
        self.disputes = Disputes(model, self.files, emit)
        self.refunds = Refunds(model, emit, self.disputes.for_charge)

    def reset(self):
        for store in (self.files, self.disputes, self.refunds):
            store.reset()

    def on_event(self, event_type, obj):
        if event_type == "payment_intent.succeeded":
            self.disputes.on_intent_succeeded(obj, RequestContext())

    # ------------------------------------------------------------ /v1
    def api_handlers(self):
        files, refunds, disputes = self.files, self.refunds, self.disputes
        return {
            ("POST", "/v1/files"): lambda ids, p, ctx: files.create(p, ctx),
            ("GET", "/v1/files"): lambda ids, p, ctx: files.list(p, ctx),
            ("GET", "/v1/files/{file}"): lambda ids, p, ctx: files.retrieve(ids["file"], p, ctx),
            ("POST", "/v1/refunds"): lambda ids, p, ctx: refunds.create(p, ctx),
            ("GET", "/v1/refunds"): lambda ids, p, ctx: refunds.list(p, ctx),
            ("GET", "/v1/refunds/{refund}"):
                lambda ids, p, ctx: refunds.retrieve(ids["refund"], p, ctx),
            ("POST", "/v1/refunds/{refund}"):
                lambda ids, p, ctx: refunds.update(ids["refund"], p, ctx),
            ("GET", "/v1/charges/{charge}"):
                lambda ids, p, ctx: refunds.retrieve_charge(ids["charge"], p, ctx),
            ("POST", "/v1/charges/{charge}"):
                lambda ids, p, ctx: refunds.update_charge(ids["charge"], p, ctx),
            ("GET", "/v1/disputes"): lambda ids, p, ctx: disputes.list(p, ctx),
            ("GET", "/v1/disputes/{dispute}"):
                lambda ids, p, ctx: disputes.retrieve(ids["dispute"], p, ctx),
            ("POST", "/v1/disputes/{dispute}"):
                lambda ids, p, ctx: disputes.update(ids["dispute"], p, ctx),
            ("POST", "/v1/disputes/{dispute}/close"):
                lambda ids, p, ctx: disputes.close(ids["dispute"], p, ctx),
        }

    # ------------------------------------------------------------ /_test
    def control_routes(self):
        one = "/(?P<id>[^/]+)"
        return [
            ("GET", "/_test/files", lambda body: [f.obj for f in self.files.files.values()]),
            ("GET", "/_test/files" + one + "/contents", self._c_file_contents),
            ("GET", "/_test/refunds", lambda body: list(self.refunds.refunds.values())),
            ("POST", "/_test/refunds" + one + "/fail", self._c_fail_refund),
            ("GET", "/_test/disputes", lambda body: list(self.disputes.disputes.values())),
            ("POST", "/_test/charges" + one + "/dispute", self._c_open_dispute),
            ("POST", "/_test/disputes" + one + "/escalate",
             lambda body, id: self.disputes.escalate(id, RequestContext())),  # noqa: A006
            ("POST", "/_test/disputes" + one + "/close", self._c_close_dispute),
        ]

    def _c_file_contents(self, body, id):  # noqa: A002 (route group name)
        stored = self.files.get(id)
        return Response(200, stored.data, [("Content-Type", stored.mime)])

    def _c_fail_refund(self, body, id):  # noqa: A002
        reason = body.get("failure_reason", "expired_or_canceled_card")
        if reason not in FAILURE_REASONS:
            raise ValueError(f"failure_reason must be one of {', '.join(FAILURE_REASONS)}")
        return self.refunds.fail(id, reason, RequestContext())

    def _c_open_dispute(self, body, id):  # noqa: A002
        unknown = set(body) - {"reason", "amount", "status", "due_by"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        due_by = body.get("due_by", ...)
        if due_by is not ... and due_by is not None and (
                not isinstance(due_by, int) or isinstance(due_by, bool) or due_by < 0):
            raise ValueError("due_by must be a unix time, 0 or null")
        return self.disputes.open(id, RequestContext(), reason=body.get("reason", "fraudulent"),
                                  amount=body.get("amount"),
                                  status=body.get("status", "needs_response"), due_by=due_by)

    def _c_close_dispute(self, body, id):  # noqa: A002
        return self.disputes.decide(id, body.get("outcome"), RequestContext())
