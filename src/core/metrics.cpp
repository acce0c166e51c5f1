#include "core/metrics.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <new>
#include <span>

namespace cc::metrics {
namespace {

constexpr size_t kRouteColumns = Metrics::kMaxRoutes + 1;  // the table's, then "unmatched"
constexpr std::array<int, 17> kStatuses{200, 201, 204, 400, 401, 402, 403, 404, 405,
                                        409, 413, 422, 429, 500, 502, 503, 504};
constexpr size_t kOtherStatus = kStatuses.size();  // one extra column: "other"
constexpr std::array<double, 11> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1.0,  2.5,   5.0,  10.0};
constexpr std::array<std::string_view, 4> kDependencies{"stripe", "chittyid", "memcached",
                                                        "postgresql"};
constexpr std::array<std::string_view, 5> kHoldEvents{"created", "captured", "canceled", "declined",
                                                      "refunded"};
constexpr std::array<std::string_view, 9> kEventTypes{"payment_intent.amount_capturable_updated",
                                                      "payment_intent.requires_action",
                                                      "payment_intent.payment_failed",
                                                      "payment_intent.succeeded",
                                                      "payment_intent.canceled",
                                                      "charge.captured",
                                                      "charge.expired",
                                                      "charge.refunded",
                                                      "other"};
constexpr std::array<std::string_view, 5> kWebhookResults{"applied", "ignored", "duplicate",
                                                          "invalid", "failed"};
constexpr size_t kSlots = 64;
constexpr std::string_view kLayoutVersion = "chittycharge metrics v3";

// Histogram: per-bucket counts (the last is +Inf) and the sum in microseconds. There is no
// separate count: Render() reports the +Inf bucket's cumulative total as _count, so the two
// agree even while other threads observe (Prometheus requires _count == le="+Inf").
struct Histogram {
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets;
  std::atomic<uint64_t> sum_us;

  void Observe(double seconds) {
    size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  }
};

struct Header {
  std::atomic<uint64_t> magic;
};

void Line(std::string& out, std::string_view name, std::string_view labels, uint64_t value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

std::string Seconds(uint64_t micros) {
  char buf[32];  // NOLINT(cppcoreguidelines-avoid-c-arrays): snprintf target
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(micros) / 1e6);
  return buf;
}

}  // namespace

struct Metrics::Slot {
  std::atomic<int32_t> pid;
  std::atomic<int64_t> in_flight;
  std::array<std::array<std::atomic<uint64_t>, kStatuses.size() + 1>, kRouteColumns> requests;
  std::array<Histogram, kRouteColumns> request_seconds;
  std::array<Histogram, kDependencies.size()> dependency_seconds;
  std::array<std::atomic<uint64_t>, kDependencies.size()> dependency_errors;
  std::array<std::atomic<uint64_t>, kHoldEvents.size()> holds;
  std::array<std::array<std::atomic<uint64_t>, kWebhookResults.size()>, kEventTypes.size()>
      webhooks;
};

namespace {

constexpr size_t kFileSize = sizeof(Header) + kSlots * sizeof(Metrics::Slot);  // NOLINT

// FNV-1a over everything that fixes the file's meaning: the version, the slot size and
// every label list in order. Never 0 (0 marks a fresh file).
uint64_t LayoutDigest(const std::vector<std::string>& route_names) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    h ^= 0xffU;  // a separator no label contains
    h *= 1099511628211ULL;
  };
  mix(kLayoutVersion);
  mix(std::to_string(sizeof(Metrics::Slot)));
  for (const auto& name : route_names) mix(name);
  for (const int status : kStatuses) mix(std::to_string(status));
  for (const auto& list : {std::span<const std::string_view>(kDependencies),
                           std::span<const std::string_view>(kHoldEvents),
                           std::span<const std::string_view>(kEventTypes),
                           std::span<const std::string_view>(kWebhookResults)}) {
    for (const auto label : list) mix(label);
  }
  return h == 0 ? 1 : h;
}

bool Alive(int32_t pid) { return pid != 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

Metrics::Slot* SlotsOf(void* base) {
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): shared memory layout
  return reinterpret_cast<Metrics::Slot*>(static_cast<char*>(base) + sizeof(Header));
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
}

