// The holds endpoints and the ledger (CONTRACT.md, Part 2): what each call records, the
// holes the ledger closes, and what a down ledger answers.
#include "holds/journal.h"

#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "core/time_util.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "test_util.h"

namespace cc::holds {
namespace {

struct Fixture : testing::PortsFixture {
  int64_t now = 1767225600;

  http::Caller as(const config::ClientToken& c, std::string key = {}) {
    return http::Caller{c, std::move(key), now, "req-1"};
  }
  static http::Request Post(std::string body) {
    http::Request r;
    r.method = "POST";
    r.body = std::move(body);
    return r;
  }
  static http::Request Get(std::string query) {
    return http::Request{"GET", "/", std::move(query), {}, "", ""};
  }
  static rapidjson::Document Body(const http::Response& r) {
    auto doc = json::ParseStrict(r.body);
    BOOST_REQUIRE(doc.has_value());
    return std::move(*doc);
  }
  std::string Create(const std::string& key = {}, const std::string& body = kBody) {
    auto r = CreateHold(deps(), as(alpha, key), Post(body));
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return Body(r)["id"].GetString();
  }
  std::string Authorized(const std::string& key = {}) {
    const std::string id = Create(key);
    REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
    now += 5;  // past the cache's freshness
    return id;
  }
  std::vector<std::string> Types(const std::string& id) {
    std::vector<std::string> types;
    const auto page = book.ListEvents(id, "", 100);
    for (const auto& e : page->data) types.push_back(e.type);
    return types;
  }
  ledger::IntentState IntentOf(const std::string& op) {
    const auto pending = book.ListPendingIntents(now + 1000, 100);
    for (const auto& i : *pending) {
      if (i.operation == op) return ledger::IntentState::kPending;
    }
    return ledger::IntentState::kSucceeded;
  }
  static constexpr const char* kBody =
      R"({"amount":25000,"description":"Deposit","property_id":"prop_1"})";
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(holds_journal, Fixture)

BOOST_AUTO_TEST_CASE(event_ids_name_the_fact_not_the_moment) {
  BOOST_TEST(EventIdFor("pi_1", "created") == EventIdFor("pi_1", "created"));
  BOOST_TEST(EventIdFor("pi_1", "created") != EventIdFor("pi_2", "created"));
  BOOST_TEST(EventIdFor("pi_1", "created").size() == 28U);
  BOOST_TEST(TransitionType("requires_capture", "succeeded") == "captured");
  BOOST_TEST(TransitionType("requires_payment_method", "requires_capture") == "authorized");
  BOOST_TEST(TransitionType("requires_action", "requires_payment_method") ==
             "authorization_failed");
  BOOST_TEST(TransitionType("requires_capture", "processing") == "reconciled");
  BOOST_TEST(TransitionType("requires_capture", "canceled", "expired") == "expired");
  BOOST_TEST(TransitionType("requires_capture", "canceled", "automatic") == "expired");
  BOOST_TEST(TransitionType("requires_capture", "canceled", "abandoned") == "canceled");
}

BOOST_AUTO_TEST_CASE(create_records_the_hold_its_event_and_its_intent_before_answering) {
  const std::string id = Create();
  auto hold = *book.FindHold(id);
  BOOST_REQUIRE(hold.has_value());
  BOOST_TEST(hold->client == "alpha");
  BOOST_TEST(hold->property_id == "prop_1");
  BOOST_TEST(hold->chitty_id == "CHITTY-AUTH-FAKE1");
  BOOST_TEST(Types(id) == std::vector<std::string>{"created"});
  const auto events = book.ListEvents(id, "", 10);
  BOOST_TEST(events->data.at(0).actor == "client:alpha");
  BOOST_TEST(events->data.at(0).request_id == "req-1");
  BOOST_TEST(events->data.at(0).amount.value_or(0) == 25000);
  BOOST_TEST(book.ListPendingIntents(now + 1000, 10)->empty());
}

// Regression (probe): a keyed create retried after memcached lost its keys answered 422
// idempotency_key_reused: the retry minted another ChittyID and sent Stripe other
// parameters under the same key.
BOOST_AUTO_TEST_CASE(a_keyed_retry_after_memcached_forgot_gets_the_same_hold) {
  const std::string id = Create("key-1");
  memory.Clear();
  auto again = CreateHold(deps(), as(alpha, "key-1"), Post(kBody));
  BOOST_REQUIRE_EQUAL(again.status, 201);
  BOOST_TEST(Body(again)["id"].GetString() == id);
  BOOST_TEST(Body(again)["chitty_id"].GetString() == std::string("CHITTY-AUTH-FAKE1"));
  BOOST_TEST(chittyid.minted == 2);  // the retry's own mint, unused: the first's id is sent
  store.SetFailing(true);            // and with memcached down
  auto down = CreateHold(deps(), as(alpha, "key-1"), Post(kBody));
  BOOST_REQUIRE_EQUAL(down.status, 201);
  BOOST_TEST(Body(down)["id"].GetString() == id);
  BOOST_TEST(stripe.intents.size() == 1U);
  BOOST_TEST(Types(id) == std::vector<std::string>{"created"});
  // The same key with another request: 422, nothing sent to Stripe.
  const size_t creates = stripe.Count("create");
  auto other =
      CreateHold(deps(), as(alpha, "key-1"), Post(R"({"amount":30000,"description":"Deposit"})"));
  BOOST_TEST(other.status == 422);
  BOOST_TEST(Body(other)["code"].GetString() == std::string("idempotency_key_reused"));
  BOOST_TEST(stripe.Count("create") == creates);
}

BOOST_AUTO_TEST_CASE(a_create_whose_answer_was_lost_is_finished_by_its_retry) {
  // The worker died after Stripe authorized and before the record: the intent is pending.
  stripe.fail_next = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "timed out");
  auto lost = CreateHold(deps(), as(alpha, "key-2"), Post(kBody));
  BOOST_TEST(lost.status == 504);
  BOOST_TEST((IntentOf("create") == ledger::IntentState::kPending));
  const std::string id = Create("key-2");
  BOOST_TEST(Types(id) == std::vector<std::string>{"created"});
  BOOST_TEST(book.ListPendingIntents(now + 1000, 10)->empty());
}

BOOST_AUTO_TEST_CASE(ledger_down_changes_nothing_and_calls_no_stripe_post) {
  const std::string id = Authorized();
  ledger.SetFailing(true);
  stripe.calls.clear();
  auto create = CreateHold(deps(), as(alpha), Post(kBody));
  BOOST_TEST(create.status == 503);
  BOOST_TEST(Body(create)["code"].GetString() == std::string("service_unavailable"));
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post("{}"), id).status == 503);
  BOOST_TEST(CancelHold(deps(), as(alpha), Post("{}"), id).status == 503);
  BOOST_TEST(ListHoldEvents(deps(), as(alpha), Get(""), id).status == 503);
  BOOST_TEST(ListHolds(deps(), as(alpha), Get("")).status == 503);
  BOOST_TEST(stripe.Count("create") + stripe.Count("capture") + stripe.Count("cancel") == 0U);
  BOOST_TEST(stripe.calls.empty());
  BOOST_TEST(GetHold(deps(), as(alpha), id).status == 200);  // reads still answer
  ledger.SetFailing(false);
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post("{}"), id).status == 200);
}

