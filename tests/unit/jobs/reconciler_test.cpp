#include "jobs/reconciler.h"

#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "core/time_util.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "holds/hold_repository.h"
#include "holds/journal.h"
#include "jobs/disputes.h"
#include "test_util.h"

namespace cc::jobs {
namespace {

struct Fixture : testing::PortsFixture {
  // The tests' clock moves 100 s between a worker's step and the reconciler's pass; the
  // default grace (180 s, longer than any request lives) would leave every intent alone.
  Fixture() { config.intent_grace_s = 60; }

  std::string CreatePending() {
    chittyid.down = true;
    http::Request r{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
    auto created = holds::CreateHold(deps(), http::Caller{alpha, "", 100, "req-test"}, r);
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

  auto by_new =
      holds::GetHold(deps(), http::Caller{alpha, "", 200, "req-test"}, "CHITTY-AUTH-REAL1");
  BOOST_TEST(by_new.status == 200);
  BOOST_TEST(by_new.body.find("CHITTY-AUTH-REAL1") != std::string::npos);
  BOOST_TEST(holds::GetHold(deps(), http::Caller{alpha, "", 200, "req-test"}, pending).status ==
             200);
  memory.Delete(holds::ChittyKey(pending));  // cache lost: Stripe search on chitty_id_pending
  BOOST_TEST(holds::GetHold(deps(), http::Caller{alpha, "", 200, "req-test"}, pending).status ==
             200);

  BOOST_TEST(ReconcileOnce(deps(), 300).resolved == 0);  // nothing left
  BOOST_TEST(chittyid.minted == 1);
  // The Stripe update had its intent, finished, and the trail says what changed.
  BOOST_TEST(book.ListPendingIntents(10000, 10)->empty());
  auto hold = book.FindHold(pending);
  BOOST_REQUIRE(hold->has_value());
  auto events = book.ListEvents((*hold)->id, "", 10);
  BOOST_REQUIRE_EQUAL(events->data.size(), 2U);
  BOOST_TEST(events->data[1].type == "chitty_id_assigned");
  BOOST_TEST(events->data[1].chitty_id == "CHITTY-AUTH-REAL1");
  BOOST_TEST(events->data[1].actor == "reconciler");
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

// A worker killed between Stripe's answer and its record leaves a pending intent; the
// reconciler records what Stripe did, with the ids the worker would have used.
BOOST_AUTO_TEST_CASE(finishes_a_create_whose_worker_died_before_the_record) {
  ledger::FaultyLedger dying(book);
  http::Deps deps_dying{config, stripe, chittyid, store, dying};
  http::Request r{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  stripe.fail_next = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "slow");
  // The answer never came back (timeout) though Stripe may have acted: simulate by
  // creating at Stripe directly under the intent's ChittyID after the worker gave up.
  auto lost = holds::CreateHold(deps_dying, http::Caller{alpha, "", 100, "req-x"}, r);
  BOOST_REQUIRE_EQUAL(lost.status, 504);
  auto pending = book.ListPendingIntents(1000, 10);
  BOOST_REQUIRE_EQUAL(pending->size(), 1U);
  const std::string chitty = holds::IntentField(pending->front().request_json, "chitty_id");
  REQUIRE_OK(stripe.Create({100, "usd", "x", "", "", {{"chitty_id", chitty}, {"client", "alpha"}}},
                           pending->front().idempotency_key));
  BOOST_TEST(ReconcileOnce(deps(), 130).intents_finished == 0);  // within the grace
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 1);
  BOOST_TEST(book.ListPendingIntents(1000, 10)->empty());
  auto hold = book.FindHold(chitty);
  BOOST_REQUIRE(hold->has_value());
  auto events = book.ListEvents((*hold)->id, "", 10);
  BOOST_REQUIRE_EQUAL(events->data.size(), 1U);
  BOOST_TEST(events->data[0].type == "created");
  BOOST_TEST(events->data[0].actor == "reconciler");
  BOOST_TEST(ReconcileOnce(deps(), 300).intents_finished == 0);
  BOOST_TEST(stripe.Count("create") == 2U);  // the lost one and the double's: never again
}

BOOST_AUTO_TEST_CASE(a_repaired_create_keeps_the_disclosure_from_its_intent) {
  http::Request r{"POST",
                  "/api/holds",
                  "",
                  {},
                  R"({"description":"x","disclosure":{"version":"2026-12-01",)"
                  R"("accepted_at":"1970-01-01T00:01:00Z"}})",
                  ""};
  stripe.fail_next = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "slow");
  BOOST_REQUIRE_EQUAL(holds::CreateHold(deps(), http::Caller{alpha, "", 100, "req-x"}, r).status,
                      504);
  auto pending = book.ListPendingIntents(1000, 10);
  BOOST_REQUIRE_EQUAL(pending->size(), 1U);
  const std::string chitty = holds::IntentField(pending->front().request_json, "chitty_id");
  REQUIRE_OK(stripe.Create({100, "usd", "x", "", "", {{"chitty_id", chitty}, {"client", "alpha"}}},
                           pending->front().idempotency_key));
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 1);
  auto hold = book.FindHold(chitty);
  BOOST_REQUIRE(hold->has_value());
  BOOST_TEST((*hold)->disclosure_json ==
             R"({"version":"2026-12-01","accepted_at":"1970-01-01T00:01:00Z"})");
}

// An evidence intent left pending: succeeded when its file was recorded, else failed (no
// Stripe call either way: the bytes are not kept).
BOOST_AUTO_TEST_CASE(closes_evidence_intents_from_the_ledgers_files) {
  auto made = stripe.Create(
      {100, "usd", "x", "", "", {{"chitty_id", "CHITTY-1"}, {"client", "alpha"}}}, "create-1");
  REQUIRE_OK(made);
  const std::string pi = made->id;
  REQUIRE_OK(holds::RecordCreated(book, holds::HoldRecord::FromStripe(*made, std::nullopt, 100),
                                  holds::Actor{"client:alpha", ""}, 100));
  auto begin = [&](const std::string& key, const std::string& filename) {
    ledger::StripeIntent intent;
    intent.idempotency_key = key;
    intent.operation = "evidence";
    intent.hold_id = pi;
    intent.params_digest = std::string(64, 'a');
    intent.request_json =
        holds::IntentRequest({{"filename", filename}, {"type", "image/png"}, {"size", "10"}});
    intent.created_at = 100;
    REQUIRE_OK(book.BeginIntent(intent));
  };
  begin("evidence-recorded", "a.png");
  begin("evidence-lost", "b.png");
  ledger::Evidence file{"file_a", pi, "a.png", 10, "image/png", 101};
  ledger::Event added;
  added.id = "evt_file_a";
  added.hold_id = pi;
  added.chitty_id = "CHITTY-1";
  added.type = "evidence_added";
  added.actor = "client:alpha";
  added.created_at = 101;
  REQUIRE_OK(book.RecordEvidence(file, added));
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 2);
  auto recorded = book.FindIntent("evidence-recorded");
  BOOST_TEST(((*recorded)->state == ledger::IntentState::kSucceeded));
  BOOST_TEST(holds::IntentField((*recorded)->result_json, "id") == "file_a");
  auto lost = book.FindIntent("evidence-lost");
  BOOST_TEST(((*lost)->state == ledger::IntentState::kFailed));
}

// A staging run that died (or failed) after beginning its dispute_file / dispute_stage
// intent: the next staging pass repeats the step under its own key, so once no run holds
// the dispute's lease the intent is closed — not left pending at the head of the queue
// (the 50 oldest a pass) for the dispute's whole response window.
BOOST_AUTO_TEST_CASE(closes_a_dead_staging_runs_dispute_intent_once_its_lease_is_over) {
  auto made = stripe.Create(
      {100, "usd", "x", "", "", {{"chitty_id", "CHITTY-1"}, {"client", "alpha"}}}, "create-1");
  REQUIRE_OK(made);
  const std::string pi = made->id;
  REQUIRE_OK(holds::RecordCreated(book, holds::HoldRecord::FromStripe(*made, std::nullopt, 100),
                                  holds::Actor{"client:alpha", ""}, 100));
  const int64_t due_by = 100 + 7 * 86400;
  stripe::Dispute at_stripe;
  at_stripe.id = "du_1";
  at_stripe.status = "needs_response";
  at_stripe.reason = "fraudulent";
  at_stripe.amount = 100;
  at_stripe.currency = "usd";
  at_stripe.payment_intent = pi;
  at_stripe.evidence_due_by = due_by;
  at_stripe.created = 100;
  stripe.disputes[at_stripe.id] = at_stripe;
  ledger::Dispute row;
  row.id = "du_1";
  row.status = "needs_response";
  row.reason = "fraudulent";
  row.amount = 100;
  row.evidence_due_by = due_by;
  REQUIRE_OK(book.RecordDispute(pi, row));
  auto leased = book.LeaseDueDisputes(100, kDisputeLeaseSeconds, 10);  // a run takes it
  REQUIRE_OK(leased);
  BOOST_REQUIRE_EQUAL(leased->size(), 1U);
  ledger::StripeIntent intent;
  intent.idempotency_key = "dispute-file:du_1:0123456789abcdef0123456789abcdef";
  intent.operation = "dispute_file";
  intent.hold_id = pi;
  intent.params_digest = std::string(64, 'a');
  intent.request_json =
      holds::IntentRequest({{"actor", "scheduler"}, {"dispute", "du_1"}, {"payment_intent", pi}});
  intent.created_at = 100;
  REQUIRE_OK(book.BeginIntent(intent));
  const auto state = [&] { return (*book.FindIntent(intent.idempotency_key))->state; };
  // Its run may still finish it while it holds the lease.
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 0);
  BOOST_TEST((state() == ledger::IntentState::kPending));
  // The run died: its lease is over, and the next staging pass repeats the step.
  BOOST_TEST(ReconcileOnce(deps(), 100 + kDisputeLeaseSeconds + 1).intents_finished == 1);
  BOOST_TEST((state() == ledger::IntentState::kFailed));
  auto hold = book.FindHold(pi);
  BOOST_TEST(!(*hold)->dispute->staged_at.has_value());  // still the staging pass's to do
}

