// Stripe-Signature verification (STRIPE-FACTS §15): a pure function of its arguments.
//
// The header is comma-separated `key=value` items (split at the first '='; items
// without '=' are ignored, as stripe-node does). `t` is the signing time, a decimal
// unix timestamp; every `v1` is a candidate signature (several appear while a secret is
// rolled); `v0` and unknown keys are ignored. The body is valid iff some
// v1 == lowercase-hex HMAC-SHA256(secret, t + "." + raw_body) for some configured
// secret (constant-time compare), and it is not too old: now - t > tolerance is
// rejected, exactly `tolerance` passes, a future t is accepted, tolerance 0 disables
// the age check. Checks run in stripe-node's order: header, timestamp, scheme,
// signature, age — so a forged old request reports kMismatch, not kTooOld.
// Empty secrets are skipped (an empty HMAC key is public). Headers over
// kMaxHeaderBytes are kMalformedHeader; at most kMaxSignatures v1 values are compared.
// Thread-safe: no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cc::webhooks {

enum class SignatureCheck {
  kValid,
  kMissingHeader,    // header absent or empty
  kMalformedHeader,  // no usable `t` (absent, not a decimal integer) or header too long
  kNoV1Signature,    // no `v1=` item
  kMismatch,         // no v1 matches any secret (or no usable secret)
  kTooOld,           // signature matches but now - t > tolerance
};

inline constexpr size_t kMaxHeaderBytes = 8 * 1024;
inline constexpr size_t kMaxSignatures = 16;
inline constexpr int64_t kDefaultToleranceS = 300;

SignatureCheck VerifyStripeSignature(std::span<const std::string> secrets, std::string_view header,
                                     std::string_view raw_body, int64_t now_s,
                                     int64_t tolerance_s = kDefaultToleranceS);

// stripe-node's message for each outcome; "" for kValid. Safe to log: names no secret.
const char* Describe(SignatureCheck check);

}  // namespace cc::webhooks
