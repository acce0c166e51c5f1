// fuzz_signature: webhooks::VerifyStripeSignature over an arbitrary header, secrets and body.
//
// Input: line 1 is the Stripe-Signature header, line 2 the configured secrets
// (comma-separated, empty pieces kept), the rest the raw body.
// Besides what the sanitizers see, it checks the function's contract:
//   - kValid means the header carries, as one of its first kMaxSignatures v1 items, the
//     HMAC of "<t>.<body>" under a non-empty secret (t = the last `t` item);
//   - a header signed here, for any body and any non-empty secret, is kValid;
//   - extreme clocks and tolerances neither overflow nor turn a result into kValid.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "fuzz_util.h"
#include "webhooks/signature.h"

namespace {

using cc::fuzz::Require;
using cc::webhooks::SignatureCheck;

constexpr int64_t kNow = 1767312000;  // the "now" of tests/data/webhook-vectors.json
constexpr size_t kMaxSecrets = 8;

// An independent reading of the header: the last `t` (decimal, no sign) and the v1 values.
struct Items {
  std::optional<int64_t> t;
  std::vector<std::string_view> v1;
};

Items ReadItems(std::string_view header) {
  Items items;
  for (std::string_view item : cc::fuzz::Split(header, ",", std::numeric_limits<size_t>::max())) {
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    if (key == "t") {
      int64_t t = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), t);
      const bool ok = !value.empty() && value.front() != '-' && ec == std::errc() &&
                      end == value.data() + value.size();
      items.t = ok ? std::optional<int64_t>(t) : std::nullopt;
    } else if (key == "v1" && items.v1.size() < cc::webhooks::kMaxSignatures) {
      items.v1.push_back(value);
    }
  }
  return items;
}

bool CarriesValidSignature(std::span<const std::string> secrets, std::string_view header,
                           std::string_view body) {
  const Items items = ReadItems(header);
  if (!items.t) return false;
  const std::string signed_payload = std::to_string(*items.t) + "." + std::string(body);
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    const std::string expected = cc::crypto::HmacSha256Hex(secret, signed_payload);
    for (std::string_view v1 : items.v1) {
      if (v1 == expected) return true;
    }
  }
  return false;
}

void CheckExtremeClocks(std::span<const std::string> secrets, std::string_view header,
                        std::string_view body, SignatureCheck at_now) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (const int64_t now : {kMin, int64_t{-1}, int64_t{0}, kMax}) {
    for (const int64_t tolerance : {kMin, int64_t{0}, int64_t{1}, kMax}) {
      const SignatureCheck check =
          cc::webhooks::VerifyStripeSignature(secrets, header, body, now, tolerance);
      // Only the age check depends on the clock: nothing else may change.
      const bool matched = at_now == SignatureCheck::kValid || at_now == SignatureCheck::kTooOld;
      const bool consistent =
          matched ? check == SignatureCheck::kValid || check == SignatureCheck::kTooOld
                  : check == at_now;
      Require(consistent, "the clock changed a result other than through the age check");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest = cc::fuzz::AsView(data, size);
  const std::string_view header = cc::fuzz::TakeLine(&rest);
  const std::vector<std::string> secrets =
      cc::fuzz::SplitToStrings(cc::fuzz::TakeLine(&rest), ",", kMaxSecrets);
  const std::string_view body = rest;

  const SignatureCheck check = cc::webhooks::VerifyStripeSignature(secrets, header, body, kNow);
  Require(cc::webhooks::Describe(check) != nullptr, "Describe() returned null");
  if (check == SignatureCheck::kValid) {
    Require(header.size() <= cc::webhooks::kMaxHeaderBytes, "kValid for an oversized header");
    Require(CarriesValidSignature(secrets, header, body),
            "kValid without a matching v1 signature in the header");
  }
  CheckExtremeClocks(secrets, header, body, check);

  // Whatever the body and the secret, a header signed now with it verifies.
  const std::string t = std::to_string(kNow);
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    const std::string ours =
        "t=" + t + ",v1=" + cc::crypto::HmacSha256Hex(secret, t + "." + std::string(body));
    Require(cc::webhooks::VerifyStripeSignature(std::span(&secret, 1), ours, body, kNow) ==
                SignatureCheck::kValid,
            "a freshly signed header did not verify");
  }
  return 0;
}
