#include "jobs/reconciler.h"

#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "holds/hold_repository.h"
#include "test_util.h"

namespace cc::jobs {
namespace {

struct Fixture : testing::PortsFixture {
  std::string CreatePending() {
    chittyid.down = true;
    http::Request r{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
    auto created = holds::CreateHold(deps(), http::Caller{alpha, "", 100}, r);
    BOOST_REQUIRE_EQUAL(created.status, 201);
    chittyid.down = false;
    auto doc = json::ParseStrict(created.body);
    return (*doc)["chitty_id"].GetString();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(jobs_reconciler, Fixture)

BOOST_AUTO_TEST_CASE(replaces_pending_ids_and_the_old_id_still_finds_the_hold) {
  const std::string pending = CreatePending();
  BOOST_TEST(pending.starts_with("CHITTY-AUTH-PENDING-"));
  const std::string pi_id = stripe.intents.begin()->first;
  BOOST_TEST(stripe.intents.at(pi_id).metadata.at("chitty_id_state") == "pending");

  chittyid.prefix = "CHITTY-AUTH-REAL";
  auto report = ReconcileOnce(deps(), 200);
  BOOST_TEST(report.resolved == 1);
  const auto& meta = stripe.intents.at(pi_id).metadata;
  BOOST_TEST(meta.at("chitty_id") == "CHITTY-AUTH-REAL1");
  BOOST_TEST(meta.at("chitty_id_pending") == pending);
  BOOST_TEST(!meta.contains("chitty_id_state"));

  auto by_new = holds::GetHold(deps(), http::Caller{alpha, "", 200}, "CHITTY-AUTH-REAL1");
  BOOST_TEST(by_new.status == 200);
  BOOST_TEST(by_new.body.find("CHITTY-AUTH-REAL1") != std::string::npos);
  BOOST_TEST(holds::GetHold(deps(), http::Caller{alpha, "", 200}, pending).status == 200);
  memory.Delete(holds::ChittyKey(pending));  // cache lost: Stripe search on chitty_id_pending
  BOOST_TEST(holds::GetHold(deps(), http::Caller{alpha, "", 200}, pending).status == 200);

  BOOST_TEST(ReconcileOnce(deps(), 300).resolved == 0);  // nothing left
  BOOST_TEST(chittyid.minted == 1);
}

BOOST_AUTO_TEST_CASE(does_nothing_while_chittyid_is_down) {
  CreatePending();
  chittyid.down = true;
  auto report = ReconcileOnce(deps(), 200);
  BOOST_TEST(report.skipped);
  BOOST_TEST(stripe.Count("update") == 0U);
}

BOOST_AUTO_TEST_CASE(one_process_at_a_time) {
  CreatePending();
  REQUIRE_OK(store.Add("reconcile:lock", "other", kReconcileLockTtl));
  BOOST_TEST(ReconcileOnce(deps(), 200).skipped);
  BOOST_TEST(chittyid.minted == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::jobs
