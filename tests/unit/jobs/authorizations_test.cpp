#include "jobs/authorizations.h"

#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "core/time_util.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "holds/journal.h"
#include "test_util.h"

namespace cc::jobs {
namespace {

constexpr int64_t kStart = 1767225600;
constexpr int64_t kDay = 86400;

struct Fixture : testing::PortsFixture {
  Fixture() { stripe.now = kStart; }

  std::string Create(const std::string& body) {
    http::Request r{"POST", "/api/holds", "", {}, body, ""};
    auto created = holds::CreateHold(deps(), http::Caller{alpha, "", kStart, "req-c"}, r);
    BOOST_REQUIRE_EQUAL(created.status, 201);
    return (*json::ParseStrict(created.body))["id"].GetString();
  }
  // A 10-day stay with reauthorize, authorized by the guest's visa and recorded.
  std::string LongStay() {
    const std::string id =
        Create(R"({"description":"stay","reauthorize":true,"payment_method":"pm_card_visa",)"
               R"("stay_ends_at":")" +
               FormatIso8601(kStart + 10 * kDay) + "\"}");
    auto pi = stripe.Retrieve(id);
    REQUIRE_OK(holds::SyncHold(book, holds::HoldRecord::FromStripe(*pi, std::nullopt, kStart),
                               holds::Actor{"stripe", ""}, kStart));
    return id;
  }
  std::vector<std::string> Types(const std::string& id) {
    std::vector<std::string> types;
    const auto page = book.ListEvents(id, "", 100);
    for (const auto& e : page->data) types.push_back(e.type);
    return types;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(jobs_authorizations, Fixture)

BOOST_AUTO_TEST_CASE(re_authorizes_margin_before_expiry_and_authorizes_scheduled_holds) {
  const std::string stay = LongStay();
  const std::string scheduled = Create(R"({"description":"later","authorize_at":")" +
                                       FormatIso8601(kStart + 2 * kDay) + "\"}");
  stripe.SaveCard(scheduled, "pm_card_visa");
  // Day 5: nothing due (the first authorization ends on day 7, the margin is 24 h).
  auto early = AuthorizeDue(deps(), kStart + 5 * kDay - 1);
  BOOST_TEST(early.reauthorized == 0);
  BOOST_TEST(early.authorized == 1);  // the scheduled one was due on day 2
  BOOST_TEST(Types(scheduled).back() == "authorized");
  stripe.now = kStart + 6 * kDay;
  auto due = AuthorizeDue(deps(), kStart + 6 * kDay);
  BOOST_TEST(due.reauthorized == 1);
  BOOST_TEST(due.deferred == 0);
  BOOST_TEST(Types(stay).back() == "reauthorized");
  BOOST_TEST(book.ListEvents(stay, "", 100)->data.back().actor == "scheduler");
  // Its new window (4 d 18 h from day 6) covers the stay: never due again.
  const auto again = AuthorizeDue(deps(), kStart + 9 * kDay);
  BOOST_TEST(again.reauthorized == 0);
  BOOST_TEST(stripe.Count("create") == 3U);  // the stay's two and the scheduled one
}

BOOST_AUTO_TEST_CASE(a_killed_pass_is_finished_by_the_next_one_with_the_same_keys) {
  const std::string stay = LongStay();
  stripe.now = kStart + 6 * kDay;
  // A pass whose cancel of the old authorization failed (killed, or Stripe down): the new
  // authorization exists, the chain has not moved.
  stripe.fail_next.reset();
  auto first = book.LeaseDueAuthorizations(kStart + 6 * kDay, kDay, 300, 10);
  BOOST_REQUIRE_EQUAL(first->size(), 1U);
  // Leased: a concurrent pass gets nothing.
  BOOST_TEST(AuthorizeDue(deps(), kStart + 6 * kDay).reauthorized == 0);
  // The lease runs out and the next pass re-authorizes: one Stripe create for it.
  auto next = AuthorizeDue(deps(), kStart + 6 * kDay + 301);
  BOOST_TEST(next.reauthorized == 1);
  BOOST_TEST(stripe.Count("create") == 2U);
  BOOST_TEST(stripe.Count("cancel") == 1U);
  BOOST_TEST(Types(stay).back() == "reauthorized");
}

BOOST_AUTO_TEST_CASE(a_refusal_is_counted_and_not_retried_by_the_scheduler) {
  const std::string scheduled =
      Create(R"({"description":"later","authorize_at":")" + FormatIso8601(kStart + kDay) + "\"}");
  const auto report = AuthorizeDue(deps(), kStart + kDay);
  BOOST_TEST(report.authorization_failed == 1);
  BOOST_TEST(Types(scheduled).back() == "authorization_failed");
  BOOST_TEST(AuthorizeDue(deps(), kStart + 2 * kDay).authorization_failed == 0);
  ledger.SetFailing(true);
  BOOST_TEST(AuthorizeDue(deps(), kStart + 2 * kDay).ledger_down);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::jobs
