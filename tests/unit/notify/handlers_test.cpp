// Tests for notify/handlers.h: GET /api/notifications?status=failed over the in-memory
// ledger: the caller's failed notifications only, its query, and a down ledger.
#include "notify/handlers.h"

#include <boost/test/unit_test.hpp>
#include <vector>

#include "core/json.h"
#include "fakes/ports_fixture.h"
#include "ledger/ledger_behaviour.h"
#include "test_util.h"

namespace cc::notify {
namespace {

using Outcome = ledger::NotificationAttempt::Outcome;
using ledger::behaviour::kNow;

struct Fixture : testing::PortsFixture {
  Fixture() {
    const std::vector<std::string> clients{"alpha", "beta"};
    BOOST_REQUIRE(book.SetNotificationClients(clients).has_value());
    for (const auto& [pi, client] : {std::pair{"pi_n1", "alpha"}, std::pair{"pi_n2", "alpha"},
                                     std::pair{"pi_n3", "alpha"}, std::pair{"pi_m1", "beta"}}) {
      BOOST_REQUIRE(book.RecordHold(ledger::behaviour::MakeHold(pi, client, kNow)).has_value());
      auto e = ledger::behaviour::MakeEvent(std::string("evt_") + (pi + 3), pi, "captured");
      BOOST_REQUIRE(book.AppendEvent(e).has_value());
    }
    BOOST_REQUIRE(book.LeaseDueNotifications(kNow, 60, 10).has_value());
    Record({"ntf_n1", Outcome::kFailed, "HTTP 500: oops", kNow + 10, kNow});
    Record({"ntf_n2", Outcome::kGaveUp, "timeout: no answer within 10 s", {}, kNow});
    Record({"ntf_n3", Outcome::kDelivered, "", {}, kNow});
    Record({"ntf_m1", Outcome::kFailed, "HTTP 404", kNow + 10, kNow});
  }
  void Record(const ledger::NotificationAttempt& a) {
    BOOST_REQUIRE(book.RecordNotificationAttempt(a).has_value());
  }
  http::Response Get(const config::ClientToken& c, std::string query) {
    http::Request r{"GET", "/api/notifications", std::move(query), {}, "", ""};
    return ListNotifications(deps(), http::Caller{c, "", kNow, "req-test"}, r);
  }
  static rapidjson::Document Body(const http::Response& r) {
    auto doc = json::ParseStrict(r.body);
    BOOST_REQUIRE(doc.has_value());
    return std::move(*doc);
  }
  static std::vector<std::string> Ids(const rapidjson::Document& doc) {
    std::vector<std::string> ids;
    for (const auto& n : doc["data"].GetArray()) ids.emplace_back(n["id"].GetString());
    return ids;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(notify_handlers, Fixture)

BOOST_AUTO_TEST_CASE(lists_the_callers_failed_notifications_only) {
  auto r = Get(alpha, "status=failed");
  BOOST_REQUIRE_EQUAL(r.status, 200);
  auto doc = Body(r);
  BOOST_TEST(Ids(doc) == (std::vector<std::string>{"ntf_n2", "ntf_n1"}),  // newest first
             boost::test_tools::per_element());
  BOOST_TEST(!doc["has_more"].GetBool());
  const auto& gave_up = doc["data"][0];
  BOOST_TEST(std::string(gave_up["status"].GetString()) == "gave_up");
  BOOST_TEST(gave_up["attempts"].GetInt() == 1);
  BOOST_TEST(gave_up["next_attempt_at"].IsNull());
  const auto& retrying = doc["data"][1];
  BOOST_TEST(std::string(retrying["status"].GetString()) == "retrying");
  BOOST_TEST(std::string(retrying["last_error"].GetString()) == "HTTP 500: oops");
  BOOST_TEST(std::string(retrying["hold_id"].GetString()) == "pi_n1");
  BOOST_TEST(std::string(retrying["type"].GetString()) == "hold.captured");
  BOOST_TEST(retrying["next_attempt_at"].IsString());
  auto beta_page = Body(Get(beta, "status=failed"));
  BOOST_TEST(Ids(beta_page) == std::vector<std::string>{"ntf_m1"});
}

BOOST_AUTO_TEST_CASE(pages_with_limit_and_starting_after) {
  auto first = Body(Get(alpha, "status=failed&limit=1"));
  BOOST_TEST(Ids(first) == std::vector<std::string>{"ntf_n2"});
  BOOST_TEST(first["has_more"].GetBool());
  auto second = Body(Get(alpha, "status=failed&limit=1&starting_after=ntf_n2"));
  BOOST_TEST(Ids(second) == std::vector<std::string>{"ntf_n1"});
  BOOST_TEST(!second["has_more"].GetBool());
}

BOOST_AUTO_TEST_CASE(a_bad_query_is_400_naming_the_parameter) {
  for (const char* query : {"", "status=pending", "status=delivered"}) {
    auto r = Get(alpha, query);
    BOOST_TEST_INFO(query);
    BOOST_TEST(r.status == 400);
    BOOST_TEST(std::string(Body(r)["param"].GetString()) == "status");
  }
  for (const char* query :
       {"status=failed&limit=0", "status=failed&limit=101", "status=failed&limit=x"}) {
    auto r = Get(alpha, query);
    BOOST_TEST(r.status == 400);
    BOOST_TEST(std::string(Body(r)["param"].GetString()) == "limit");
  }
  auto foreign = Get(alpha, "status=failed&starting_after=ntf_m1");  // beta's
  BOOST_TEST(foreign.status == 400);
  BOOST_TEST(std::string(Body(foreign)["param"].GetString()) == "starting_after");
}

BOOST_AUTO_TEST_CASE(a_down_ledger_is_503) {
  ledger.SetFailing(true);
  auto r = Get(alpha, "status=failed");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(std::string(Body(r)["code"].GetString()) == "service_unavailable");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::notify