// Claims the file for `digest`: a fresh file is stamped; a file of another layout is
// started afresh when no live process has a slot in it, else refused.
Status ClaimLayout(void* base, uint64_t digest, const std::string& path) {
  auto* header = static_cast<Header*>(base);
  uint64_t found = 0;
  if (header->magic.compare_exchange_strong(found, digest) || found == digest) return Ok();
  Metrics::Slot* slots = SlotsOf(base);
  for (size_t i = 0; i < kSlots; ++i) {
    if (Alive(slots[i].pid.load())) {
      return Fail(ErrorKind::kInternal, "invalid_config",
                  "CHITTYCHARGE_METRICS_FILE: " + path +
                      " holds another metrics layout (another build's routes) and a live "
                      "process (pid " +
                      std::to_string(slots[i].pid.load()) + ") uses it",
                  "CHITTYCHARGE_METRICS_FILE");
    }
  }
  std::fill_n(static_cast<char*>(base) + sizeof(Header), kFileSize - sizeof(Header), '\0');
  header->magic.store(digest);
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Metrics>> Metrics::Open(const std::string& path,
                                               std::vector<std::string> route_names) {
  if (route_names.size() > kMaxRoutes) {
    return Fail(ErrorKind::kInternal, "internal_error", "more routes than metrics columns");
  }
  void* base = nullptr;
  bool mapped = false;
  if (path.empty()) {
    base = ::operator new (kFileSize, std::align_val_t{64});
    std::fill_n(static_cast<char*>(base), kFileSize, '\0');
  } else {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(kFileSize)) != 0) {
      if (fd >= 0) ::close(fd);
      return Fail(ErrorKind::kInternal, "invalid_config",
                  "CHITTYCHARGE_METRICS_FILE: cannot open " + path, "CHITTYCHARGE_METRICS_FILE");
    }
    base = ::mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (base == MAP_FAILED) {
      return Fail(ErrorKind::kInternal, "invalid_config",
                  "CHITTYCHARGE_METRICS_FILE: cannot map " + path, "CHITTYCHARGE_METRICS_FILE");
    }
    mapped = true;
  }
  if (auto claimed = ClaimLayout(base, LayoutDigest(route_names), path); !claimed) {
    if (mapped) {
      ::munmap(base, kFileSize);
    } else {
      ::operator delete (base, std::align_val_t{64});
    }
    return Fail(claimed.error());
  }
  return std::unique_ptr<Metrics>(new Metrics(base, kFileSize, mapped, std::move(route_names)));
}

Metrics::Metrics(void* base, size_t size, bool mapped, std::vector<std::string> route_names)
    : base_(base), size_(size), mapped_(mapped), route_names_(std::move(route_names)) {
  route_names_.emplace_back("unmatched");
  Slot* slots = SlotsOf(base_);
  const int32_t self = static_cast<int32_t>(::getpid());
  for (size_t i = 0; i < kSlots; ++i) {
    int32_t owner = slots[i].pid.load();
    const bool dead = owner != 0 && ::kill(owner, 0) != 0 && errno == ESRCH;
    if ((owner == 0 || dead || owner == self) &&
        slots[i].pid.compare_exchange_strong(owner, self)) {
      slots[i].in_flight.store(0);
      slot_index_ = i;
      return;
    }
  }
  slot_index_ = static_cast<size_t>(self) % kSlots;  // more processes than slots: share one
}

Metrics::~Metrics() {
  if (mapped_) {
    ::munmap(base_, size_);
  } else {
    ::operator delete (base_, std::align_val_t{64});
  }
}

Metrics::Slot& Metrics::Mine() const { return SlotsOf(base_)[slot_index_]; }

void Metrics::Request(size_t route_index, int status, double seconds) {
  // Unmatched (and anything past the table) goes to the last column Render() shows.
  const size_t r = std::min(route_index, route_names_.size() - 1);
  size_t s = kOtherStatus;
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) s = i;
  }
  Mine().requests[r][s].fetch_add(1, std::memory_order_relaxed);
  Mine().request_seconds[r].Observe(seconds);
}

void Metrics::InFlight(int delta) { Mine().in_flight.fetch_add(delta, std::memory_order_relaxed); }

