// The reconciler: repairs the service's own records, run every
// CHITTYCHARGE_RECONCILE_SECONDS by one background thread per worker process.
//
// 1. Unfinished Stripe intents (CONTRACT.md, "Audit trail"): an intent still pending
//    intent_grace_s after it began lost its worker (or the ledger) between Stripe's answer
//    and the record. Stripe's state settles it: a create is looked up by the ChittyID it
//    sent (Stripe search), a capture or cancel by re-reading its PaymentIntent; what
//    Stripe did is recorded (hold row, audit event — the same ids the worker would have
//    used, so nothing is recorded twice) and the intent finished; what Stripe did not do
//    finishes the intent as failed (a create only once 10 minutes have passed, beyond
//    search's lag). Nothing is ever POSTed to Stripe again: no money moves twice.
// 2. Open holds: the ledger's non-terminal holds not compared for RECONCILE_INTERVAL_S
//    (Ledger::LeaseDueChecks: the longest waiting first, each taken by one caller; at
//    most 500 a pass and RECONCILE_RATE_PER_S Stripe reads a second) are compared with
//    Stripe (the chain's current PaymentIntent), and a change made
//    elsewhere (Dashboard, lapsed authorization) is recorded as the webhook would have:
//    one event, whichever of the two sees it first.
// 3. PENDING ChittyIDs, below.
//
// A hold created while ChittyID was down carries metadata chitty_id_state=pending.
// ReconcileOnce() — run every few seconds by one background thread per worker process —
// takes a pool-wide memcached lock (so one process mints at a time), finds pending
// holds with Stripe search (which may lag a hold created in the last minute), mints an id for each,
// and writes chitty_id=<new>, chitty_id_pending=<old> and removes chitty_id_state in one Stripe
// update; the cache learns both ids, so the old PENDING id still finds the hold.
// With ChittyID still down it does nothing. Not thread-safe: one caller.
#pragma once

#include <cstdint>
#include <stop_token>

#include "http/handler.h"

namespace cc::jobs {

inline constexpr uint32_t kReconcileLockTtl = 20;

struct ReconcileReport {
  int resolved = 0;  // replaced, or found no longer pending
  int failed = 0;
  int intents_finished = 0;  // unfinished intents settled from Stripe's state
  int holds_checked = 0;     // open holds compared with Stripe
  int holds_imported = 0;    // by the backfill
  bool skipped = false;      // ChittyID down, or another process holds the lock
};

// Imports every hold of the configured clients that Stripe has and the ledger lacks
// (Stripe search by metadata client, all pages); each one's trail starts with a
// `reconciled` event (a hold made in the last 10 minutes: `created`). Idempotent. The
// reconciler runs it on its first open-holds pass when the ledger holds nothing.
Result<int> Backfill(const http::Deps& deps, int64_t now);

// The ledger's cursor in Stripe's event list (job state "stripe_events_cursor").
inline constexpr std::string_view kEventsCursor = "stripe_events_cursor";

// Catches up on webhooks the endpoint missed: GET /v1/events newer than the cursor, oldest
// first, each through webhooks::ApplyStripeEvent (the same exactly-once path as a
// delivery, so an event both delivered and read here has one effect); the cursor moves
// past each event once it is applied. The first pass (no cursor) only notes the newest
// event: older history is the backfill's. Stops at a failure (the next pass resumes at
// the cursor), after `max_events`, or on `stop`. Answers the events applied.
Result<int> CatchUpEvents(const http::Deps& deps, int64_t now, int max_events = 1000,
                          const std::stop_token& stop = {});

// One pass; `open_holds` adds step 2 (the caller runs it every RECONCILE_INTERVAL_S).
// `stop` ends the pass early (between Stripe calls): the worker's shutdown does not wait
// for a rate-limited comparison of many holds.
ReconcileReport ReconcileOnce(const http::Deps& deps, int64_t now, bool open_holds = false,
                              const std::stop_token& stop = {});

}  // namespace cc::jobs
