// TimedStore: a KvStore decorator that records each memcached call's latency and
// failure in the pool's metrics.
#pragma once

#include <chrono>

#include "core/metrics.h"
#include "store/kv_store.h"

namespace cc::store {

class TimedStore final : public KvStore {
  template <typename F>
  auto Timed(F&& call) {  // NOLINT(cppcoreguidelines-missing-std-forward): called once
    const auto start = std::chrono::steady_clock::now();
    auto result = call();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    metrics_.DependencyCall(metrics::Dependency::kMemcached, took.count(), result.has_value());
    return result;
  }

 public:
  TimedStore(KvStore& inner, metrics::Metrics& metrics) : inner_(inner), metrics_(metrics) {}

  Result<std::optional<std::string>> Get(std::string_view key) override {
    return Timed([&] { return inner_.Get(key); });
  }
  Status Set(std::string_view key, std::string_view value, uint32_t ttl_s) override {
    return Timed([&] { return inner_.Set(key, value, ttl_s); });
  }
  Status SetQuietly(std::string_view key, std::string_view value, uint32_t ttl_s) override {
    return Timed([&] { return inner_.SetQuietly(key, value, ttl_s); });
  }
  Result<bool> Add(std::string_view key, std::string_view value, uint32_t ttl_s) override {
    return Timed([&] { return inner_.Add(key, value, ttl_s); });
  }
  Result<uint64_t> Incr(std::string_view key, uint64_t delta, uint64_t initial,
                        uint32_t ttl_s) override {
    return Timed([&] { return inner_.Incr(key, delta, initial, ttl_s); });
  }
  Status Delete(std::string_view key) override {
    return Timed([&] { return inner_.Delete(key); });
  }
  Status Ping() override {
    return Timed([&] { return inner_.Ping(); });
  }

 private:
  KvStore& inner_;
  metrics::Metrics& metrics_;
};

}  // namespace cc::store
