#include "http/router.h"

#include <boost/test/unit_test.hpp>

#include "http/http.h"

namespace cc::http {

BOOST_AUTO_TEST_SUITE(http_router)

BOOST_AUTO_TEST_CASE(matches_every_route_and_extracts_ids) {
  BOOST_TEST((*MatchRoute("GET", "/health").route == Route::kHealth));
  BOOST_TEST((*MatchRoute("POST", "/api/holds").route == Route::kCreateHold));
  BOOST_TEST((*MatchRoute("GET", "/api/holds").route == Route::kListHolds));
  auto get = MatchRoute("GET", "/api/holds/CHITTY-AUTH-1");
  BOOST_TEST((*get.route == Route::kGetHold));
  BOOST_TEST(get.id == "CHITTY-AUTH-1");
  auto capture = MatchRoute("POST", "/api/holds/pi_123/capture");
  BOOST_TEST((*capture.route == Route::kCaptureHold));
  BOOST_TEST(capture.id == "pi_123");
  BOOST_TEST((*MatchRoute("POST", "/api/holds/pi_1/cancel").route == Route::kCancelHold));
  BOOST_TEST(MatchRoute("GET", "/api/holds/a%20b").id == "a b");
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_wrong_methods) {
  BOOST_TEST(!MatchRoute("GET", "/api/holds/").route.has_value());
  BOOST_TEST(MatchRoute("GET", "/api/holds/").allow.empty());
  BOOST_TEST(!MatchRoute("GET", "/api/holds/pi_1/refund").route.has_value());
  BOOST_TEST(MatchRoute("GET", "/healthz").allow.empty());
  BOOST_TEST(MatchRoute("PUT", "/api/holds/pi_1").allow == "GET");
  BOOST_TEST(MatchRoute("GET", "/webhook").allow == "POST");
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
