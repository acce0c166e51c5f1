#include "webhooks/signature.h"

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto.h"

namespace cc::webhooks {
namespace {

struct ParsedHeader {
  std::optional<int64_t> timestamp;
  std::vector<std::string_view> v1;
};

// A non-empty run of decimal digits that fits in int64 (no sign, no spaces).
std::optional<int64_t> ParseTimestamp(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || text.front() == '-' || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

void ParseItem(std::string_view item, ParsedHeader& out) {
  const size_t eq = item.find('=');
  if (eq == std::string_view::npos) return;  // ignored, like stripe-node
  const std::string_view key = item.substr(0, eq);
  const std::string_view value = item.substr(eq + 1);
  if (key == "t") {
    out.timestamp = ParseTimestamp(value);  // the last `t` wins, as in stripe-node
  } else if (key == "v1" && out.v1.size() < kMaxSignatures) {
    out.v1.push_back(value);
  }
}

ParsedHeader ParseHeader(std::string_view header) {
  ParsedHeader out;
  while (true) {
    const size_t comma = header.find(',');
    ParseItem(header.substr(0, comma), out);
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return out;
}

bool AnySignatureMatches(std::span<const std::string> secrets, const ParsedHeader& parsed,
                         std::string_view raw_body) {
  // Canonical decimal, as stripe-node signs `${timestamp}.${payload}` with the parsed t.
  std::string signed_payload = std::to_string(*parsed.timestamp);
  signed_payload.reserve(signed_payload.size() + 1 + raw_body.size());
  signed_payload.append(".").append(raw_body);
  bool matched = false;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    const std::string expected = crypto::HmacSha256Hex(secret, signed_payload);
    for (std::string_view candidate : parsed.v1) {
      matched = crypto::ConstantTimeEquals(expected, candidate) || matched;
    }
  }
  return matched;
}

}  // namespace

SignatureCheck VerifyStripeSignature(std::span<const std::string> secrets, std::string_view header,
                                     std::string_view raw_body, int64_t now_s,
                                     int64_t tolerance_s) {
  if (header.empty()) return SignatureCheck::kMissingHeader;
  if (header.size() > kMaxHeaderBytes) return SignatureCheck::kMalformedHeader;
  const ParsedHeader parsed = ParseHeader(header);
  if (!parsed.timestamp) return SignatureCheck::kMalformedHeader;
  if (parsed.v1.empty()) return SignatureCheck::kNoV1Signature;
  if (!AnySignatureMatches(secrets, parsed, raw_body)) return SignatureCheck::kMismatch;
  // `now - t > tolerance` computed without overflow for any t.
  if (tolerance_s > 0 && now_s > *parsed.timestamp && now_s - *parsed.timestamp > tolerance_s) {
    return SignatureCheck::kTooOld;
  }
  return SignatureCheck::kValid;
}

const char* Describe(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::kValid: return "";
    case SignatureCheck::kMissingHeader: return "No stripe-signature header value was provided";
    case SignatureCheck::kMalformedHeader:
      return "Unable to extract timestamp and signatures from header";
    case SignatureCheck::kNoV1Signature: return "No signatures found with expected scheme";
    case SignatureCheck::kMismatch:
      return "No signatures found matching the expected signature for payload";
    case SignatureCheck::kTooOld: return "Timestamp outside the tolerance zone";
  }
  return "Unknown signature check";
}

}  // namespace cc::webhooks