BOOST_AUTO_TEST_CASE(a_create_that_never_reached_stripe_is_failed_after_search_lag) {
  http::Request r{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  stripe.fail_next = MakeError(ErrorKind::kUnavailable, "service_unavailable", "down");
  BOOST_TEST(holds::CreateHold(deps(), http::Caller{alpha, "", 100, "req-x"}, r).status == 503);
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 0);  // search may lag
  BOOST_TEST(book.ListPendingIntents(1000, 10)->size() == 1U);
  BOOST_TEST(ReconcileOnce(deps(), 800).intents_finished == 1);
  BOOST_TEST(book.ListPendingIntents(10000, 10)->empty());
  BOOST_TEST(stripe.Count("create") == 1U);
}

BOOST_AUTO_TEST_CASE(finishes_a_capture_from_stripes_state_and_records_it_once) {
  http::Request create{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  auto created = holds::CreateHold(deps(), http::Caller{alpha, "", 100, "req-x"}, create);
  const std::string id = (*json::ParseStrict(created.body))["id"].GetString();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  BOOST_TEST(holds::GetHold(deps(), http::Caller{alpha, "", 110, "req-g"}, id).status == 200);
  stripe.fail_next = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "slow");
  http::Request capture{"POST", "/", "", {}, "{}", ""};
  BOOST_TEST(
      holds::CaptureHold(deps(), http::Caller{alpha, "", 110, "req-c"}, capture, id).status == 504);
  REQUIRE_OK(stripe.Capture(id, {}, "elsewhere"));  // it did reach Stripe after all
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 1);
  auto events = book.ListEvents(id, "", 10);
  BOOST_REQUIRE_EQUAL(events->data.size(), 2U);
  BOOST_TEST(events->data[1].type == "captured");
  // The webhook that follows adds nothing (the same transition, the same event id).
  BOOST_TEST(ReconcileOnce(deps(), 300, true).holds_checked == 0);  // no open hold left
  BOOST_TEST(book.ListEvents(id, "", 10)->data.size() == 2U);
}

