// KvStore: the cache / idempotency / rate-counter / webhook-dedupe store (memcached).
//
// Nothing in it is the system of record: callers must survive every error (kUnavailable
// when the store cannot be reached) and every missing key. A miss is a value
// (std::nullopt), not an error. Keys are at most 250 bytes of printable ASCII without
// spaces; values at most 1 MiB. TTLs are in seconds (0 = no expiry).
// A KvStore is NOT thread-safe: each event loop (its fibers never park inside a call) and
// the reconciler thread own one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cc::store {

class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual Result<std::optional<std::string>> Get(std::string_view key) = 0;
  virtual Status Set(std::string_view key, std::string_view value, uint32_t ttl_s) = 0;
  // A cache write that does not wait for the server's answer (memcached's quiet set):
  // only a failure to send is reported. Later commands on the same store see the
  // value; another connection may miss it for a moment. For entries that can be
  // rebuilt from Stripe. Stores without such a mode just Set.
  virtual Status SetQuietly(std::string_view key, std::string_view value, uint32_t ttl_s) {
    return Set(key, value, ttl_s);
  }
  // Stores only when the key is absent: true when stored, false when it already existed.
  virtual Result<bool> Add(std::string_view key, std::string_view value, uint32_t ttl_s) = 0;
  // Adds delta to a counter, creating it at `initial` (with ttl_s) when absent; returns
  // the new value.
  virtual Result<uint64_t> Incr(std::string_view key, uint64_t delta, uint64_t initial,
                                uint32_t ttl_s) = 0;
  virtual Status Delete(std::string_view key) = 0;
  // Cheap round trip for health checks.
  virtual Status Ping() = 0;
};

}  // namespace cc::store
