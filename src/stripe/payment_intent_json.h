// Reading Stripe's PaymentIntent JSON (API responses and webhook events' data.object)
// into the typed PaymentIntent of stripe_api.h.
//
// Every access is type-checked (RapidJSON's asserts vanish in release builds). `id` and
// `status` are required strings and `amount` a required integer; every other field may be
// missing or null and then keeps its default. A field present with the wrong type is an
// error, never a silent zero. `latest_charge` may be an id or an expanded Charge (then its
// id, amount_refunded and payment_method_details.card.capture_before are read); metadata keeps
// string values only. Errors are kUpstream "upstream_error" (Stripe answered something we cannot
// read); callers reading webhooks remap them. Messages name the field, never echo values.
// Pure functions; thread-safe.
#pragma once

#include <rapidjson/document.h>

#include <string_view>

#include "core/result.h"
#include "stripe/stripe_api.h"

namespace cc::stripe {

Result<PaymentIntent> ParsePaymentIntent(const rapidjson::Value& object);
Result<PaymentIntent> ParsePaymentIntent(std::string_view json);

// A Customer answer (id required) and a SetupIntent (id and status required; customer and
// payment_method may be ids or expanded objects).
Result<Customer> ParseCustomer(std::string_view json);
Result<SetupIntent> ParseSetupIntent(const rapidjson::Value& object);
Result<SetupIntent> ParseSetupIntent(std::string_view json);

// A search answer: {"object":"search_result","data":[…],"has_more":…,"next_page":…}.
Result<SearchPage> ParseSearchPage(std::string_view json);
// GET /v1/events: each event re-serialized as it came.
Result<EventPage> ParseEventPage(std::string_view json);

// A Refund (POST /v1/refunds' answer, a list's item): id and amount required;
// reason is metadata[reason]. A page of GET /v1/refunds.
struct RefundPage {
  std::vector<Refund> data;
  bool has_more = false;
};
Result<Refund> ParseRefund(const rapidjson::Value& object);
// A File (POST /v1/files' answer): id and size required.
Result<File> ParseFile(std::string_view json);
Result<Refund> ParseRefund(std::string_view json);
Result<RefundPage> ParseRefundPage(std::string_view json);

// A Dispute: id, status, reason and amount required; evidence_details.due_by 0 or null ⇒
// none; balance_transactions counted.
Result<Dispute> ParseDispute(const rapidjson::Value& object);
Result<Dispute> ParseDispute(std::string_view json);

}  // namespace cc::stripe
