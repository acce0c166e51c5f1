#include "jobs/releases.h"

#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "holds/journal.h"
#include "test_util.h"

namespace cc::jobs {
namespace {

constexpr int64_t kCreated = 1000;
constexpr int64_t kDue = 2000;

struct Fixture : testing::PortsFixture {
  // An authorized hold of alpha's whose release is due at kDue.
  std::string DueHold() {
    http::Request r{"POST",
                    "/api/holds",
                    "",
                    {},
                    R"({"description":"stay","payment_method":"pm_card_visa",)"
                    R"("release_after":"1970-01-01T00:33:20Z"})",
                    ""};
    auto created = holds::CreateHold(deps(), http::Caller{alpha, "", kCreated, "req-c"}, r);
    BOOST_REQUIRE_EQUAL(created.status, 201);
    auto doc = json::ParseStrict(created.body);
    BOOST_TEST(std::string((*doc)["release_after"].GetString()) == "1970-01-01T00:33:20Z");
    return (*doc)["id"].GetString();
  }
  std::vector<std::string> Types(const std::string& id) {
    std::vector<std::string> types;
    const auto page = book.ListEvents(id, "", 100);
    for (const auto& e : page->data) types.push_back(e.type);
    return types;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(jobs_releases, Fixture)

BOOST_AUTO_TEST_CASE(releases_a_due_hold_once_with_its_intent_and_event) {
  const std::string id = DueHold();
  BOOST_TEST(ReleaseDue(deps(), kDue - 1).released == 0);  // not yet
  BOOST_TEST(stripe.Count("cancel") == 0U);
  const auto report = ReleaseDue(deps(), kDue);
  BOOST_TEST(report.released == 1);
  BOOST_TEST(stripe.Count("cancel") == 1U);
  BOOST_TEST(stripe.intents.at(id).status == "canceled");
  const auto events = book.ListEvents(id, "", 100)->data;
  BOOST_TEST(events.back().type == "released");
  BOOST_TEST(events.back().actor == "scheduler");
  auto intent = book.FindIntent(holds::ReleaseKey("alpha", id));
  BOOST_REQUIRE(intent->has_value());
  BOOST_TEST(((*intent)->state == ledger::IntentState::kSucceeded));
  BOOST_TEST((*intent)->operation == "release");
  // Settled now: a later pass finds nothing, however long after the lease.
  BOOST_TEST(ReleaseDue(deps(), kDue + 10 * kReleaseLeaseSeconds).released == 0);
  BOOST_TEST(stripe.Count("cancel") == 1U);
}

BOOST_AUTO_TEST_CASE(a_stripe_failure_is_retried_after_the_lease_with_the_same_key) {
  const std::string id = DueHold();
  stripe.fail_next = Error{ErrorKind::kUnavailable, "upstream_error", "Stripe 503", "", ""};
  auto report = ReleaseDue(deps(), kDue);
  BOOST_TEST(report.failed == 1);
  BOOST_TEST(stripe.intents.at(id).status == "requires_capture");
  BOOST_TEST(ReleaseDue(deps(), kDue + 1).released == 0);  // leased to the failed pass
  report = ReleaseDue(deps(), kDue + kReleaseLeaseSeconds);
  BOOST_TEST(report.released == 1);
  BOOST_REQUIRE_EQUAL(stripe.Count("cancel"), 2U);
  BOOST_TEST(stripe.calls[stripe.calls.size() - 1].key == holds::ReleaseKey("alpha", id));
  BOOST_TEST(Types(id).back() == "released");
}

BOOST_AUTO_TEST_CASE(a_hold_captured_meanwhile_is_recorded_and_not_released) {
  const std::string id = DueHold();
  auto& pi = stripe.intents.at(id);  // captured in the Dashboard, its webhook lost
  pi.status = "succeeded";
  pi.amount_received = pi.amount;
  const auto report = ReleaseDue(deps(), kDue);
  BOOST_TEST(report.settled_elsewhere == 1);
  BOOST_TEST(report.released == 0);
  const auto types = Types(id);
  BOOST_TEST(types.back() == "captured");
  BOOST_TEST(std::count(types.begin(), types.end(), "released") == 0);
  auto intent = book.FindIntent(holds::ReleaseKey("alpha", id));
  BOOST_TEST(((*intent)->state == ledger::IntentState::kFailed));
}

BOOST_AUTO_TEST_CASE(with_the_ledger_down_nothing_moves) {
  DueHold();
  ledger.SetFailing(true);
  const auto report = ReleaseDue(deps(), kDue);
  BOOST_TEST(report.ledger_down);
  BOOST_TEST(stripe.Count("cancel") == 0U);
}

BOOST_AUTO_TEST_CASE(a_webhook_that_records_the_cancel_first_still_names_it_released) {
  const std::string id = DueHold();
  // The pass's intent is begun and Stripe cancels; the webhook's re-read records it first.
  auto due = book.LeaseDueReleases(kDue, kReleaseLeaseSeconds, 10);
  BOOST_REQUIRE_EQUAL(due->size(), 1U);
  ledger::StripeIntent intent;
  intent.idempotency_key = holds::ReleaseKey("alpha", id);
  intent.operation = "release";
  intent.hold_id = id;
  intent.params_digest = std::string(64, 'a');
  intent.created_at = kDue;
  REQUIRE_OK(book.BeginIntent(intent));
  auto canceled = stripe.Cancel(id, {}, intent.idempotency_key);
  REQUIRE_OK(canceled);
  REQUIRE_OK(holds::SyncHold(ledger, holds::HoldRecord::FromStripe(*canceled, std::nullopt, kDue),
                             holds::Actor{"stripe", ""}, kDue));
  const auto events = book.ListEvents(id, "", 100)->data;
  BOOST_TEST(events.back().type == "released");
  BOOST_TEST(events.back().actor == "scheduler");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::jobs
