#include "gateway/idempotency.h"

#include <boost/test/unit_test.hpp>

#include "fakes/app_fixture.h"
#include "test_util.h"

namespace cc::gateway {
namespace {

struct Fixture : testing::AppFixture {
  Fixture()
      : AppFixture({{"alpha", "tok_a", Tier::kPremiumProperty, 1000},
                    {"beta", "tok_b", Tier::kPremiumProperty, 1000}}) {}

  http::Response Post(const std::string& path, const std::string& body, const std::string& key,
                      const std::string& token = "tok_a") {
    return Handle(http::Request{
        "POST", path, "", {{"chittyid-token", token}, {"idempotency-key", key}}, body, ""});
  }
  static bool Replayed(const http::Response& r) {
    return Header(r, "Idempotent-Replayed") == "true";
  }
};

constexpr const char* kBody = R"({"amount":5000,"description":"Deposit"})";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(gateway_idempotency, Fixture)

BOOST_AUTO_TEST_CASE(a_repeat_is_replayed_byte_for_byte_without_calling_stripe) {
  auto first = Post("/api/holds", kBody, "k1");
  BOOST_REQUIRE_EQUAL(first.status, 201);
  auto second = Post("/api/holds", kBody, "k1");
  BOOST_TEST(second.status == 201);
  BOOST_TEST(second.body == first.body);
  BOOST_TEST(Replayed(second));
  BOOST_TEST(!Replayed(first));
  BOOST_TEST(stripe.Count("create") == 1U);
}

BOOST_AUTO_TEST_CASE(same_key_other_request_is_422) {
  BOOST_REQUIRE_EQUAL(Post("/api/holds", kBody, "k2").status, 201);
  auto other = Post("/api/holds", R"({"amount":5001,"description":"Deposit"})", "k2");
  BOOST_TEST(other.status == 422);
  BOOST_TEST(other.body.find("idempotency_key_reused") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_key_in_flight_is_409) {
  http::Request r{"POST", "/api/holds", "", {}, kBody, ""};
  auto first = BeginIdempotent(store, "alpha", "k3", r);
  BOOST_TEST(!first.answer.has_value());
  auto second = BeginIdempotent(store, "alpha", "k3", r);
  BOOST_REQUIRE(second.answer.has_value());
  BOOST_TEST(second.answer->status == 409);
  BOOST_TEST(second.answer->body.find("idempotency_key_in_use") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keys_are_scoped_to_the_client) {
  BOOST_TEST(Post("/api/holds", kBody, "shared").status == 201);
  auto beta = Post("/api/holds", kBody, "shared", "tok_b");
  BOOST_TEST(beta.status == 201);
  BOOST_TEST(!Replayed(beta));
  BOOST_TEST(stripe.Count("create") == 2U);
}

BOOST_AUTO_TEST_CASE(a_5xx_releases_the_key) {
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "upstream_error", "Stripe 500");
  BOOST_TEST(Post("/api/holds", kBody, "k4").status == 502);
  auto retry = Post("/api/holds", kBody, "k4");
  BOOST_TEST(retry.status == 201);
  BOOST_TEST(!Replayed(retry));
}

// Regression: Stripe still executing the same key (409) was stored as the final answer.
BOOST_AUTO_TEST_CASE(a_conflict_that_a_retry_resolves_is_not_stored) {
  stripe.fail_next = MakeError(ErrorKind::kConflict, "idempotency_key_in_use", "Stripe busy");
  BOOST_TEST(Post("/api/holds", kBody, "k7").status == 409);
  auto retry = Post("/api/holds", kBody, "k7");
  BOOST_TEST(retry.status == 201);
  BOOST_TEST(!Replayed(retry));
}

BOOST_AUTO_TEST_CASE(errors_below_500_are_replayed_too) {
  BOOST_TEST(Post("/api/holds", R"({"amount":10})", "k5").status == 400);
  auto again = Post("/api/holds", R"({"amount":10})", "k5");
  BOOST_TEST(again.status == 400);
  BOOST_TEST(Replayed(again));
}

BOOST_AUTO_TEST_CASE(memcached_down_proceeds_and_stripe_keys_still_collapse) {
  store.SetFailing(true);
  BOOST_TEST(Post("/api/holds", kBody, "k6").status == 201);
  BOOST_TEST(Post("/api/holds", kBody, "k6").status == 201);
  BOOST_TEST(stripe.intents.size() == 1U);  // same derived Stripe key ⇒ same PaymentIntent
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::gateway
