// HoldRepository: reads and writes holds through the cache, with Stripe as the truth.
//
// Load() serves a cached hold when it is terminal or was read from Stripe less than
// kFreshSeconds ago; otherwise it re-reads the PaymentIntent from Stripe and caches it.
// A cache miss, a flushed or an unreachable memcached all fall back to Stripe: losing
// the cache loses nothing. Cache writes are best effort (logged, never fatal).
// Ownership: a hold belongs to the client named in its metadata; another client's hold
// (or a PaymentIntent ChittyCharge did not create) is reported as 404.
// Not thread-safe: built per request over its event loop's own ports.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "holds/hold.h"
#include "store/kv_store.h"
#include "stripe/stripe_api.h"

namespace cc::holds {

inline constexpr int64_t kFreshSeconds = 2;
inline constexpr uint32_t kHoldCacheTtl = 30U * 24U * 3600U;

class HoldRepository {
 public:
  HoldRepository(stripe::StripeApi& stripe, store::KvStore& store)
      : stripe_(stripe), store_(store) {}

  // id is a PaymentIntent id (pi_…) or a chitty_id. *from_stripe (when given) tells
  // whether this call read the PaymentIntent from Stripe rather than the cache.
  Result<HoldRecord> Load(std::string_view id, std::string_view client, int64_t now,
                          bool* from_stripe = nullptr);
  // Always re-reads from Stripe (keeps captured_at from the cached copy).
  Result<HoldRecord> Refresh(const std::string& pi_id, std::string_view client, int64_t now);
  void Save(const HoldRecord& record);
  // The cached copy, if any (no Stripe call, no ownership check).
  std::optional<HoldRecord> Cached(const std::string& pi_id);

 private:
  Result<std::string> ResolvePaymentIntentId(std::string_view id, std::string_view client);
  Result<HoldRecord> Fetch(const std::string& pi_id, std::string_view client, int64_t now,
                           std::optional<int64_t> captured_at);

  stripe::StripeApi& stripe_;
  store::KvStore& store_;
};

bool OwnedBy(const stripe::PaymentIntent& pi, std::string_view client);
std::string HoldKey(std::string_view pi_id);
std::string ChittyKey(std::string_view chitty_id);

}  // namespace cc::holds