void Metrics::DependencyCall(Dependency dep, double seconds, bool ok) {
  const auto d = static_cast<size_t>(dep);
  Mine().dependency_seconds[d].Observe(seconds);
  if (!ok) Mine().dependency_errors[d].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::Hold(HoldEvent event) {
  Mine().holds[static_cast<size_t>(event)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::Webhook(std::string_view type, WebhookResult result) {
  size_t t = kEventTypes.size() - 1;
  for (size_t i = 0; i + 1 < kEventTypes.size(); ++i) {
    if (kEventTypes[i] == type) t = i;
  }
  Mine().webhooks[t][static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
}

namespace {

template <typename F>
// NOLINTBEGIN(cppcoreguidelines-missing-std-forward)
uint64_t Sum(const Metrics::Slot* slots, F&& get) {
  // NOLINTEND(cppcoreguidelines-missing-std-forward)
  uint64_t total = 0;
  for (size_t i = 0; i < kSlots; ++i) {
    if (slots[i].pid.load(std::memory_order_relaxed) != 0) total += get(slots[i]);
  }
  return total;
}

void RenderHistogram(std::string& out, std::string_view name, std::string_view label,
                     const Metrics::Slot* slots, size_t index, bool dependency) {
  auto hist = [&](const Metrics::Slot& s) -> const Histogram& {
    return dependency ? s.dependency_seconds[index] : s.request_seconds[index];
  };
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= kBuckets.size(); ++b) {
    cumulative += Sum(slots, [&](const Metrics::Slot& s) {
      return hist(s).buckets[b].load(std::memory_order_relaxed);
    });
    const std::string le =
        b < kBuckets.size() ? Seconds(static_cast<uint64_t>(kBuckets[b] * 1e6)) : "+Inf";
    Line(out, std::string(name) + "_bucket", std::string(label) + ",le=\"" + le + "\"", cumulative);
  }
  const uint64_t sum_us = Sum(slots, [&](const Metrics::Slot& s) {
    return hist(s).sum_us.load(std::memory_order_relaxed);
  });
  out.append(name).append("_sum{").append(label).append("} ").append(Seconds(sum_us)).append("\n");
  Line(out, std::string(name) + "_count", label, cumulative);
}

}  // namespace

std::string Metrics::Render() const {
  const Slot* slots = SlotsOf(base_);
  std::string out;
  out.reserve(32768);
  out.append(
      "# HELP chittycharge_build_info Build information.\n# TYPE chittycharge_build_info gauge\n");
  Line(out, "chittycharge_build_info", "version=\"" CHITTYCHARGE_VERSION "\"", 1);
  out.append(
      "# HELP chittycharge_http_requests_total Requests by route and status.\n# TYPE "
      "chittycharge_http_requests_total counter\n");
  for (size_t r = 0; r < route_names_.size(); ++r) {
    for (size_t s = 0; s <= kStatuses.size(); ++s) {
      const uint64_t n = Sum(
          slots, [&](const Slot& x) { return x.requests[r][s].load(std::memory_order_relaxed); });
      if (n == 0) continue;
      const std::string status = s < kStatuses.size() ? std::to_string(kStatuses[s]) : "other";
      Line(out, "chittycharge_http_requests_total",
           "route=\"" + route_names_[r] + "\",status=\"" + status + "\"", n);
    }
  }
  out.append(
      "# HELP chittycharge_http_request_duration_seconds Request latency by route.\n# TYPE "
      "chittycharge_http_request_duration_seconds histogram\n");
  for (size_t r = 0; r < route_names_.size(); ++r) {
    RenderHistogram(out, "chittycharge_http_request_duration_seconds",
                    "route=\"" + route_names_[r] + "\"", slots, r, false);
  }
  out.append(
      "# HELP chittycharge_dependency_duration_seconds Calls to Stripe, ChittyID and memcached.\n# "
      "TYPE chittycharge_dependency_duration_seconds histogram\n");
  for (size_t d = 0; d < kDependencies.size(); ++d) {
    RenderHistogram(out, "chittycharge_dependency_duration_seconds",
                    "dependency=\"" + std::string(kDependencies[d]) + "\"", slots, d, true);
  }
  out.append(
      "# HELP chittycharge_dependency_errors_total Failed calls by dependency.\n# TYPE "
      "chittycharge_dependency_errors_total counter\n");
  for (size_t d = 0; d < kDependencies.size(); ++d) {
    Line(out, "chittycharge_dependency_errors_total",
         "dependency=\"" + std::string(kDependencies[d]) + "\"", Sum(slots, [&](const Slot& x) {
           return x.dependency_errors[d].load(std::memory_order_relaxed);
         }));
  }
  out.append(
      "# HELP chittycharge_http_requests_in_flight Requests being handled now.\n# TYPE "
      "chittycharge_http_requests_in_flight gauge\n");
  int64_t in_flight = 0;
  for (size_t i = 0; i < kSlots; ++i) {
    if (Alive(slots[i].pid.load(std::memory_order_relaxed)))
      in_flight += slots[i].in_flight.load(std::memory_order_relaxed);
  }
  out.append("chittycharge_http_requests_in_flight ")
      .append(std::to_string(in_flight))
      .append("\n");
  out.append(
      "# HELP chittycharge_holds_total Holds created, captured, canceled, declined.\n# TYPE "
      "chittycharge_holds_total counter\n");
  for (size_t h = 0; h < kHoldEvents.size(); ++h) {
    Line(out, "chittycharge_holds_total", "event=\"" + std::string(kHoldEvents[h]) + "\"",
         Sum(slots, [&](const Slot& x) { return x.holds[h].load(std::memory_order_relaxed); }));
  }
  out.append(
      "# HELP chittycharge_webhook_events_total Stripe events by type and result.\n# TYPE "
      "chittycharge_webhook_events_total counter\n");
  for (size_t t = 0; t < kEventTypes.size(); ++t) {
    for (size_t r = 0; r < kWebhookResults.size(); ++r) {
      const uint64_t n = Sum(
          slots, [&](const Slot& x) { return x.webhooks[t][r].load(std::memory_order_relaxed); });
      if (n == 0) continue;
      Line(out, "chittycharge_webhook_events_total",
           "type=\"" + std::string(kEventTypes[t]) + "\",result=\"" +
               std::string(kWebhookResults[r]) + "\"",
           n);
    }
  }
  return out;
}

}  // namespace cc::metrics
