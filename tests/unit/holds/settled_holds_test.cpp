#include "holds/settled_holds.h"

#include <boost/test/unit_test.hpp>

#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "holds/hold_repository.h"
#include "test_util.h"

namespace cc::holds {
namespace {

struct Fixture : testing::PortsFixture {
  int64_t now = 1767225600;
  SettledHolds settled;

  http::Deps with_memory() { return http::Deps{config, stripe, chittyid, store, ledger, &settled}; }
  http::Caller as(const config::ClientToken& c) { return http::Caller{c, {}, now, "req-test"}; }
  static http::Request Post(std::string body) {
    http::Request r;
    r.method = "POST";
    r.body = std::move(body);
    return r;
  }
  // A hold of alpha's in `status`: "requires_capture", "succeeded" (captured through the
  // service) or "canceled".
  std::string Hold(std::string_view status) {
    auto created = CreateHold(with_memory(), as(alpha), Post(R"({"description":"x"})"));
    BOOST_REQUIRE_EQUAL(created.status, 201);
    const std::string id = stripe.intents.begin()->first;
    REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
    now += 5;  // past the 2 s freshness: the action reads Stripe
    if (status == "succeeded")
      BOOST_REQUIRE_EQUAL(CaptureHold(with_memory(), as(alpha), Post("{}"), id).status, 200);
    if (status == "canceled")
      BOOST_REQUIRE_EQUAL(CancelHold(with_memory(), as(alpha), Post("{}"), id).status, 200);
    return id;
  }
  std::string Get(const std::string& id, const config::ClientToken& who) {
    auto r = GetHold(with_memory(), as(who), id);
    return std::to_string(r.status) + " " + r.body;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(holds_settled_holds, Fixture)

BOOST_AUTO_TEST_CASE(a_settled_hold_is_served_from_memory_for_the_freshness_window) {
  const std::string id = Hold("succeeded");
  const std::string first = Get(id, alpha);
  BOOST_TEST(first.starts_with("200 "));
  BOOST_TEST(settled.size() == 1U);

  // Out of band: the cache is gone and an operator edits the hold at Stripe.
  memory.Clear();
  stripe.intents.at(id).description = "edited at Stripe";
  now += kFreshSeconds - 1;
  BOOST_TEST(Get(id, alpha) == first);  // no memcached read, no Stripe read
  BOOST_TEST(stripe.Count("retrieve") == 1U);

  now += 1;
  const std::string later = Get(id, alpha);
  BOOST_TEST(later.find("edited at Stripe") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(by_chitty_id_and_canceled_too) {
  const std::string id = Hold("canceled");
  const std::string first = Get("CHITTY-AUTH-FAKE1", alpha);
  BOOST_TEST(first.find(id) != std::string::npos);
  memory.Clear();
  store.SetFailing(true);  // a chitty_id lookup would now need Stripe's search
  BOOST_TEST(Get("CHITTY-AUTH-FAKE1", alpha) == first);
  BOOST_TEST(stripe.Count("search") == 0U);
}

BOOST_AUTO_TEST_CASE(another_client_is_not_served_the_remembered_hold) {
  const std::string id = Hold("succeeded");
  BOOST_TEST(Get(id, alpha).starts_with("200 "));
  BOOST_TEST(Get(id, beta).starts_with("404 "));
}

BOOST_AUTO_TEST_CASE(holds_that_may_still_change_are_not_remembered) {
  const std::string live = Hold("requires_capture");
  BOOST_TEST(Get(live, alpha).starts_with("200 "));
  BOOST_TEST(settled.size() == 0U);

  // Captured at Stripe directly: succeeded, but the capture time is not known yet (a
  // webhook will tell it).
  REQUIRE_OK(stripe.Capture(live, stripe::CaptureParams{}, "k"));
  now += 5;
  auto got = GetHold(with_memory(), as(alpha), live);
  BOOST_TEST(got.body.find("\"status\":\"succeeded\"") != std::string::npos);
  BOOST_TEST(settled.size() == 0U);
}

BOOST_AUTO_TEST_CASE(a_pending_chitty_id_is_not_final) {
  chittyid.down = true;
  const std::string id = Hold("canceled");
  BOOST_TEST(Get(id, alpha).find("CHITTY-AUTH-PENDING-") != std::string::npos);
  BOOST_TEST(settled.size() == 0U);
}

BOOST_AUTO_TEST_CASE(memory_is_bounded) {
  HoldRecord record;
  record.pi.status = "canceled";
  record.pi.metadata = {{"client", "alpha"}, {"chitty_id", "CHITTY-AUTH-1"}};
  BOOST_REQUIRE(IsSettled(record));
  for (size_t i = 0; i < SettledHolds::kCapacity + 10; ++i) {
    settled.Remember("pi_" + std::to_string(i), record, "{}", now);
    BOOST_TEST_REQUIRE(settled.size() <= SettledHolds::kCapacity);
  }
  BOOST_TEST(settled.Find("pi_" + std::to_string(SettledHolds::kCapacity + 9), "alpha", now) !=
             nullptr);
  SettledHolds full;
  for (size_t i = 0; i < SettledHolds::kCapacity; ++i)
    full.Remember("pi_" + std::to_string(i), record, "{}", now);
  BOOST_TEST(full.size() == SettledHolds::kCapacity);
  full.Remember("pi_late", record, "{}", now + kFreshSeconds);  // the others have expired
  BOOST_TEST(full.size() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
