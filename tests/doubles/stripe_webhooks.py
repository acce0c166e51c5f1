"""Events and webhook delivery for the Stripe double.

- ``EventHub.create`` builds a Stripe-shaped event and, when an endpoint is
  configured, queues it; the caller holds the shared lock and nothing here waits
  on the network while holding it.
- One background thread delivers queued events: POST with ``Stripe-Signature:
  t=<now>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` (one v1 per configured
  secret, the whole secret string is the key), a failure (non-2xx, error,
  timeout) is retried ``retries`` times, ``retry_delay_ms`` apart, re-signed each
  time. Deliveries are never made from an API request's thread.
- Paused endpoints hold events until ``flush`` (optionally reversed/duplicated),
  which is how tests provoke out-of-order and repeated delivery.
"""

import heapq
import hmac
import http.client
import itertools
import ssl
import threading
import time
from hashlib import sha256
from urllib.parse import urlsplit

from double_http import json_bytes
from stripe_model import WEBHOOK_API_VERSION, new_id, now

DELIVERY_TIMEOUT_S = 10


def signature(payload, secret, timestamp):
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, sha256).hexdigest()


def signature_header(payload, secrets, timestamp):
    signatures = [f"v1={signature(payload, secret, timestamp)}" for secret in secrets]
    return ",".join([f"t={timestamp}"] + signatures)


class EventRecord:
    def __init__(self, event, payload, state):
        self.event = event
        self.payload = payload
        self.state = state  # no_endpoint | held | pending | delivered | failed
        self.deliveries = []

    def view(self):
        return {"id": self.event["id"], "type": self.event["type"], "state": self.state,
                "deliveries": list(self.deliveries), "event": self.event}


class EventHub:
    def __init__(self, condition, url=None, secrets=(), **settings):
        self.cond = condition  # shares the app's single lock
        self.url = url
        self.secrets = list(secrets)
        self.paused = False
        self.delay_ms = 0
        self.retries = 3
        self.retry_delay_ms = 200
        self.configure(**settings)
        self._order = itertools.count()
        self._generation = 0
        self._in_flight = 0  # deliveries the thread is making right now (survives reset)
        self._clear()
        threading.Thread(target=self._deliver_forever, name="webhooks", daemon=True).start()

    def _clear(self):
        self.events = []
        self._by_id = {}
        self._held = []
        self._queue = []

    # ---- called with the lock held ----
    def configure(self, url=..., secrets=..., paused=None, delay_ms=None, retries=None,
                  retry_delay_ms=None):
        if url is not ...:
            self.url = url or None
        if secrets is not ...:
            self.secrets = list(secrets)
        for name, value in (("paused", paused), ("delay_ms", delay_ms), ("retries", retries),
                            ("retry_delay_ms", retry_delay_ms)):
            if value is not None:
                setattr(self, name, value)

    def settings(self):
        return {"url": self.url, "secrets_configured": len(self.secrets), "paused": self.paused,
                "delay_ms": self.delay_ms, "retries": self.retries,
                "retry_delay_ms": self.retry_delay_ms, "held": len(self._held),
                "queued": len(self._queue), "in_flight": self._in_flight}

    def reset(self):
        self._generation += 1
        self._clear()
        self.cond.notify_all()

    def create(self, event_type, obj, request_id=None, idempotency_key=None):
        endpoint = bool(self.url)
        event = {"id": new_id("evt_"), "object": "event", "api_version": WEBHOOK_API_VERSION,
                 "created": now(), "data": {"object": obj}, "livemode": False,
                 "pending_webhooks": 1 if endpoint else 0,
                 "request": {"id": request_id, "idempotency_key": idempotency_key},
                 "type": event_type}
        record = EventRecord(event, json_bytes(event), "pending" if endpoint else "no_endpoint")
        self.events.append(record)
        self._by_id[event["id"]] = record
        if endpoint and self.paused:
            record.state = "held"
            self._held.append(record)
        elif endpoint:
            self._schedule(record, self.delay_ms)
        return record

    def flush(self, order="fifo", duplicate=False):
        held, self._held = self._held, []
        if order == "reverse":
            held.reverse()
        for record in held:
            for _ in range(2 if duplicate else 1):
                self._schedule(record, 0)
        return len(held)

    def resend(self, event_id):
        record = self._by_id.get(event_id)
        if record:
            self._schedule(record, 0)
        return record

    def get(self, event_id):
        return self._by_id.get(event_id)

    def _schedule(self, record, delay_ms, attempt=1):
        record.state = "pending"
        due = time.monotonic() + delay_ms / 1000
        heapq.heappush(self._queue, (due, next(self._order), record, attempt, self._generation))
        self.cond.notify_all()

    # ---- called WITHOUT the lock ----
    def drain(self, timeout_s):
        """Wait until nothing is queued or being sent (held events do not count)."""
        with self.cond:
            return self.cond.wait_for(lambda: not self._queue and not self._in_flight, timeout_s)

    def _deliver_forever(self):
        while True:
            job = self._next_job()
            outcome = self._post(*job[:3])
            self._record(job, outcome)

    def _next_job(self):
        with self.cond:
            while True:
                if self._queue and self.url:
                    wait = self._queue[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, record, attempt, generation = heapq.heappop(self._queue)
                        self._in_flight += 1
                        return record, self.url, list(self.secrets), attempt, generation
                    self.cond.wait(wait)
                else:
                    self.cond.wait()

    def _post(self, record, url, secrets):
        timestamp = int(time.time())
        header = signature_header(record.payload, secrets, timestamp)
        started = time.time()
        try:
            status = _http_post(url, record.payload, header)
            error = None
        except (OSError, http.client.HTTPException) as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        return {"at": started, "timestamp": timestamp, "status": status, "error": error,
                "duration_ms": round((time.time() - started) * 1000, 1), "signature": header}

    def _record(self, job, outcome):
        record, _, _, attempt, generation = job
        with self.cond:
            self._in_flight -= 1
            outcome["attempt"] = attempt
            record.deliveries.append(outcome)
            ok = outcome["status"] is not None and 200 <= outcome["status"] < 300
            if ok:
                record.state = "delivered"
            elif attempt <= self.retries and generation == self._generation:
                due = time.monotonic() + self.retry_delay_ms / 1000
                job = (due, next(self._order), record, attempt + 1, generation)
                heapq.heappush(self._queue, job)
            else:
                record.state = "failed"
            self.cond.notify_all()


def _unverified_tls():
    """The receiver is a local test stack with a self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_UNVERIFIED_TLS = _unverified_tls()


def _http_post(url, payload, signature_value):
    parts = urlsplit(url)
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443,
                                           timeout=DELIVERY_TIMEOUT_S, context=_UNVERIFIED_TLS)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                          timeout=DELIVERY_TIMEOUT_S)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
               "Accept": "*/*; q=0.5, application/xml", "Cache-Control": "no-cache",
               "Stripe-Signature": signature_value}
    try:
        conn.request("POST", path, body=payload, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