// A refund whose worker gave up on Stripe's answer (a timeout): whether it happened is
// told by the refund carrying the intent's key (metadata[intent]), never guessed.
struct TimedOutRefund {
  std::string id;
  std::string key;  // the refund intent's
};

TimedOutRefund CapturedThenRefundTimedOut(Fixture& f) {
  TimedOutRefund t;
  http::Request create{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  auto created = holds::CreateHold(f.deps(), http::Caller{f.alpha, "", 100, "req-x"}, create);
  t.id = (*json::ParseStrict(created.body))["id"].GetString();
  REQUIRE_OK(f.stripe.Confirm(t.id, "pm_card_visa"));
  http::Request capture{"POST", "/", "", {}, "{}", ""};
  BOOST_REQUIRE_EQUAL(
      holds::CaptureHold(f.deps(), http::Caller{f.alpha, "", 110, "req-c"}, capture, t.id).status,
      200);
  f.stripe.fail_next_refund = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "slow");
  http::Request refund{"POST", "/", "", {}, R"({"amount":3000})", ""};
  BOOST_REQUIRE_EQUAL(
      holds::RefundHold(f.deps(), http::Caller{f.alpha, "", 120, "req-r"}, refund, t.id).status,
      504);
  const auto pending = f.book.ListPendingIntents(1000, 10);
  for (const auto& intent : *pending) {
    if (intent.operation == "refund") t.key = intent.idempotency_key;
  }
  BOOST_REQUIRE(!t.key.empty());
  return t;
}

