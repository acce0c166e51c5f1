#include "gateway/rate_limiter.h"

#include <algorithm>

namespace cc::gateway {
namespace {

constexpr int64_t kWindowSeconds = 60;
constexpr uint32_t kCounterTtl = 120;  // outlives its window
constexpr int64_t kMaxLease = 64;

}  // namespace

int64_t RateLimiter::LeaseSize(int64_t per_minute) {
  return std::clamp<int64_t>(per_minute / 1000, 1, kMaxLease);
}

std::optional<int64_t> RateLimiter::RetryAfter(const config::ClientToken& client,
                                               store::KvStore& store, int64_t now) {
  const int64_t window = now / kWindowSeconds;
  const int64_t retry_after = std::max<int64_t>(1, (window + 1) * kWindowSeconds - now);
  {
    std::lock_guard lock(mu_);
    Lease& lease = leases_[client.name];
    if (lease.window == window) {
      if (lease.left > 0) {
        --lease.left;
        return std::nullopt;
      }
      if (lease.exhausted) return retry_after;
    }
  }
  // A new lease, taken without the lock.
  const int64_t size = LeaseSize(client.rate_per_minute);
  const auto delta = static_cast<uint64_t>(size);
  auto counted =
      store.Incr("rl:" + client.name + ":" + std::to_string(window), delta, delta, kCounterTtl);
  if (!counted) return std::nullopt;  // fail open: nginx's coarse limit still applies
  const auto total = static_cast<int64_t>(*counted);
  // This lease is tokens total-size+1 .. total; those up to the limit may be used.
  const int64_t usable = std::clamp<int64_t>(client.rate_per_minute - (total - size), 0, size);
  std::lock_guard lock(mu_);
  Lease& lease = leases_[client.name];
  if (lease.window != window) lease = Lease{window, 0, false};
  lease.exhausted = lease.exhausted || total >= client.rate_per_minute;
  if (usable == 0) return retry_after;
  lease.left += usable - 1;  // one is this request's
  return std::nullopt;
}

}  // namespace cc::gateway