BOOST_AUTO_TEST_CASE(capture_records_captured_once_with_its_reason) {
  const std::string id = Authorized();
  auto r =
      CaptureHold(deps(), as(alpha), Post(R"({"amount_to_capture":7500,"reason":"wine"})"), id);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST((Types(id) == std::vector<std::string>{"created", "captured"}));
  const auto events = book.ListEvents(id, "", 10);
  const auto& captured = events->data.at(1);
  BOOST_TEST(captured.amount.value_or(0) == 7500);
  BOOST_TEST(captured.status_before == "requires_payment_method");  // the ledger's last
  BOOST_TEST(captured.status_after == "succeeded");
  BOOST_TEST(captured.detail_json == R"({"reason":"wine","amount_to_capture":7500})");
  BOOST_TEST(book.ListPendingIntents(now + 1000, 10)->empty());
}

// Regression (tests/integration/test_lifecycle.py, flaky): the webhook of the guest's
// confirmation re-read Stripe (requires_capture) just before the client's capture and
// recorded it just after: an `authorized` event moved the captured hold back to
// requires_capture in the ledger, and the scheduler then tried to release it.
BOOST_AUTO_TEST_CASE(a_stale_read_of_stripe_never_moves_a_terminal_hold_back) {
  const std::string id = Authorized();
  stripe::PaymentIntent stale = stripe.intents.at(id);  // requires_capture, read "before"
  auto r = CaptureHold(deps(), as(alpha), Post("{}"), id);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  REQUIRE_OK(SyncHold(book, HoldRecord::FromStripe(stale, std::nullopt, now),
                      Actor{"stripe", "req-webhook"}, now));
  BOOST_TEST((Types(id) == std::vector<std::string>{"created", "captured"}));
  BOOST_TEST((*book.FindHold(id))->status == "succeeded");
}