BOOST_AUTO_TEST_CASE(a_refund_that_reached_stripe_is_recorded_as_its_callers_and_finished) {
  const TimedOutRefund t = CapturedThenRefundTimedOut(*this);
  // It did reach Stripe after all: the refund the worker sent, under its key.
  REQUIRE_OK(stripe.CreateRefund(stripe::RefundParams{t.id, 3000, "", t.key}, t.key));
  BOOST_TEST(ReconcileOnce(deps(), 300).intents_finished == 1);
  const auto intent = book.FindIntent(t.key);
  BOOST_TEST(((*intent)->state == ledger::IntentState::kSucceeded));
  const auto trail = book.ListEvents(t.id, "", 10)->data;
  BOOST_REQUIRE(!trail.empty());
  BOOST_TEST(trail.back().type == "refunded");
  BOOST_TEST((trail.back().amount == std::optional<int64_t>(3000)));
  BOOST_TEST(trail.back().actor == "client:alpha");
  BOOST_TEST(trail.back().request_id == "req-r");
}

BOOST_AUTO_TEST_CASE(a_refund_stripe_never_made_is_failed_and_records_nothing) {
  const TimedOutRefund t = CapturedThenRefundTimedOut(*this);
  stripe.RefundAtStripe(stripe.intents.at(t.id), 1000, "a Dashboard refund");  // not ours
  BOOST_TEST(ReconcileOnce(deps(), 300).intents_finished == 1);
  const auto intent = book.FindIntent(t.key);
  BOOST_TEST(((*intent)->state == ledger::IntentState::kFailed));
  const auto trail = book.ListEvents(t.id, "", 10);
  for (const auto& e : trail->data) {
    BOOST_TEST(!(e.type == "refunded" && e.actor == "client:alpha"));
  }
}

// An itemized capture whose worker gave up on Stripe's answer: its claim was in the intent
// before the POST, so the repair records it on the hold and in the captured event.
struct ClaimedCapture {
  std::string id;
  std::string body = R"({"items":[{"description":"Lamp","amount":12000,"category":"damage"},)"
                     R"({"description":"Clean","amount":5000,"category":"cleaning"}]})";
};

