// Validation of the hold endpoints' request bodies: pure functions from raw bytes to a
// typed request or a 400 naming the field. Nothing here calls anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "claims/disclosure.h"
#include "core/result.h"
#include "core/tier.h"
#include "stripe/stripe_api.h"

namespace cc::holds {

struct CreateDefaults {
  int64_t amount = 25000;
  std::string currency = "usd";
};

struct CreateHoldRequest {
  int64_t amount = 0;
  std::string currency;
  std::string description;
  std::string customer_email;  // "" = none
  std::string property_id;     // "" = none
  std::string tenant_id;       // "" = none
  stripe::Metadata metadata;   // the client's keys only
  Tier tier = Tier::kNewGuest;
  std::string payment_method;  // "" = the guest confirms in the browser
  // The scheduler releases the hold then if it is still uncaptured; the caller checks it
  // lies ahead (kMaxReleaseAfter).
  std::optional<int64_t> release_after;
  // The hold's life (CONTRACT.md "The hold's life"); the caller checks the times against
  // now (CheckLife). authorize_at: a scheduled hold (no PaymentIntent until then).
  std::optional<int64_t> authorize_at;
  std::optional<int64_t> stay_ends_at;  // required with reauthorize
  bool reauthorize = false;
  // The wording the guest accepted (claims::ParseDisclosure's rules); whether accepted_at
  // is in the future is the caller's check (CheckDisclosureTime), as it needs the clock.
  std::optional<claims::AcceptedDisclosure> disclosure;
};

inline constexpr int64_t kMaxReleaseAfter = 90LL * 24 * 3600;  // the most ahead of now
inline constexpr int64_t kMaxAuthorizeAt = 90LL * 24 * 3600;   // the most ahead of now
inline constexpr int64_t kMaxStay = 366LL * 24 * 3600;         // stay_ends_at, at most ahead

// Checks shape and per-field rules, including amount ≥ 50; the tier limit and the
// token's MAX_TIER are checked by the caller (403 comes before the limit).
Result<CreateHoldRequest> ParseCreateHold(std::string_view body, const CreateDefaults& defaults);

// The create's disclosure, against the clock: accepted_at no later than
// now + claims::kAcceptedAtClockSkew (else 400 invalid_request, disclosure[accepted_at]).
Status CheckDisclosureTime(const CreateHoldRequest& req, int64_t now);
// The hold's `disclosure` as the ledger keeps it: {"version": "…", "accepted_at": "…Z"}.
std::string RenderAcceptedDisclosure(const claims::AcceptedDisclosure& disclosure);

// A capture's body: claims::ParseCaptureRequest (Part 1's fields and the itemized claim).

// POST /api/holds/:id/reauthorize: an empty body or {}.
Status ParseReauthorizeHold(std::string_view body);

struct RefundHoldRequest {
  std::optional<int64_t> amount;  // unset: the whole remainder
  std::string reason;             // free text (≤ 500) → the refund's metadata[reason]
};
Result<RefundHoldRequest> ParseRefundHold(std::string_view body);

struct CancelHoldRequest {
  std::string cancellation_reason;  // Stripe's enum, "" = none
  std::string reason;               // free text → metadata cancel_reason
};
Result<CancelHoldRequest> ParseCancelHold(std::string_view body);

// Shared field rules.
bool ValidEmail(std::string_view email);
size_t Utf8Length(std::string_view s);  // core/utf8.h's count, for holds' callers

}  // namespace cc::holds
