// PENDING ChittyIDs: the fallback id a hold carries while ChittyID cannot mint one
// (CONTRACT.md "ChittyID"), replaced later by the reconciler (jobs/reconciler.h).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cc::chittyid {

inline constexpr std::string_view kPendingPrefix = "CHITTY-AUTH-PENDING-";

// "CHITTY-AUTH-PENDING-<UNIQUE>": `unique` upper-cased, keeping [A-Z0-9] and turning any
// other byte into '-', at most 64 characters of it. Callers pass
// PendingUniqueFromKey(<the PaymentIntent's Stripe idempotency key>), so a retried create
// (which Stripe answers with the same PaymentIntent) gets the same pending id; or
// RandomPendingUnique() when there is no key.
std::string PendingChittyId(std::string_view unique);
// First 24 hex digits of SHA-256(key): stable, and reveals nothing of the key.
std::string PendingUniqueFromKey(std::string_view idempotency_key);
// 24 random hex digits (96 bits) from the OS CSPRNG.
std::string RandomPendingUnique();
bool IsPendingChittyId(std::string_view chitty_id);

}  // namespace cc::chittyid
