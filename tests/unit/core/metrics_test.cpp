#include "core/metrics.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace cc::metrics {

BOOST_AUTO_TEST_SUITE(core_metrics)

const std::vector<std::string> kNames{"GET /health", "GET /metrics", "POST /webhook",
                                      "GET /api/holds", "POST /api/holds"};

std::string TempPath() {
  char path[] = "/tmp/cc-metrics-XXXXXX";  // NOLINT(cppcoreguidelines-avoid-c-arrays): mkstemp
  const int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  return path;
}

BOOST_AUTO_TEST_CASE(counts_render_in_prometheus_text) {
  auto m = Metrics::Open("", kNames);
  REQUIRE_OK(m);
  (*m)->Request(4, 201, 0.003);
  (*m)->Request(4, 201, 0.2);
  (*m)->Request(Metrics::kUnmatchedRoute, 418, 0.001);
  (*m)->Hold(HoldEvent::kCreated);
  (*m)->Webhook("payment_intent.succeeded", WebhookResult::kApplied);
  (*m)->Webhook("customer.created", WebhookResult::kIgnored);
  (*m)->DependencyCall(Dependency::kStripe, 0.3, false);
  const std::string out = (*m)->Render();
  auto has = [&](const std::string& line) {
    BOOST_TEST_INFO(line);
    BOOST_TEST(out.find(line + "\n") != std::string::npos);
  };
  has(R"(chittycharge_http_requests_total{route="POST /api/holds",status="201"} 2)");
  has(R"(chittycharge_http_requests_total{route="unmatched",status="other"} 1)");
  has(R"(chittycharge_http_request_duration_seconds_bucket{route="POST /api/holds",le="0.005000"} 1)");
  has(R"(chittycharge_http_request_duration_seconds_bucket{route="POST /api/holds",le="0.250000"} 2)");
  has(R"(chittycharge_http_request_duration_seconds_bucket{route="POST /api/holds",le="+Inf"} 2)");
  has(R"(chittycharge_http_request_duration_seconds_count{route="POST /api/holds"} 2)");
  has(R"(chittycharge_holds_total{event="created"} 1)");
  has(R"(chittycharge_webhook_events_total{type="payment_intent.succeeded",result="applied"} 1)");
  has(R"(chittycharge_webhook_events_total{type="other",result="ignored"} 1)");
  has(R"(chittycharge_dependency_errors_total{dependency="stripe"} 1)");
  has("chittycharge_http_requests_in_flight 0");
}

BOOST_AUTO_TEST_CASE(processes_sharing_a_file_are_summed) {
  char path[] = "/tmp/cc-metrics-XXXXXX";  // NOLINT(cppcoreguidelines-avoid-c-arrays): mkstemp
  const int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  {
    auto a = Metrics::Open(path, {});
    auto b = Metrics::Open(path, {});
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    (*a)->Hold(HoldEvent::kCaptured);
    (*b)->Hold(HoldEvent::kCaptured);
    (*b)->InFlight(1);
    BOOST_TEST((*a)->Render().find("chittycharge_holds_total{event=\"captured\"} 2\n") !=
               std::string::npos);
    BOOST_TEST((*a)->Render().find("chittycharge_http_requests_in_flight 1\n") !=
               std::string::npos);
  }
  auto again = Metrics::Open(path, {});  // a restarted process keeps the totals
  REQUIRE_OK(again);
  BOOST_TEST((*again)->Render().find("chittycharge_holds_total{event=\"captured\"} 2\n") !=
             std::string::npos);
  std::remove(path);
}

// Prometheus requires a histogram's _count to equal its le="+Inf" bucket. Another thread
// observing between the two reads used to make them differ by one.
BOOST_AUTO_TEST_CASE(histogram_count_matches_inf_bucket_while_others_observe) {
  auto m = Metrics::Open("", {});
  REQUIRE_OK(m);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 2'000'000 && !stop.load(); ++i) {
      (*m)->DependencyCall(Dependency::kMemcached, 0.0001 * (i % 200), true);
    }
  });
  auto value = [](const std::string& out, const std::string& line) {
    const size_t at = out.find(line);
    BOOST_REQUIRE(at != std::string::npos);
    return std::stoull(out.substr(at + line.size()));
  };
  int mismatches = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string out = (*m)->Render();
    const auto inf = value(
        out,
        R"(chittycharge_dependency_duration_seconds_bucket{dependency="memcached",le="+Inf"} )");
    const auto count =
        value(out, R"(chittycharge_dependency_duration_seconds_count{dependency="memcached"} )");
    if (inf != count) ++mismatches;
  }
  stop = true;
  writer.join();
  BOOST_TEST(mismatches == 0);
}

// A file stamped with another routes table, while a live process uses it: refused.
BOOST_AUTO_TEST_CASE(a_file_of_another_layout_in_use_is_refused) {
  const std::string path = TempPath();
  auto first = Metrics::Open(path, kNames);
  REQUIRE_OK(first);
  auto other = Metrics::Open(path, {"GET /health", "GET /other"});
  REQUIRE_ERROR(other);
  BOOST_TEST(other.error().message.find("another metrics layout") != std::string::npos);
  REQUIRE_OK(Metrics::Open(path, kNames));  // the same layout is shared as before
  std::remove(path.c_str());
}

// Once every process of the old layout is gone (an upgrade restarted the pool), the file
// starts afresh with the new layout instead of being read with the wrong column meanings.
BOOST_AUTO_TEST_CASE(a_file_of_another_layout_left_by_dead_processes_starts_afresh) {
  const std::string path = TempPath();
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    auto old = Metrics::Open(path, {"GET /health", "GET /old"});
    if (old) (*old)->Hold(HoldEvent::kCaptured);
    _exit(old ? 0 : 1);
  }
  int status = 0;
  BOOST_REQUIRE(waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto fresh = Metrics::Open(path, kNames);
  REQUIRE_OK(fresh);
  BOOST_TEST((*fresh)->Render().find("chittycharge_holds_total{event=\"captured\"} 0\n") !=
             std::string::npos);
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::metrics
