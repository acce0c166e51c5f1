// Metrics: Prometheus counters, gauges and histograms for the whole worker pool.
//
// nginx hands /metrics to whichever worker process accepts it, so the numbers must be
// the pool's, not one process's. Each process claims a slot in a shared, mmap'd file
// (CHITTYCHARGE_METRICS_FILE; without it, process-private memory) and only ever adds
// to its own slot with relaxed atomics; Render() sums all slots. A restarted process
// reclaims a dead process's slot without zeroing it, so counters stay monotonic.
// Labels are fixed, low-cardinality sets (routes, status codes, event types).
// Thread-safe and lock-free on the hot path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cc::metrics {

enum class Dependency : uint32_t { kStripe = 0, kChittyId = 1, kMemcached = 2 };
enum class HoldEvent : uint32_t { kCreated = 0, kCaptured = 1, kCanceled = 2, kDeclined = 3 };
enum class WebhookResult : uint32_t { kApplied = 0, kIgnored, kDuplicate, kInvalid, kFailed };

class Metrics {
 public:
  // path "" = private memory (one process). Fails only when the file cannot be mapped.
  static Result<std::unique_ptr<Metrics>> Open(const std::string& path);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // route_index: http::Route as an integer, or kUnmatchedRoute.
  void Request(uint32_t route_index, int status, double seconds);
  void InFlight(int delta);
  void DependencyCall(Dependency dep, double seconds, bool ok);
  void Hold(HoldEvent event);
  void Webhook(std::string_view type, WebhookResult result);

  std::string Render() const;

  static constexpr uint32_t kUnmatchedRoute = 8;

 struct Slot;  // one process's numbers; layout private to metrics.cpp

 private:
  Metrics(void* base, size_t size, bool mapped);
  Slot& Mine() const;

  void* base_;
  size_t size_;
  bool mapped_;
  size_t slot_index_ = 0;
};

}  // namespace cc::metrics
