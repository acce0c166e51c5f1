// Stripe Idempotency-Keys for the operations ChittyCharge performs on holds.
//
// Every Stripe POST carries a key derived from the logical operation, so identical retries
// and concurrent duplicates collapse into one Stripe operation: the same (client,
// operation, discriminator) always gives the same key, and anything else another key.
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cc::holds {

// "cc_" + SHA-256 hex of client, operation and discriminator (newline-separated).
std::string DeriveStripeKey(std::string_view client, std::string_view operation,
                            std::string_view discriminator);

}  // namespace cc::holds
