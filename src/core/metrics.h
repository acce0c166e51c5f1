// Metrics: Prometheus counters, gauges and histograms for the whole worker pool.
//
// nginx hands /metrics to whichever worker process accepts it, so the numbers must be
// the pool's, not one process's. Each process claims a slot in a shared, mmap'd file
// (CHITTYCHARGE_METRICS_FILE; without it, process-private memory) and only ever adds
// to its own slot with relaxed atomics; Render() sums all slots. A restarted process
// reclaims a dead process's slot without zeroing it, so counters stay monotonic.
// Labels are fixed, low-cardinality sets (routes, status codes, event types). The route
// labels are the routes table's (gateway/routes.h), passed in by the caller; the file
// starts with a digest of the whole layout (route names included), and a file whose
// digest differs is refused while a live process still uses it, or started afresh when
// none does (an upgrade that adds a route restarts the pool).
// Thread-safe and lock-free on the hot path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cc::metrics {

enum class Dependency : uint32_t { kStripe = 0, kChittyId = 1, kMemcached = 2, kPostgresql = 3 };
enum class HoldEvent : uint32_t {
  kCreated = 0,
  kCaptured = 1,
  kCanceled = 2,
  kDeclined = 3,
  kRefunded = 4
};
enum class WebhookResult : uint32_t { kApplied = 0, kIgnored, kDuplicate, kInvalid, kFailed };

class Metrics {
 public:
  // path "" = private memory (one process). route_names: the routes table's labels, at most
  // kMaxRoutes. Fails when the file cannot be mapped, or holds another layout that a live
  // process still uses.
  static Result<std::unique_ptr<Metrics>> Open(const std::string& path,
                                               std::vector<std::string> route_names);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // route_index: the route's row in the routes table, or kUnmatchedRoute.
  void Request(size_t route_index, int status, double seconds);
  void InFlight(int delta);
  void DependencyCall(Dependency dep, double seconds, bool ok);
  void Hold(HoldEvent event);
  void Webhook(std::string_view type, WebhookResult result);

  std::string Render() const;

  static constexpr size_t kMaxRoutes = 48;
  static constexpr size_t kUnmatchedRoute = kMaxRoutes;

  struct Slot;  // one process's numbers; layout private to metrics.cpp

 private:
  Metrics(void* base, size_t size, bool mapped, std::vector<std::string> route_names);
  Slot& Mine() const;

  void* base_;
  size_t size_;
  bool mapped_;
  size_t slot_index_ = 0;
  std::vector<std::string> route_names_;  // then "unmatched"
};

}  // namespace cc::metrics
