// Argument checks shared by every KvStore implementation.
//
// InMemoryStore and MemcachedStore run the same checks, so a handler that passes its
// unit tests against the in-memory store cannot be surprised by memcached in production.
// Pure functions, thread-safe. A failed check is kInvalidArgument (code
// "invalid_store_argument"): a caller bug, never a transient condition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/result.h"

namespace cc::store {

// memcached's own key limit. Longer keys must be hashed by the caller (crypto::Sha256Hex).
inline constexpr size_t kMaxKeyBytes = 250;
// memcached's default item limit is 1 MiB including its item header; keep 1 KiB spare.
inline constexpr size_t kMaxValueBytes = (1024 * 1024) - 1024;
// memcached reads a TTL above 30 days as an absolute unix time; we never mean that.
inline constexpr uint32_t kMaxTtlSeconds = 30 * 24 * 3600;

// 1..250 bytes, printable ASCII without spaces (0x21..0x7e).
Status ValidateKey(std::string_view key);
Status ValidateValue(std::string_view value);
Status ValidateTtl(uint32_t ttl_s);
// All three of the above, for Set/Add.
Status ValidateEntry(std::string_view key, std::string_view value, uint32_t ttl_s);

}  // namespace cc::store
