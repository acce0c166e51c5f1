// POST /webhook: Stripe events, verified, applied exactly once, in any order.
//
// Verification is webhook::VerifyStripeSignature over the raw body. The effect of an
// event is to set the cached hold to Stripe's state: a payment_intent.* event carries
// the PaymentIntent, which is stored unless it would move the hold backwards (then the
// PaymentIntent is re-read from Stripe); a charge.* event makes us re-read the
// PaymentIntent. A terminal hold (succeeded, canceled) never leaves its state. The event
// id is remembered (7 days) only after the effect is stored; a repeat is answered
// {"received":true,"duplicate":true} with no effect. A failure while applying is a 5xx,
// so Stripe retries. Events for PaymentIntents this service did not create: 200, ignored.
#pragma once

#include "http/handler.h"
#include "core/metrics.h"
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
