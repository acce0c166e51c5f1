// fuzz_claim_items: the itemized-capture parser (claims::ParseCaptureRequest, and through
// it ParseClaimItems) and what is built from an accepted claim.
//
// Input: the raw capture request body.
// Besides what the sanitizers see, it checks the parser's promises:
//   - every refusal is a 400 with a machine code and a param (but invalid_json, and an
//     unknown field named "");
//   - an accepted amount_to_capture is >= 1; with items, it equals their total;
//   - an accepted claim has 1..50 items, each with a 1..500-character description without
//     NUL, an amount >= 1, a known category and at most 10 distinct file ids, and its
//     total is the items' exact sum;
//   - the rendered claim is valid JSON whose items parse back to the same claim;
//   - the Stripe summary fits 500 characters, starts with the item count, and its total
//     is the claim's;
//   - CheckClaim against the claim's own evidence and a capturable amount equal to the
//     total refuses only for the minimum (amount_too_small), and one unit less capturable
//     is capture_exceeds_capturable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "claims/claim.h"
#include "core/json.h"
#include "core/utf8.h"
#include "fuzz_util.h"

namespace {

using cc::fuzz::Require;

void CheckItem(const cc::claims::ClaimItem& item) {
  const size_t length = cc::Utf8Length(item.description);
  Require(length >= 1 && length <= 500, "accepted a description of bad length");
  Require(item.description.find('\0') == std::string::npos, "accepted NUL in a description");
  Require(item.amount >= 1, "accepted an item amount below 1");
  Require(cc::claims::ParseCategory(cc::claims::CategoryName(item.category)) == item.category,
          "a category does not round-trip through its name");
  Require(item.evidence.size() <= 10, "accepted more than 10 evidence files on an item");
  for (size_t i = 0; i < item.evidence.size(); ++i) {
    Require(cc::claims::ValidFileId(item.evidence[i]),
            "accepted an evidence id that is no file id");
    for (size_t j = 0; j < i; ++j) {
      Require(item.evidence[i] != item.evidence[j], "accepted a duplicate evidence id");
    }
  }
}

void CheckRendered(const cc::claims::Claim& claim) {
  const std::string rendered = cc::claims::RenderClaim(claim, 1767225600);
  auto doc = cc::json::ParseStrict(rendered);
  Require(doc.has_value() && doc->IsObject(), "the rendered claim is not a JSON object");
  const auto* items = cc::json::Member(*doc, "items");
  Require(items != nullptr, "the rendered claim has no items");
  auto again = cc::claims::ParseClaimItems(*items);
  Require(again.has_value() && *again == claim, "the rendered items do not parse back the same");

  const cc::claims::ClaimSummary summary = cc::claims::SummarizeClaim(claim);
  Require(summary.items.size() <= cc::claims::kMaxStripeMetadataValue,
          "the claim_items summary passes Stripe's 500 characters");
  Require(summary.items.starts_with(std::to_string(claim.items.size()) + " item"),
          "the claim_items summary does not start with the count");
  Require(summary.total == std::to_string(claim.total), "claim_total is not the total");
}

void CheckAgainstHold(const cc::claims::Claim& claim) {
  cc::claims::EvidenceIds own;
  for (const auto& item : claim.items) own.insert(item.evidence.begin(), item.evidence.end());
  auto exact = cc::claims::CheckClaim(claim, claim.total, 50, own);
  Require(exact.has_value() == (claim.total >= 50), "CheckClaim at the total disagrees");
  if (!exact) Require(exact.error().code == "amount_too_small", "refused for another reason");
  auto over = cc::claims::CheckClaim(claim, claim.total - 1, 50, own);
  Require(
      !over && over.error().code == "capture_exceeds_capturable" && over.error().param == "items",
      "a total above amount_capturable was not capture_exceeds_capturable");
  if (!own.empty()) {
    auto foreign = cc::claims::CheckClaim(claim, claim.total, 0, {});
    Require(!foreign && foreign.error().code == "invalid_request",
            "evidence of another hold was accepted");
  }
}

void CheckClaim(const cc::claims::Claim& claim) {
  Require(!claim.items.empty() && claim.items.size() <= 50, "accepted a bad number of items");
  int64_t sum = 0;
  for (const auto& item : claim.items) {
    CheckItem(item);
    Require(!__builtin_add_overflow(sum, item.amount, &sum), "accepted a sum past 64 bits");
  }
  Require(sum == claim.total, "the total is not the items' sum");
  CheckRendered(claim);
  CheckAgainstHold(claim);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto req = cc::claims::ParseCaptureRequest(cc::fuzz::AsView(data, size));
  if (!req) {
    Require(cc::HttpStatus(req.error().kind) == 400, "a refusal with a non-400 status");
    Require(!req.error().code.empty(), "a refusal without a machine code");
    // Only a malformed body, or an unknown field whose name is "", has no param to name.
    Require(!req.error().param.empty() || req.error().code == "invalid_json" ||
                req.error().message == "Unknown field: ",
            "a refusal without a param");
    return 0;
  }
  Require(!req->amount_to_capture || *req->amount_to_capture >= 1,
          "accepted an amount_to_capture below 1");
  Require(cc::Utf8Length(req->reason) <= 500, "accepted a reason longer than 500 characters");
  if (req->claim) {
    CheckClaim(*req->claim);
    Require(!req->amount_to_capture || *req->amount_to_capture == req->claim->total,
            "accepted an amount_to_capture that is not the items' total");
    Require(req->Amount() == req->claim->total, "Amount() is not the claim's total");
  }
  return 0;
}
