#include "http/router.h"

#include <array>
#include <boost/test/unit_test.hpp>

#include "http/http.h"

namespace cc::http {

BOOST_AUTO_TEST_SUITE(http_router)

constexpr std::array<RouteSpec, 6> kTable{{
    {"GET", "/health"},
    {"POST", "/webhook"},
    {"GET", "/api/holds"},
    {"POST", "/api/holds"},
    {"GET", "/api/holds/:id"},
    {"POST", "/api/holds/:id/capture"},
}};

RouteMatch Match(std::string_view method, std::string_view path) {
  return MatchRoute(kTable, method, path);
}

BOOST_AUTO_TEST_CASE(matches_every_route_and_extracts_ids) {
  BOOST_TEST(*Match("GET", "/health").index == 0);
  BOOST_TEST(*Match("POST", "/api/holds").index == 3);
  BOOST_TEST(*Match("GET", "/api/holds").index == 2);
  auto get = Match("GET", "/api/holds/CHITTY-AUTH-1");
  BOOST_TEST(*get.index == 4);
  BOOST_TEST(get.id == "CHITTY-AUTH-1");
  auto capture = Match("POST", "/api/holds/pi_123/capture");
  BOOST_TEST(*capture.index == 5);
  BOOST_TEST(capture.id == "pi_123");
  BOOST_TEST(Match("GET", "/api/holds/a%20b").id == "a b");
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_wrong_methods) {
  BOOST_TEST(!Match("GET", "/api/holds/").index.has_value());
  BOOST_TEST(Match("GET", "/api/holds/").allow.empty());
  BOOST_TEST(!Match("GET", "/api/holds/pi_1/refund").index.has_value());
  BOOST_TEST(Match("GET", "/healthz").allow.empty());
  BOOST_TEST(Match("PUT", "/api/holds/pi_1").allow == "GET");
  BOOST_TEST(Match("GET", "/webhook").allow == "POST");
  BOOST_TEST(Match("DELETE", "/api/holds").allow == "GET, POST");
}

BOOST_AUTO_TEST_CASE(a_route_is_named_by_its_method_and_pattern) {
  BOOST_TEST(RouteName(kTable[5]) == "POST /api/holds/:id/capture");
}

BOOST_AUTO_TEST_CASE(query_strings_decode) {
  auto q = ParseQuery("property_id=prop%201&status=requires_capture&x=a+b&empty=&bad=%zz");
  BOOST_TEST(q["property_id"] == "prop 1");
  BOOST_TEST(q["x"] == "a b");
  BOOST_TEST(q["empty"].empty());
  BOOST_TEST(q["bad"] == "%zz");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::http
