// An itemized damage claim (CONTRACT.md "Claims, evidence, refunds, disputes"): what a
// capture request's `items` may hold, the checks against the hold it captures, and the
// claim's two written forms (the hold's `claim` JSON and Stripe's metadata summary).
//
// Pure functions from bytes or a parsed JSON value to a typed claim or a 400 Error; the
// hold's state (amount_capturable, currency, its evidence ids) is passed in as values.
// Nothing here calls Stripe, the ledger or the clock.
//
// The items rules, and what the contract leaves open:
//   items        an array of 1..50 objects with only the four fields below.
//   description  string, 1..500 characters (code points), no NUL; not trimmed.
//   amount       a JSON integer literal >= 1 (no null, float, exponent or string), minor
//                units of the hold's currency.
//   category     "damage" | "cleaning" | "missing_item" | "late_checkout" | "fee" | "other".
//   evidence     optional (absent or null = none): an array of at most 10 distinct Stripe
//                file ids ("file_" then letters, digits or "_", 255 characters at most).
//                One file may support several items; it may not be listed twice in one.
// Every error inside `items` is 400 invalid_request with param "items" (the contract's
// param for claims); the message names the item ("items[3].amount must be …").
// The total is the items' sum. A sum that does not fit in 64 bits exceeds every hold's
// amount_capturable, so it is 400 capture_exceeds_capturable (param items), like any
// other total above it (CheckClaim).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace cc::claims {

inline constexpr size_t kMaxClaimItems = 50;
inline constexpr size_t kMaxItemDescription = 500;  // characters
inline constexpr size_t kMaxEvidencePerItem = 10;
inline constexpr size_t kMaxFileIdLength = 255;
inline constexpr size_t kMaxStripeMetadataValue = 500;  // characters; Stripe's limit

// The Stripe metadata keys a claimed capture writes (to be documented with the others
// in docs/api.md when the capture handler sends them).
inline constexpr std::string_view kMetaClaimItems = "claim_items";
inline constexpr std::string_view kMetaClaimTotal = "claim_total";

enum class ClaimCategory { kDamage, kCleaning, kMissingItem, kLateCheckout, kFee, kOther };

std::string_view CategoryName(ClaimCategory category);
// Exact lower-case names only.
std::optional<ClaimCategory> ParseCategory(std::string_view name);

struct ClaimItem {
  std::string description;
  int64_t amount = 0;
  ClaimCategory category = ClaimCategory::kOther;
  std::vector<std::string> evidence;  // file ids, in the client's order

  bool operator==(const ClaimItem&) const = default;
};

struct Claim {
  std::vector<ClaimItem> items;
  int64_t total = 0;  // the items' sum

  bool operator==(const Claim&) const = default;
};

// `file_` followed by 1+ of [A-Za-z0-9_], kMaxFileIdLength at most.
bool ValidFileId(std::string_view id);

// The value of a request's `items` member, by the rules above.
Result<Claim> ParseClaimItems(const rapidjson::Value& items);

// A capture request body: Part 1's `{"amount_to_capture"?: int, "reason"?: str}` (same
// rules and messages as Part 1's capture body had) plus `items`. With both items and
// amount_to_capture, they must be equal, else 400 invalid_request param items. An empty
// body is {} (a full capture).
struct CaptureRequest {
  std::optional<int64_t> amount_to_capture;
  std::string reason;
  std::optional<Claim> claim;

  // What to capture: the claim's total, else amount_to_capture; nullopt = everything.
  std::optional<int64_t> Amount() const;
};
Result<CaptureRequest> ParseCaptureRequest(std::string_view body);

// The evidence ids uploaded for one hold (GET /api/holds/:id/evidence).
using EvidenceIds = std::set<std::string, std::less<>>;

// A capture amount against the hold, in the contract's order: more than
// amount_capturable ⇒ capture_exceeds_capturable; under the currency's Stripe minimum
// (MinimumChargeAmount) ⇒ amount_too_small (release the hold instead). `param` names the
// field at fault in the error.
Status CheckCaptureAmount(int64_t amount, int64_t amount_capturable, int64_t minimum,
                          std::string_view param);

// A parsed claim against the hold it would capture: every evidence id must be one of
// the hold's (else invalid_request), then CheckCaptureAmount(total, …) — all with param
// items.
Status CheckClaim(const Claim& claim, int64_t amount_capturable, int64_t minimum,
                  const EvidenceIds& hold_evidence);

// The hold's `claim`: {"items": [{"description", "amount", "category", "evidence": [...]},
// …], "total": …, "captured_at": "…Z" | null}. `evidence` is always present ([] for none).
void WriteClaim(json::Writer& w, const Claim& claim, std::optional<int64_t> captured_at);
std::string RenderClaim(const Claim& claim, std::optional<int64_t> captured_at);

// Stripe metadata values for a claimed capture. `items` is one line, ASCII only:
// "3 items: damage 12000, cleaning 5000, fee 2500" (category and amount in minor units,
// in the claim's order); when it would pass Stripe's 500 characters, the items that do
// not fit are counted instead: "50 items: damage 12000, …, other 75, +31 more".
// `total` is the total in minor units ("19500").
struct ClaimSummary {
  std::string items;
  std::string total;
};
ClaimSummary SummarizeClaim(const Claim& claim);

}  // namespace cc::claims
