#include "core/metrics.h"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include "test_util.h"

namespace cc::metrics {

BOOST_AUTO_TEST_SUITE(core_metrics)

BOOST_AUTO_TEST_CASE(counts_render_in_prometheus_text) {
  auto m = Metrics::Open("");
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
    auto a = Metrics::Open(path);
    auto b = Metrics::Open(path);
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    (*a)->Hold(HoldEvent::kCaptured);
    (*b)->Hold(HoldEvent::kCaptured);
    (*b)->InFlight(1);
    BOOST_TEST((*a)->Render().find("chittycharge_holds_total{event=\"captured\"} 2\n") != std::string::npos);
    BOOST_TEST((*a)->Render().find("chittycharge_http_requests_in_flight 1\n") != std::string::npos);
  }
  auto again = Metrics::Open(path);  // a restarted process keeps the totals
  REQUIRE_OK(again);
  BOOST_TEST((*again)->Render().find("chittycharge_holds_total{event=\"captured\"} 2\n") != std::string::npos);
  std::remove(path);
}

// Prometheus requires a histogram's _count to equal its le="+Inf" bucket. Another thread
// observing between the two reads used to make them differ by one.
BOOST_AUTO_TEST_CASE(histogram_count_matches_inf_bucket_while_others_observe) {
  auto m = Metrics::Open("");
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
    const auto inf = value(out, R"(chittycharge_dependency_duration_seconds_bucket{dependency="memcached",le="+Inf"} )");
    const auto count = value(out, R"(chittycharge_dependency_duration_seconds_count{dependency="memcached"} )");
    if (inf != count) ++mismatches;
  }
  stop = true;
  writer.join();
  BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::metrics
