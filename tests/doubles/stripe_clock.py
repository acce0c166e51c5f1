"""The Stripe double's notion of "now", and what happens when it moves.

Stripe's own test clocks drive Billing objects only, never PaymentIntents or
Charges (STRIPE-NEXT §10): in test mode an authorization lapses after real
days. The double therefore has one process-wide clock that tests can move
forward (``POST /_test/clock``); every time the double writes down (``created``
of intents, charges, payment methods, customers, setup intents and events,
``canceled_at``, ``capture_before``, the age of idempotency keys) is read from
it. ``Stripe-Signature`` timestamps stay wall-clock time: the receiver checks
them against its own clock.

``now() = wall clock + offset``; the offset only grows (a clock never goes
back, like Stripe's test clocks). While the double replays something that
happened in the past of "now" (an authorization that lapsed at its
``capture_before``) the clock is *pinned* to that moment, so the objects and
events it writes carry the time it happened.

One clock per process: the double is one app per process. Not thread-safe on
its own; callers hold the app's lock (stripe_double.StripeApp.lock).
"""

import contextlib
import time

__all__ = ["CLOCK", "Clock", "lapse_due"]


class Clock:
    def __init__(self):
        self.offset_s = 0
        self._pinned = None

    def time(self):
        """Seconds since the epoch as a float (for ages: idempotency keys)."""
        return self._pinned if self._pinned is not None else time.time() + self.offset_s

    def now(self):
        """Unix seconds, what Stripe's objects carry."""
        return int(self.time())

    def advance(self, seconds):
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset_s += seconds
        return self.now()

    def advance_to(self, when):
        return self.advance(max(0, when - self.now()))

    def reset(self):
        self.offset_s = 0
        self._pinned = None

    @contextlib.contextmanager
    def pinned(self, when):
        """Make ``now()`` answer ``when`` inside the block."""
        previous, self._pinned = self._pinned, when
        try:
            yield
        finally:
            self._pinned = previous

    def view(self):
        return {"now": self.now(), "offset_s": self.offset_s, "wall_clock": int(time.time())}


CLOCK = Clock()


def lapse_due(model, ctx, clock=CLOCK):
    """Let every authorization whose ``capture_before`` has passed lapse, oldest first.

    A PaymentIntent in ``requires_capture`` whose latest charge's
    ``payment_method_details.card.capture_before`` is <= now becomes
    ``canceled`` (``cancellation_reason: expired``, rendered ``automatic``
    before 2025-03-31) with events ``charge.expired`` then
    ``payment_intent.canceled``, all stamped with the ``capture_before``
    moment; ``ctx`` is a RequestContext without a request (the events'
    ``request.id`` is null). → the ids of the lapsed intents.
    """
    now = clock.now()
    due = []
    for intent in model.intents.values():
        if intent.pi["status"] != "requires_capture" or not intent.pi["latest_charge"]:
            continue
        card = model.charges[intent.pi["latest_charge"]]["payment_method_details"]["card"]
        deadline = card.get("capture_before")
        if deadline is not None and deadline <= now:
            due.append((deadline, intent.seq, intent.pi["id"]))
    lapsed = []
    for deadline, _, intent_id in sorted(due):
        with clock.pinned(deadline):
            model.expire(intent_id, ctx)
        lapsed.append(intent_id)
    return lapsed

