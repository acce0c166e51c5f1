// fuzz_create_request: the untrusted-JSON door (json::ParseStrict) and the hold request
// validators (holds::ParseCreateHold, claims::ParseCaptureRequest, holds::ParseCancelHold;
// fuzz_claim_items checks the capture's items in depth).
//
// Input: the raw request body, used as is by all four.
// Besides what the sanitizers see, it checks the validators' promises:
//   - an accepted create has amount >= 50, a supported currency, a 1..1000-character
//     description, a valid or empty email, no reserved metadata key, at most 40 keys;
//   - an accepted capture captures everything or an amount >= 1; an accepted cancel a
//     known reason;
//   - every refusal is a 400 with a machine code;
//   - what ParseStrict accepts, re-serialised, is accepted again (no depth/dup drift).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "claims/claim.h"
#include "config/config.h"
#include "core/json.h"
#include "fuzz_util.h"
#include "holds/hold.h"
#include "holds/hold_request.h"

namespace {

using cc::fuzz::Require;

void CheckRefusal(const cc::Error& error) {
  Require(cc::HttpStatus(error.kind) == 400, "a request validator refused with a non-400 status");
  Require(!error.code.empty(), "a request validator refused without a machine code");
}

void CheckCreate(std::string_view body) {
  const cc::holds::CreateDefaults defaults;
  auto req = cc::holds::ParseCreateHold(body, defaults);
  if (!req) {
    CheckRefusal(req.error());
    return;
  }
  Require(req->amount >= cc::kMinHoldAmount, "accepted an amount below the minimum");
  Require(cc::config::SupportedCurrency(req->currency), "accepted an unsupported currency");
  const size_t description = cc::holds::Utf8Length(req->description);
  Require(description >= 1 && description <= 1000, "accepted a description of bad length");
  Require(req->customer_email.empty() || cc::holds::ValidEmail(req->customer_email),
          "accepted an invalid customer_email");
  Require(req->payment_method.empty() || req->payment_method.starts_with("pm_"),
          "accepted a payment_method that is not pm_…");
  Require(req->metadata.size() <= 50 - cc::holds::kServiceMetadataSlots,
          "accepted more metadata keys than Stripe leaves us");
  Require(!req->reauthorize || req->stay_ends_at.has_value(),
          "accepted reauthorize without stay_ends_at");
  for (const auto& [key, value] : req->metadata) {
    Require(!cc::holds::IsReservedMetadataKey(key), "accepted a reserved metadata key");
    Require(!key.empty() && cc::holds::Utf8Length(key) <= 40, "accepted a bad metadata key");
    Require(cc::holds::Utf8Length(value) <= 500, "accepted a too-long metadata value");
  }
}

void CheckCapture(std::string_view body) {
  auto req = cc::claims::ParseCaptureRequest(body);
  if (!req) {
    CheckRefusal(req.error());
    return;
  }
  Require(!req->Amount() || *req->Amount() >= 1, "accepted a capture amount below 1");
}

void CheckCancel(std::string_view body) {
  auto req = cc::holds::ParseCancelHold(body);
  if (!req) {
    CheckRefusal(req.error());
    return;
  }
  const std::string& r = req->cancellation_reason;
  Require(r.empty() || r == "duplicate" || r == "fraudulent" || r == "requested_by_customer" ||
              r == "abandoned",
          "accepted an unknown cancellation_reason");
}

void CheckStrictRoundTrip(std::string_view body) {
  auto doc = cc::json::ParseStrict(body);
  if (!doc) {
    CheckRefusal(doc.error());
    return;
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  Require(doc->Accept(writer), "RapidJSON could not re-serialise an accepted document");
  auto again = cc::json::ParseStrict(std::string_view(buf.GetString(), buf.GetSize()));
  Require(again.has_value(), "ParseStrict refused its own accepted document, re-serialised");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = cc::fuzz::AsView(data, size);
  CheckStrictRoundTrip(body);
  CheckCreate(body);
  CheckCapture(body);
  CheckCancel(body);
  return 0;
}
