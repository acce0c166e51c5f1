// Stripe's error answers, translated into the contract's errors (CONTRACT.md) at the
// boundary; nothing above stripe/ sees a Stripe status, type or code.
//
//   402 or type card_error            → kPaymentDeclined "card_declined" (id = the PI)
//   code payment_intent_unexpected_state, charge_expired_for_capture,
//        capture_charge_authorization_expired → kConflict "hold_not_capturable" (id = PI)
//   code amount_too_large              → kInvalidArgument "capture_exceeds_capturable"
//   404 code resource_missing          → kNotFound "not_found"
//   type idempotency_error (400/404)   → kUnprocessable "idempotency_key_reused"
//   409                                → kConflict "idempotency_key_in_use"
//   401 / 403 (our key refused), 429, 5xx, any other answer → kUpstream "upstream_error"
// Any body is accepted, garbage included. Messages are our own sentences except the
// decline message and the generic 4xx case, which carry Stripe's message after dropping
// control characters and anything that looks like a card number, cut to 200 bytes. The
// 401 message is never Stripe's (it echoes part of the key).
// Pure function; thread-safe.
#pragma once

#include <string_view>

#include "core/result.h"

namespace cc::stripe {

// http_status: the status of a non-2xx answer; body: its raw bytes.
Error MapStripeError(long http_status, std::string_view body);  // NOLINT(google-runtime-int)

// POST /v1/refunds' errors: over-refunding (code charge_already_refunded or
// amount_too_large, or Stripe's code-less 400 on param `amount` "… is greater than …")
// → kConflict "refund_exceeds_captured"; "does not have a successful charge to refund"
// → kConflict "hold_not_refundable"; anything else as MapStripeError.
Error MapRefundError(long http_status, std::string_view body);  // NOLINT(google-runtime-int)

// POST /v1/files' errors: a 400 on param `file` (a type, size or page count Stripe refuses)
// → kInvalidArgument "invalid_request" param file, with Stripe's message sanitized as
// above; anything else as MapStripeError (5xx → kUpstream "upstream_error").
Error MapFileError(long http_status, std::string_view body);  // NOLINT(google-runtime-int)

}  // namespace cc::stripe