// Regression (probe): a keyed capture repeated while memcached was down answered 409
// hold_already_captured instead of replaying its 200 (and 409, not 422, for another amount).
BOOST_AUTO_TEST_CASE(a_keyed_capture_repeated_with_memcached_down_replays_its_200) {
  const std::string id = Authorized();
  store.SetFailing(true);
  auto first = CaptureHold(deps(), as(alpha, "cap-1"), Post(R"({"amount_to_capture":5000})"), id);
  BOOST_REQUIRE_EQUAL(first.status, 200);
  auto again = CaptureHold(deps(), as(alpha, "cap-1"), Post(R"({"amount_to_capture":5000})"), id);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(Body(again)["amount_captured"].GetInt64() == 5000);
  auto other = CaptureHold(deps(), as(alpha, "cap-1"), Post(R"({"amount_to_capture":6000})"), id);
  BOOST_TEST(other.status == 422);
  auto unkeyed = CaptureHold(deps(), as(alpha), Post("{}"), id);
  BOOST_TEST(unkeyed.status == 409);
  BOOST_TEST((Types(id) == std::vector<std::string>{"created", "captured"}));
}

// Regression (probe): a losing cancel (a capture won) still wrote its cancel_reason.
BOOST_AUTO_TEST_CASE(only_the_cancel_that_takes_effect_writes_its_reason) {
  const std::string id = Authorized();
  BOOST_REQUIRE_EQUAL(CaptureHold(deps(), as(alpha), Post("{}"), id).status, 200);
  // A cancel that read the hold before the capture (stale cache) loses at Stripe.
  auto lost = CancelHold(deps(), as(alpha), Post(R"({"reason":"guest left"})"), id);
  BOOST_TEST(lost.status == 409);
  BOOST_TEST(!stripe.intents.at(id).metadata.contains("cancel_reason"));
  const std::string other = Authorized();
  auto won = CancelHold(deps(), as(alpha), Post(R"({"reason":"guest left"})"), other);
  BOOST_REQUIRE_EQUAL(won.status, 200);
  BOOST_TEST(stripe.intents.at(other).metadata.at("cancel_reason") == "guest left");
  BOOST_TEST(Body(won)["metadata"].HasMember("cancel_reason") == false);  // a service key
  auto second = CancelHold(deps(), as(alpha), Post(R"({"reason":"another"})"), other);
  BOOST_TEST(second.status == 409);
  BOOST_TEST(stripe.intents.at(other).metadata.at("cancel_reason") == "guest left");
  BOOST_TEST((Types(other) == std::vector<std::string>{"created", "canceled"}));
}

BOOST_AUTO_TEST_CASE(the_list_comes_from_the_ledger_with_filters_and_a_cursor) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Create());  // all in one second
  now += 100;
  stripe.now = now;
  const std::string later = Create("", R"({"amount":25000,"description":"D","property_id":"p2"})");
  auto all = ListHolds(deps(), as(alpha), Get("limit=2"));
  BOOST_REQUIRE_EQUAL(all.status, 200);
  BOOST_TEST(stripe.Count("search") == 0U);
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = ListHolds(deps(), as(alpha),
                       Get("limit=2" + (cursor.empty() ? "" : "&starting_after=" + cursor)));
    BOOST_REQUIRE_EQUAL(r.status, 200);
    auto body = Body(r);
    for (const auto& h : body["data"].GetArray()) seen.emplace_back(h["id"].GetString());
    if (!body["has_more"].GetBool()) break;
    cursor = body["next_starting_after"].GetString();
  }
  BOOST_TEST(seen.size() == 6U);
  BOOST_TEST(seen.front() == later);
  auto p2 = ListHolds(deps(), as(alpha), Get("property_id=p2"));
  BOOST_TEST(Body(p2)["data"].Size() == 1U);
  auto before = ListHolds(deps(), as(alpha), Get("created_before=" + FormatIso8601(now)));
  BOOST_TEST(Body(before)["data"].Size() == 5U);
  auto after = ListHolds(deps(), as(alpha), Get("created_after=2026-01-01T00:00:50Z"));
  BOOST_TEST(Body(after)["data"].Size() == 1U);
  auto beta_list = ListHolds(deps(), as(beta), Get(""));
  BOOST_TEST(Body(beta_list)["data"].Size() == 0U);
  for (const char* bad : {"created_after=yesterday", "expiring_before=2026-02-30T00:00:00Z",
                          "status=lost", "limit=0", "starting_after=pi_nope"}) {
    auto r = ListHolds(deps(), as(alpha), Get(bad));
    BOOST_TEST(r.status == 400, bad);
  }
  auto foreign_cursor = ListHolds(deps(), as(beta), Get("starting_after=" + ids[0]));
  BOOST_TEST(foreign_cursor.status == 400);
}

