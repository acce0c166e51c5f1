// InMemoryStore: a real, working KvStore kept in a std::map, for unit tests of handlers.
//
// It behaves like MemcachedStore in everything a caller can observe: the same argument
// checks (store/validate.h), TTLs in seconds (0 = never) measured against an injected
// clock, an entry gone once now >= set time + TTL, Add that does not overwrite, Incr that
// creates the counter at `initial` and otherwise keeps its TTL and wraps at 2^64.
// Differences: no eviction, and Incr on a value that is not a decimal counter is
// kInvalidArgument. It never fails otherwise; wrap it in a FaultyStore to simulate an
// outage.
// Thread-safe (one mutex), more than the KvStore contract asks, so that one instance
// can stand for the memcached that several event loops or processes share, in a test.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "store/kv_store.h"

namespace cc::store {

class InMemoryStore final : public KvStore {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  // now_s defaults to the system clock.
  explicit InMemoryStore(Clock now_s = {});

  Result<std::optional<std::string>> Get(std::string_view key) override;
  Status Set(std::string_view key, std::string_view value, uint32_t ttl_s) override;
  Result<bool> Add(std::string_view key, std::string_view value, uint32_t ttl_s) override;
  Result<uint64_t> Incr(std::string_view key, uint64_t delta, uint64_t initial,
                        uint32_t ttl_s) override;
  Status Delete(std::string_view key) override;
  Status Ping() override;

  // Live (unexpired) entries, for assertions.
  [[nodiscard]] size_t Size() const;
  // Drops every entry, like `flush_all`.
  void Clear();

 private:
  struct Entry {
    std::string value;
    int64_t expires_at = 0;  // unix seconds; 0 = never
  };
  using Map = std::map<std::string, Entry, std::less<>>;

  // The live entry for key, erasing it first when expired. Caller holds mu_.
  Entry* FindLive(std::string_view key);
  [[nodiscard]] int64_t ExpiryFor(uint32_t ttl_s) const;
  void Put(std::string_view key, std::string_view value, uint32_t ttl_s);

  Clock now_s_;
  mutable std::mutex mu_;
  Map entries_;
};

}  // namespace cc::store
