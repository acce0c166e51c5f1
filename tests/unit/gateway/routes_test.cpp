#include "gateway/routes.h"

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "test_util.h"

namespace cc::gateway {
namespace {

// A concrete path for a pattern: ":id" becomes "x1".
std::string Example(std::string_view pattern) {
  std::string path(pattern);
  for (size_t at = path.find(":id"); at != std::string::npos; at = path.find(":id")) {
    path.replace(at, 3, "x1");
  }
  return path;
}

BOOST_AUTO_TEST_SUITE(gateway_routes)

BOOST_AUTO_TEST_CASE(every_row_is_reachable_and_named_once) {
  std::vector<http::RouteSpec> specs;
  for (const auto& route : Routes()) specs.push_back(route.spec);
  std::set<std::string> names;
  for (size_t i = 0; i < specs.size(); ++i) {
    BOOST_TEST_INFO(http::RouteName(specs[i]));
    const auto match = http::MatchRoute(specs, specs[i].method, Example(specs[i].pattern));
    BOOST_REQUIRE(match.index.has_value());
    BOOST_TEST(*match.index == i);  // no earlier row shadows it
    BOOST_TEST(Routes()[i].handler != nullptr);
    BOOST_TEST(names.insert(http::RouteName(specs[i])).second);
  }
  const auto listed = RouteNames();
  BOOST_TEST(std::set<std::string>(listed.begin(), listed.end()) == names);
  BOOST_TEST(listed.size() == Routes().size());
}

BOOST_AUTO_TEST_CASE(metrics_label_every_route_of_the_table) {
  auto metrics = metrics::Metrics::Open("", RouteNames());
  REQUIRE_OK(metrics);
  for (size_t i = 0; i < Routes().size(); ++i) (*metrics)->Request(i, 200, 0.001);
  const std::string out = (*metrics)->Render();
  for (const auto& name : RouteNames()) {
    BOOST_TEST_INFO(name);
    BOOST_TEST(out.find("chittycharge_http_requests_total{route=\"" + name +
                        "\",status=\"200\"} 1\n") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(only_the_operational_routes_skip_the_client_token) {
  for (const auto& route : Routes()) {
    BOOST_TEST_INFO(http::RouteName(route.spec));
    if (route.spec.pattern.starts_with("/api/")) BOOST_TEST((route.access == Access::kClient));
    // The guest page's routes: the link's token in the path is their one credential.
    if (route.spec.pattern.starts_with("/pay/")) BOOST_TEST((route.access == Access::kGuestLink));
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::gateway