BOOST_AUTO_TEST_CASE(events_are_the_owners_only_paged_oldest_first) {
  const std::string id = Authorized();
  BOOST_REQUIRE_EQUAL(CaptureHold(deps(), as(alpha), Post("{}"), id).status, 200);
  auto r = ListHoldEvents(deps(), as(alpha), Get("limit=1"), id);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  auto body = Body(r);
  BOOST_TEST(body["data"].Size() == 1U);
  BOOST_TEST(body["has_more"].GetBool());
  BOOST_TEST(body["data"][0]["type"].GetString() == std::string("created"));
  BOOST_TEST(body["data"][0]["hold_id"].GetString() == id);
  BOOST_TEST(body["data"][0]["actor"].GetString() == std::string("client:alpha"));
  BOOST_TEST(body["data"][0]["detail"].IsObject());
  const std::string first = body["data"][0]["id"].GetString();
  auto next = Body(ListHoldEvents(deps(), as(alpha), Get("starting_after=" + first), id));
  BOOST_TEST(next["data"].Size() == 1U);
  BOOST_TEST(next["data"][0]["type"].GetString() == std::string("captured"));
  BOOST_TEST(!next["has_more"].GetBool());
  // By ChittyID too.
  BOOST_TEST(ListHoldEvents(deps(), as(alpha), Get(""), "CHITTY-AUTH-FAKE1").status == 200);
  BOOST_TEST(ListHoldEvents(deps(), as(beta), Get(""), id).status == 404);
  BOOST_TEST(ListHoldEvents(deps(), as(alpha), Get(""), "pi_unknown").status == 404);
  BOOST_TEST(ListHoldEvents(deps(), as(alpha), Get("limit=101"), id).status == 400);
  BOOST_TEST(ListHoldEvents(deps(), as(alpha), Get("starting_after=evt_nope"), id).status == 400);
}

BOOST_AUTO_TEST_CASE(another_clients_hold_cannot_be_changed) {
  const std::string id = Authorized();
  BOOST_TEST(CaptureHold(deps(), as(beta), Post("{}"), id).status == 404);
  BOOST_TEST(CancelHold(deps(), as(beta), Post("{}"), id).status == 404);
  BOOST_TEST(stripe.Count("capture") + stripe.Count("cancel") == 0U);
}

