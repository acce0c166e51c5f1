// POST /webhook: Stripe events, verified, delivered at least once and in any order, with
// an idempotent effect.
//
// Verification is webhook::VerifyStripeSignature over the raw body. The effect of an
// event is to set the cached hold to Stripe's state: a payment_intent.* event carries
// the PaymentIntent, which is stored unless it would move the hold backwards (then the
// PaymentIntent is re-read from Stripe); a charge.* event makes us re-read the
// PaymentIntent. A terminal hold (succeeded, canceled) never leaves its state. So applying
// one event twice leaves the same hold as applying it once.
// The event id is remembered (7 days) only after the effect is stored, and a repeat seen
// there is answered {"received":true,"duplicate":true} without applying it again. That
// memo is a memcached get, then a set after the effect: not atomic, so two concurrent
// deliveries of one event, a delivery after a memcached flush, or any delivery while
// memcached is down may each apply it; that is harmless because the effect is idempotent.
// A failure while applying is a 5xx, so Stripe retries. Events for PaymentIntents this
// service did not create: 200, ignored.
#pragma once

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
                              WebhookNote* note = nullptr);

// Lifecycle order of PaymentIntent statuses (terminal ones last).
int StatusRank(std::string_view status);

}  // namespace cc::webhooks
