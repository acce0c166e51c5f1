// FaultyStore: a KvStore that forwards to another one and can be told to fail.
//
// The idea of leveldb's EnvWrapper / SpecialEnv: tests wrap a working InMemoryStore and
// flip SetFailing(true) to simulate memcached being down; every call then returns
// kUnavailable ("memcached unavailable: …", as MemcachedStore does) without touching the
// wrapped store. Flipping back restores it, with its contents intact.
// The switch and the call counter are atomic, so a test thread may flip it while workers
// call; thread-safety of the calls themselves is that of the wrapped store.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/kv_store.h"

namespace cc::store {

class FaultyStore final : public KvStore {
 public:
  // `target` must outlive this object.
  explicit FaultyStore(KvStore& target) : target_(target) {}

  void SetFailing(bool failing) { failing_.store(failing); }
  [[nodiscard]] bool failing() const { return failing_.load(); }
  // Calls made, failed or not.
  [[nodiscard]] uint64_t calls() const { return calls_.load(); }

  Result<std::optional<std::string>> Get(std::string_view key) override {
    if (Fails()) return Down();
    return target_.Get(key);
  }
  Status Set(std::string_view key, std::string_view value, uint32_t ttl_s) override {
    if (Fails()) return Down();
    return target_.Set(key, value, ttl_s);
  }
  Result<bool> Add(std::string_view key, std::string_view value, uint32_t ttl_s) override {
    if (Fails()) return Down();
    return target_.Add(key, value, ttl_s);
  }
  Result<uint64_t> Incr(std::string_view key, uint64_t delta, uint64_t initial,
                        uint32_t ttl_s) override {
    if (Fails()) return Down();
    return target_.Incr(key, delta, initial, ttl_s);
  }
  Status Delete(std::string_view key) override {
    if (Fails()) return Down();
    return target_.Delete(key);
  }
  Status Ping() override {
    if (Fails()) return Down();
    return target_.Ping();
  }

 private:
  bool Fails() {
    calls_.fetch_add(1);
    return failing_.load();
  }
  static tl::unexpected<Error> Down() {
    return Fail(ErrorKind::kUnavailable, "service_unavailable",
                "memcached unavailable: injected fault");
  }

  KvStore& target_;
  std::atomic<bool> failing_{false};
  std::atomic<uint64_t> calls_{0};
};

}  // namespace cc::store