ClaimedCapture TimedOutClaimedCapture(Fixture& f) {
  ClaimedCapture c;
  http::Request create{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  auto created = holds::CreateHold(f.deps(), http::Caller{f.alpha, "", 100, "req-x"}, create);
  c.id = (*json::ParseStrict(created.body))["id"].GetString();
  REQUIRE_OK(f.stripe.Confirm(c.id, "pm_card_visa"));
  BOOST_TEST(holds::GetHold(f.deps(), http::Caller{f.alpha, "", 110, "req-g"}, c.id).status == 200);
  f.stripe.fail_next = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "slow");
  http::Request capture{"POST", "/", "", {}, c.body, ""};
  BOOST_TEST(
      holds::CaptureHold(f.deps(), http::Caller{f.alpha, "", 110, "req-c"}, capture, c.id).status ==
      504);
  return c;
}

BOOST_AUTO_TEST_CASE(finishes_an_itemized_capture_with_the_claim_from_its_intent) {
  const ClaimedCapture c = TimedOutClaimedCapture(*this);
  // It did reach Stripe after all: the capture the worker sent.
  REQUIRE_OK(stripe.Capture(
      c.id,
      {17000, {{"claim_items", "2 items: damage 12000, cleaning 5000"}, {"claim_total", "17000"}}},
      "elsewhere"));
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 1);
  BOOST_TEST(book.ListPendingIntents(10000, 10)->empty());
  auto hold = book.FindHold(c.id);
  BOOST_REQUIRE(hold->has_value());
  auto claim = json::ParseStrict((*hold)->claim_json);
  REQUIRE_OK(claim);
  BOOST_TEST((*claim)["total"].GetInt64() == 17000);
  BOOST_TEST((*claim)["items"].Size() == 2U);
  BOOST_TEST((*claim)["captured_at"].GetString() == FormatIso8601(110));  // asked for then
  auto events = book.ListEvents(c.id, "", 10);
  BOOST_REQUIRE_EQUAL(events->data.size(), 2U);
  BOOST_TEST(events->data[1].type == "captured");
  BOOST_TEST(events->data[1].actor == "reconciler");
  auto detail = json::ParseStrict(events->data[1].detail_json);
  REQUIRE_OK(detail);
  BOOST_TEST((*detail)["repair"].GetString() == std::string("unfinished intent"));
  BOOST_TEST((*detail)["claim"]["total"].GetInt64() == 17000);
}

BOOST_AUTO_TEST_CASE(an_itemized_capture_is_not_taken_for_another_capture_of_the_hold) {
  const ClaimedCapture c = TimedOutClaimedCapture(*this);
  REQUIRE_OK(stripe.Capture(c.id, {std::optional<int64_t>(17000), {}}, "another"));  // no claim
  BOOST_TEST(ReconcileOnce(deps(), 200).intents_finished == 1);
  auto intent = book.ListPendingIntents(10000, 10);
  BOOST_TEST(intent->empty());
  auto hold = book.FindHold(c.id);
  BOOST_REQUIRE(hold->has_value());
  BOOST_TEST((*hold)->claim_json.empty());
  BOOST_TEST((*hold)->status == "succeeded");  // the capture itself is recorded
}