// The claim's journal helpers: the intent carries the claim, a repair reads it back, the
// event detail gains it, and a hold the ledger does not know yet still gets it.
BOOST_AUTO_TEST_CASE(a_capture_intent_carries_its_claim_and_the_repair_reads_it_back) {
  auto req = claims::ParseCaptureRequest(
      R"({"items":[{"description":"Lamp \"B\"","amount":12000,"category":"damage",)"
      R"("evidence":["file_1A"]},{"description":"Clean","amount":50,"category":"cleaning"}]})");
  REQUIRE_OK(req);
  const std::string request =
      CaptureIntentRequest("pi_1", Actor{"client:alpha", "req-9"}, "inspection", &*req->claim);
  BOOST_TEST(IntentField(request, "payment_intent") == "pi_1");
  BOOST_TEST(IntentField(request, "actor") == "client:alpha");
  BOOST_TEST(IntentField(request, "request_id") == "req-9");
  BOOST_TEST(IntentField(request, "reason") == "inspection");
  BOOST_TEST(IntentClaimJson(request, 1767225600) == claims::RenderClaim(*req->claim, 1767225600));
  const std::string plain = CaptureIntentRequest("pi_1", Actor{"client:alpha", "r"}, "", nullptr);
  BOOST_TEST(IntentClaimJson(plain, 1) == "");
  BOOST_TEST(IntentClaimJson("not json", 1) == "");
  BOOST_TEST(IntentClaimJson(R"({"claim":{"items":[]}})", 1) == "");

  stripe::PaymentIntent pi;
  pi.status = "succeeded";
  pi.amount_received = 12050;
  BOOST_TEST(CaptureApplied(plain, pi));
  BOOST_TEST(!CaptureApplied(request, pi));  // captured, but not with this claim
  pi.metadata = {{"claim_items", "2 items: damage 12000, cleaning 50"}, {"claim_total", "12050"}};
  BOOST_TEST(CaptureApplied(request, pi));
  pi.amount_received = 12000;
  BOOST_TEST(!CaptureApplied(request, pi));
  pi.amount_received = 12050;
  pi.status = "requires_capture";
  BOOST_TEST(!CaptureApplied(request, pi));
  BOOST_TEST(!CaptureApplied(plain, pi));
}

BOOST_AUTO_TEST_CASE(with_claim_adds_the_claim_to_an_event_detail) {
  const std::string claim = R"({"items":[],"total":5,"captured_at":null})";
  BOOST_TEST(WithClaim(R"({"reason":"r","amount_to_capture":5})", claim) ==
             R"({"reason":"r","amount_to_capture":5,"claim":)" + claim + "}");
  BOOST_TEST(WithClaim("{}", claim) == R"({"claim":)" + claim + "}");
  BOOST_TEST(WithClaim(R"({"reason":"r"})", "") == R"({"reason":"r"})");
  BOOST_TEST(WithClaim(R"({"claim":1})", claim) == R"({"claim":)" + claim + "}");
}

BOOST_AUTO_TEST_CASE(record_capture_claims_a_hold_the_ledger_learns_of_then) {
  const std::string id = Authorized();
  auto record = stripe.Capture(id, {std::optional<int64_t>(300), {}}, "k");
  REQUIRE_OK(record);
  ledger::InMemoryLedger fresh;  // a ledger that never saw the hold
  const HoldRecord captured = HoldRecord::FromStripe(*record, now, now);
  const std::string claim = R"({"items":[],"total":300,"captured_at":null})";
  auto recorded = RecordCapture(fresh, captured, ClientActor("alpha", "req-1"), now,
                                WithClaim("{}", claim), id, claim);
  REQUIRE_OK(recorded);
  BOOST_TEST(*recorded == claim);
  BOOST_TEST((*fresh.FindHold(id))->claim_json == claim);
  // A second claim leaves the first, and the answer is the first.
  auto again = RecordCapture(fresh, captured, ClientActor("alpha", "req-2"), now, "{}", id,
                             R"({"items":[],"total":1,"captured_at":null})");
  REQUIRE_OK(again);
  BOOST_TEST(*again == claim);
  // No claim: the event only.
  auto plain = RecordCapture(book, captured, ClientActor("alpha", "req-3"), now, "{}", id, "");
  REQUIRE_OK(plain);
  BOOST_TEST(plain->empty());
  BOOST_TEST((*book.FindHold(id))->claim_json.empty());
  BOOST_TEST(Types(id).back() == "captured");
}

// A webhook that records the capture before the client's call does (it only re-reads
// Stripe) still names the claim, once the claim is on the hold.
BOOST_AUTO_TEST_CASE(a_captured_event_recorded_by_a_webhook_carries_the_holds_claim) {
  const std::string id = Authorized();
  const std::string claim = R"({"items":[],"total":300,"captured_at":null})";
  REQUIRE_OK(book.SetHoldClaim(id, claim));
  auto pi = stripe.Capture(id, {std::optional<int64_t>(300), {}}, "k");
  REQUIRE_OK(pi);
  REQUIRE_OK(SyncHold(book, HoldRecord::FromStripe(*pi, std::nullopt, now), Actor{"stripe", "w"},
                      now, "{}"));
  const auto trail = book.ListEvents(id, "", 10)->data;
  BOOST_REQUIRE(!trail.empty());
  BOOST_TEST(trail.back().type == "captured");
  BOOST_TEST(trail.back().actor == "stripe");
  BOOST_TEST(trail.back().detail_json == R"({"claim":)" + claim + "}");
}

