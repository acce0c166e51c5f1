// POST /webhook: Stripe events, verified, delivered at least once and in any order, with
// one effect (CONTRACT.md, Part 2, "Webhooks, exactly once").
//
// Verification is webhook::VerifyStripeSignature over the raw body. An event is a signal,
// never a source of state: a payment_intent.* or charge.* event makes the service re-read
// the PaymentIntent from Stripe and record Stripe's answer (holds/journal.h: SyncHold),
// so a validly signed but stale or forged body changes nothing, and neither sets a
// hold's owner, amount or status. The effect is idempotent by construction: the audit
// event of a transition has an id derived from it, and the ledger keeps one per id.
// After the effect, the event id is recorded in the ledger (webhook_events, atomic): the
// delivery that records it answers {"received":true}, every other delivery of the same
// event — concurrent, after a memcached flush, after a restart — answers
// {"received":true,"duplicate":true}. A memcached memo of the id (7 days) spares the
// Stripe re-read for most repeats; it is only a shortcut.
// Ledger down, or Stripe unreachable while re-reading: 503/5xx, so Stripe retries.
// Events for PaymentIntents this service did not create: 200, ignored.
#pragma once

#include "core/json.h"
#include "core/metrics.h"
#include "http/handler.h"
#include "http/http.h"

namespace cc::webhooks {

inline constexpr uint32_t kEventMemoryTtl = 7U * 24U * 3600U;

// What happened to one delivery, for metrics.
struct WebhookNote {
  std::string type;  // the event's type, "" when the body was not read
  metrics::WebhookResult result = metrics::WebhookResult::kInvalid;
};

http::Response ReceiveWebhook(const http::Deps& deps, const http::Request& request, int64_t now,
                              std::string_view request_id, WebhookNote* note = nullptr);

// One Stripe event (a verified delivery, or one the reconciler read from GET /v1/events),
// through the one exactly-once path above: re-read, record, then the event id.
struct AppliedEvent {
  std::string type;
  bool duplicate = false;  // its id was recorded before: nothing was done
  bool ignored = false;    // not about one of our holds
};
Result<AppliedEvent> ApplyStripeEvent(const http::Deps& deps, const rapidjson::Value& event,
                                      int64_t now, std::string_view request_id);

// Lifecycle order of PaymentIntent statuses (terminal ones last).
int StatusRank(std::string_view status);

}  // namespace cc::webhooks