BOOST_AUTO_TEST_CASE(records_a_change_made_elsewhere_once) {
  config.clients = {alpha, beta};
  config.open_holds_interval_s = 60;
  http::Request create{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  auto created = holds::CreateHold(deps(), http::Caller{alpha, "", 100, "req-x"}, create);
  const std::string id = (*json::ParseStrict(created.body))["id"].GetString();
  REQUIRE_OK(stripe.Cancel(id, {}, "dashboard"));
  auto report = ReconcileOnce(deps(), stripe.now + 60, true);
  BOOST_TEST(report.holds_checked == 1);
  BOOST_TEST(ReconcileOnce(deps(), stripe.now + 200, true).holds_checked == 0);
  auto events = book.ListEvents(id, "", 10);
  BOOST_REQUIRE_EQUAL(events->data.size(), 2U);
  BOOST_TEST(events->data[1].type == "canceled");
  BOOST_TEST(events->data[1].actor == "stripe");
  BOOST_TEST((*book.FindHold(id))->status == "canceled");
}

BOOST_AUTO_TEST_CASE(an_empty_ledger_imports_the_holds_stripe_has_once) {
  config.clients = {alpha, beta};
  for (const char* client : {"alpha", "alpha", "beta", "Alpha"}) {
    REQUIRE_OK(stripe.Create({100,
                              "usd",
                              "old",
                              "",
                              "",
                              {{"chitty_id", std::string("CHITTY-AUTH-") + client +
                                                 std::to_string(stripe.intents.size())},
                               {"client", client}}},
                             "k" + std::to_string(stripe.intents.size())));
  }
  const int64_t later = stripe.now + 86400;
  auto report = ReconcileOnce(deps(), later, true);
  BOOST_TEST(report.holds_imported == 3);  // "Alpha" is nobody's
  for (const auto& [id, pi] : stripe.intents) {
    auto events = book.ListEvents(id, "", 10);
    if (pi.metadata.at("client") == "Alpha") {
      BOOST_TEST(events->data.empty());
      continue;
    }
    BOOST_REQUIRE_EQUAL(events->data.size(), 1U);
    BOOST_TEST(events->data[0].type == "reconciled");
  }
  BOOST_TEST(ReconcileOnce(deps(), later + 10, true).holds_imported == 0);  // not empty now
  auto again = Backfill(deps(), later + 20);
  BOOST_TEST(again.value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(compares_an_open_hold_once_per_reconcile_interval) {
  config.clients = {alpha};
  config.open_holds_interval_s = 60;
  http::Request create{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  auto created = holds::CreateHold(deps(), http::Caller{alpha, "", 100, "req-x"}, create);
  BOOST_REQUIRE_EQUAL(created.status, 201);
  BOOST_TEST(ReconcileOnce(deps(), stripe.now + 59, true).holds_checked ==
             0);  // created 59 s ago (Stripe's time)
  BOOST_TEST(ReconcileOnce(deps(), stripe.now + 60, true).holds_checked == 1);
  BOOST_TEST(ReconcileOnce(deps(), stripe.now + 119, true).holds_checked ==
             0);  // compared 59 s ago
  BOOST_TEST(ReconcileOnce(deps(), stripe.now + 120, true).holds_checked == 1);
}

BOOST_AUTO_TEST_CASE(a_hold_stripe_no_longer_knows_is_marked_once_and_left_alone) {
  config.clients = {alpha};
  config.open_holds_interval_s = 60;
  http::Request create{"POST", "/api/holds", "", {}, R"({"description":"x"})", ""};
  auto created = holds::CreateHold(deps(), http::Caller{alpha, "", 100, "req-x"}, create);
  const std::string id = (*json::ParseStrict(created.body))["id"].GetString();
  stripe.intents.erase(id);  // a reset sandbox, another account
  BOOST_TEST(ReconcileOnce(deps(), stripe.now + 60, true).holds_checked == 1);
  const auto retrieves = stripe.Count("retrieve");
  BOOST_TEST(ReconcileOnce(deps(), stripe.now + 200, true).holds_checked ==
             0);  // not checked again
  BOOST_TEST(stripe.Count("retrieve") == retrieves);
  auto events = book.ListEvents(id, "", 10);
  BOOST_REQUIRE_EQUAL(events->data.size(), 2U);
  BOOST_TEST(events->data[1].type == "reconciled");
  BOOST_TEST(events->data[1].actor == "reconciler");
  BOOST_TEST(events->data[1].detail_json.find(R"("missing_at_stripe":true)") != std::string::npos);
  BOOST_TEST((*book.FindHold(id))->status == std::string(holds::kMissingAtStripe));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::jobs