// Stripe's webhook can arrive between Stripe's answer to a client's capture and the
// client's own record: while the capture's intent is pending, the change is the client's.
BOOST_AUTO_TEST_CASE(a_change_reported_while_its_callers_intent_is_pending_is_the_callers) {
  const std::string id = Authorized();
  const Actor stripe_actor{"stripe", "w"};
  BOOST_TEST(ChangeActor(book, id, "succeeded", stripe_actor).name == "stripe");  // none pending
  ledger::StripeIntent intent;
  intent.idempotency_key = "capture-key";
  intent.operation = "capture";
  intent.hold_id = id;
  intent.params_digest = std::string(64, 'a');
  intent.created_at = now;
  intent.request_json = IntentRequest({{"actor", "client:alpha"}, {"request_id", "req-9"}});
  REQUIRE_OK(book.BeginIntent(intent));
  const Actor during = ChangeActor(book, id, "succeeded", stripe_actor);
  BOOST_TEST(during.name == "client:alpha");
  BOOST_TEST(during.request_id == "req-9");
  BOOST_TEST(ChangeActor(book, "pi_unknown", "succeeded", stripe_actor).name == "stripe");
  REQUIRE_OK(book.FinishIntent("capture-key", ledger::IntentState::kSucceeded, "{}", "", now));
  BOOST_TEST(ChangeActor(book, id, "succeeded", stripe_actor).name == "stripe");  // recorded
}

// A pending intent claims only the change its operation makes: a cancel made in the
// Dashboard while a client's capture (or refund) is pending is Stripe's, not the client's.
BOOST_AUTO_TEST_CASE(a_pending_intent_does_not_claim_a_change_its_operation_does_not_make) {
  const std::string id = Authorized();
  const Actor stripe_actor{"stripe", "w"};
  for (const char* op : {"capture", "refund", "cancel-reason"}) {
    ledger::StripeIntent intent;
    intent.idempotency_key = std::string(op) + "-key";
    intent.operation = op;
    intent.hold_id = id;
    intent.params_digest = std::string(64, 'a');
    intent.created_at = now;
    intent.request_json = IntentRequest({{"actor", "client:alpha"}, {"request_id", "req-9"}});
    REQUIRE_OK(book.BeginIntent(intent));
  }
  BOOST_TEST(ChangeActor(book, id, "canceled", stripe_actor).name == "stripe");
  BOOST_TEST(ChangeActor(book, id, "requires_capture", stripe_actor).name == "stripe");
  BOOST_TEST(ChangeActor(book, id, "succeeded", stripe_actor).name == "client:alpha");
}

// A refund names its caller by the intent key it carries (metadata[intent]); a refund
// without one (the Dashboard's) is Stripe's even while a client's refund is pending.
BOOST_AUTO_TEST_CASE(a_refund_is_credited_by_the_intent_key_it_carries) {
  const std::string id = Authorized();
  const Actor stripe_actor{"stripe", "w"};
  ledger::StripeIntent intent;
  intent.idempotency_key = "refund-key";
  intent.operation = "refund";
  intent.hold_id = id;
  intent.params_digest = std::string(64, 'a');
  intent.created_at = now;
  intent.request_json = IntentRequest({{"actor", "client:alpha"}, {"request_id", "req-7"}});
  REQUIRE_OK(book.BeginIntent(intent));
  stripe::Refund dashboard;
  dashboard.id = "re_dashboard";
  BOOST_TEST(RefundActor(book, dashboard, stripe_actor).name == "stripe");
  stripe::Refund own = dashboard;
  own.id = "re_own";
  own.intent = "refund-key";
  const Actor by = RefundActor(book, own, stripe_actor);
  BOOST_TEST(by.name == "client:alpha");
  BOOST_TEST(by.request_id == "req-7");
  // still the caller's once its intent is finished (the webhook may come after the record)
  REQUIRE_OK(book.FinishIntent("refund-key", ledger::IntentState::kSucceeded, "{}", "", now));
  BOOST_TEST(RefundActor(book, own, stripe_actor).name == "client:alpha");
  stripe::Refund other = own;
  other.intent = "capture-key-of-nothing";
  BOOST_TEST(RefundActor(book, other, stripe_actor).name == "stripe");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
