#include "holds/authorize.h"

#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "core/time_util.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "holds/journal.h"
#include "holds/stripe_key.h"
#include "test_util.h"

namespace cc::holds {
namespace {

constexpr int64_t kStart = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 86400;

struct Fixture : testing::PortsFixture {
  int64_t now = kStart;
  const Actor scheduler{"scheduler", ""};

  Fixture() { stripe.now = kStart; }

  http::Caller as(const config::ClientToken& c, std::string key = {}) {
    return http::Caller{c, std::move(key), now, "req-test"};
  }
  static http::Request Post(std::string body) {
    http::Request r;
    r.method = "POST";
    r.body = std::move(body);
    return r;
  }
  static rapidjson::Document Body(const http::Response& r) {
    auto doc = json::ParseStrict(r.body);
    BOOST_REQUIRE(doc.has_value());
    return std::move(*doc);
  }
  ledger::Hold Held(const std::string& id) {
    auto found = book.FindHold(id);
    BOOST_REQUIRE(found.has_value() && found->has_value());
    return **found;
  }
  std::vector<std::string> Types(const std::string& id) {
    std::vector<std::string> types;
    const auto page = book.ListEvents(id, "", 100);
    for (const auto& e : page->data) types.push_back(e.type);
    return types;
  }
  // A 10-day stay with reauthorize, confirmed by the guest with `pm` and recorded as the
  // webhook would; its id.
  std::string LongStay(const std::string& pm = "pm_card_visa") {
    const std::string body = R"({"amount":25000,"description":"Stay","reauthorize":true,)"
                             R"("stay_ends_at":")" +
                             FormatIso8601(kStart + 10 * kDay) + R"("})";
    auto created = CreateHold(deps(), as(alpha), Post(body));
    BOOST_REQUIRE_EQUAL(created.status, 201);
    const std::string id = Body(created)["id"].GetString();
    auto confirmed = stripe.Confirm(id, pm);
    if (pm == "pm_card_authenticationRequired") stripe.Authenticate(id);
    Record(id);
    return id;
  }
  // What a webhook of `pi_id` records.
  void Record(const std::string& pi_id) {
    auto pi = stripe.Retrieve(pi_id);
    BOOST_REQUIRE(pi.has_value());
    const HoldRecord record = HoldRecord::FromStripe(*pi, std::nullopt, now);
    REQUIRE_OK(AdoptAwaited(deps(), record, Actor{"stripe", "req-hook"}, now));
    REQUIRE_OK(SyncHold(book, record, Actor{"stripe", "req-hook"}, now));
  }
  size_t Creates() const { return stripe.Count("create"); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(holds_authorize, Fixture)

BOOST_AUTO_TEST_CASE(a_long_stay_is_saved_to_a_customer_and_re_authorized_off_session) {
  const std::string id = LongStay();
  const ledger::Hold hold = Held(id);
  BOOST_TEST(hold.reauthorize);
  BOOST_TEST(hold.customer == "cus_fake1");
  BOOST_TEST(stripe.intents.at(id).customer == "cus_fake1");
  BOOST_TEST(hold.status == "requires_capture");
  now = kStart + 6 * kDay;
  stripe.now = now;
  const AuthorizeResult result = Authorize(deps(), hold, scheduler, now);
  BOOST_REQUIRE((result.outcome == AuthorizeOutcome::kAuthorized));
  const ledger::Hold after = Held(id);
  BOOST_REQUIRE_EQUAL(after.payment_intents.size(), 2U);
  const std::string fresh = after.payment_intents.back();
  BOOST_TEST(after.id == id);
  BOOST_TEST(after.chitty_id == hold.chitty_id);
  BOOST_TEST(stripe.intents.at(fresh).status == "requires_capture");
  BOOST_TEST(stripe.intents.at(fresh).customer == "cus_fake1");
  BOOST_TEST(stripe.intents.at(fresh).payment_method == "pm_card_visa");
  BOOST_TEST(stripe.intents.at(fresh).metadata.at("chitty_id") == hold.chitty_id);
  BOOST_TEST(stripe.intents.at(id).status == "canceled");
  BOOST_TEST(stripe.intents.at(id).cancellation_reason == "duplicate");
  BOOST_TEST((after.expires_at == now + 4 * kDay + 18 * 3600));  // Visa, merchant-initiated
  BOOST_TEST(Types(id).back() == "reauthorized");
  const auto last = book.ListEvents(id, "", 100)->data.back();
  BOOST_TEST(last.actor == "scheduler");
  BOOST_TEST(last.payment_intent == fresh);
  BOOST_TEST(last.detail_json.find(id) != std::string::npos);  // replaces
  // The new one was authorized before the old one went: create, then cancel.
  std::vector<std::string> order;
  for (const auto& c : stripe.calls) {
    if (c.op == "create" || c.op == "cancel") order.push_back(c.op);
  }
  BOOST_TEST(order == (std::vector<std::string>{"create", "create", "cancel"}),
             boost::test_tools::per_element());
  // Webhooks of both PaymentIntents afterwards record nothing more.
  Record(id);
  Record(fresh);
  BOOST_TEST(Types(id).back() == "reauthorized");
  BOOST_TEST(Held(id).status == "requires_capture");
}

BOOST_AUTO_TEST_CASE(capture_and_get_act_on_the_current_payment_intent) {
  const std::string id = LongStay();
  now = kStart + 6 * kDay;
  BOOST_REQUIRE(
      (Authorize(deps(), Held(id), scheduler, now).outcome == AuthorizeOutcome::kAuthorized));
  const std::string fresh = Held(id).payment_intents.back();
  for (const std::string& asked : {id, fresh, Held(id).chitty_id}) {
    auto got = GetHold(deps(), as(alpha), asked);
    BOOST_REQUIRE_EQUAL(got.status, 200);
    auto body = Body(got);
    BOOST_TEST(body["id"].GetString() == id);
    BOOST_TEST(body["payment_intent"].GetString() == fresh);
    BOOST_TEST(body["payment_intents"].Size() == 2U);
    BOOST_TEST(body["status"].GetString() == std::string("requires_capture"));
    BOOST_TEST(body["reauthorize"].GetBool());
    BOOST_TEST(body["reauthorization"].IsNull());
  }
  now += 5;
  auto captured = CaptureHold(deps(), as(alpha), Post(R"({"amount_to_capture":5000})"), id);
  BOOST_REQUIRE_EQUAL(captured.status, 200);
  BOOST_TEST(Body(captured)["id"].GetString() == id);
  BOOST_TEST(stripe.intents.at(fresh).status == "succeeded");
  BOOST_TEST(stripe.intents.at(fresh).amount_received == 5000);
  BOOST_TEST(Held(id).status == "succeeded");
  BOOST_TEST(Types(id).back() == "captured");
}

BOOST_AUTO_TEST_CASE(a_repeat_after_a_lost_answer_sends_the_same_request_under_the_same_key) {
  const std::string id = LongStay();
  now = kStart + 6 * kDay;
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "upstream_error", "reset");
  // Retrieve is the first call: a failure there defers without any POST.
  BOOST_TEST(
      (Authorize(deps(), Held(id), scheduler, now).outcome == AuthorizeOutcome::kRetryLater));
  BOOST_TEST(Creates() == 1U);
  BOOST_TEST(
      (Authorize(deps(), Held(id), scheduler, now).outcome == AuthorizeOutcome::kAuthorized));
  std::vector<std::string> keys;
  for (const auto& c : stripe.calls) {
    if (c.op == "create") keys.push_back(c.key);
  }
  BOOST_REQUIRE_EQUAL(keys.size(), 2U);
  BOOST_TEST(keys[1] == DeriveStripeKey("alpha", "authorize:" + id + ":" + id, "0"));
}

BOOST_AUTO_TEST_CASE(a_pending_authorize_intent_is_repeated_under_its_key_by_the_reconciler) {
  const std::string id = LongStay();
  now = kStart + 6 * kDay;
  const ledger::Hold hold = Held(id);
  // Stripe authorized, then the caller died before recording anything but the intent.
  BOOST_REQUIRE((Authorize(deps(), hold, scheduler, now).outcome == AuthorizeOutcome::kAuthorized));
  const std::string key = DeriveStripeKey("alpha", "authorize:" + id + ":" + id, "0");
  auto intent = book.FindIntent(key);
  BOOST_REQUIRE(intent->has_value());
  ledger::StripeIntent pending = **intent;
  BOOST_TEST(ResumeIntent(deps(), pending, now + 60));  // repeat: Stripe replays, all idempotent
  BOOST_TEST(Held(id).payment_intents.size() == 2U);
  BOOST_TEST(stripe.Count("cancel") >= 1U);
  size_t effects = 0;
  for (const auto& [pi_id, pi] : stripe.intents) effects += pi.customer == "cus_fake1" ? 1U : 0U;
  BOOST_TEST(effects == 2U);  // the first hold and one re-authorization, never a third
  pending.created_at = now - 24 * 3600;
  BOOST_TEST(ResumeIntent(deps(), pending, now));  // too old for Stripe's key: closed
}

BOOST_AUTO_TEST_CASE(authentication_required_keeps_the_old_hold_until_the_guest_confirms) {
  const std::string id = LongStay("pm_card_authenticationRequired");
  now = kStart + 6 * kDay;
  const AuthorizeResult refused = Authorize(deps(), Held(id), scheduler, now);
  BOOST_REQUIRE((refused.outcome == AuthorizeOutcome::kRefused));
  BOOST_TEST(refused.error.code == "card_declined");
  const ledger::Hold waiting = Held(id);
  BOOST_TEST(waiting.payment_intents == std::vector<std::string>{id},
             boost::test_tools::per_element());
  BOOST_TEST(waiting.status == "requires_capture");
  BOOST_TEST(stripe.intents.at(id).status == "requires_capture");  // the old one stays
  BOOST_TEST(Types(id).back() == "reauthorization_failed");
  const std::string pending = AwaitedPaymentIntent(waiting);
  BOOST_REQUIRE(!pending.empty());
  auto shown = Body(GetHold(deps(), as(alpha), id));
  BOOST_TEST(shown["reauthorization"]["status"].GetString() == std::string("failed"));
  BOOST_TEST(shown["reauthorization"]["code"].GetString() ==
             std::string("authentication_required"));
  BOOST_TEST(shown["reauthorization"]["client_secret"].GetString() == pending + "_secret_x");
  BOOST_TEST(shown["payment_intent"].GetString() == id);
  auto by_refused = Body(GetHold(deps(), as(alpha), pending));  // it finds the hold too
  BOOST_TEST(by_refused["id"].GetString() == id);
  BOOST_TEST(by_refused["payment_intent"].GetString() == id);
  // The scheduler does not try again on its own (the hold is not due while one waits).
  auto due = book.LeaseDueAuthorizations(now + kDay, 86400, 300, 10);
  BOOST_TEST(due->empty());
  // The guest confirms on-session (3-D Secure); its webhook moves the chain on.
  stripe.Authenticate(pending);
  Record(pending);
  const ledger::Hold moved = Held(id);
  BOOST_TEST(moved.payment_intents == (std::vector<std::string>{id, pending}),
             boost::test_tools::per_element());
  BOOST_TEST(moved.reauthorization_json.empty());
  BOOST_TEST(stripe.intents.at(id).status == "canceled");
  BOOST_TEST(Types(id).back() == "reauthorized");
  BOOST_TEST(book.ListEvents(id, "", 100)->data.back().actor == "stripe");
}

BOOST_AUTO_TEST_CASE(a_decline_is_recorded_with_stripes_code_and_reauthorize_tries_again) {
  const std::string id = LongStay("pm_card_chargeCustomerFail");  // declines off-session
  now = kStart + 6 * kDay;
  const AuthorizeResult refused = Authorize(deps(), Held(id), scheduler, now);
  BOOST_REQUIRE((refused.outcome == AuthorizeOutcome::kRefused));
  const auto failed = book.ListEvents(id, "", 100)->data.back();
  BOOST_TEST(failed.type == "reauthorization_failed");
  BOOST_TEST(failed.detail_json.find(R"("code":"card_declined")") != std::string::npos);
  BOOST_TEST(failed.detail_json.find("insufficient_funds") != std::string::npos);
  const std::string first_refused = AwaitedPaymentIntent(Held(id));
  // POST /reauthorize: a new attempt (a new key), which abandons the refused one.
  now += 60;
  auto again = ReauthorizeHold(deps(), as(alpha), Post(""), id);
  BOOST_TEST(again.status == 402);
  BOOST_TEST(Body(again)["code"].GetString() == std::string("card_declined"));
  BOOST_TEST(stripe.intents.at(first_refused).status == "canceled");
  BOOST_TEST(AwaitedPaymentIntent(Held(id)) != first_refused);
  std::vector<std::string> keys;
  for (const auto& c : stripe.calls) {
    if (c.op == "create") keys.push_back(c.key);
  }
  BOOST_REQUIRE_EQUAL(keys.size(), 3U);
  BOOST_TEST(keys[1] != keys[2]);
  BOOST_TEST(stripe.intents.at(id).status == "requires_capture");
}

BOOST_AUTO_TEST_CASE(a_capture_that_wins_the_race_abandons_the_new_authorization) {
  const std::string id = LongStay();
  now = kStart + 6 * kDay;
  stripe::CreateParams p;
  p.amount = 25000;
  p.currency = "usd";
  p.customer = "cus_fake1";
  p.payment_method = "pm_card_visa";
  p.off_session = true;
  p.metadata = stripe.intents.at(id).metadata;
  auto fresh = stripe.Create(p, "k-new");
  REQUIRE_OK(fresh);
  stripe.intents.at(id).status = "succeeded";  // the client's capture got there first
  stripe.intents.at(id).amount_received = 25000;
  auto adopted = Supersede(deps(), Held(id), HoldRecord::FromStripe(*fresh, std::nullopt, now), id,
                           scheduler, now);
  REQUIRE_OK(adopted);
  BOOST_TEST(!*adopted);
  BOOST_TEST(stripe.intents.at(fresh->id).status == "canceled");
  BOOST_TEST(stripe.intents.at(fresh->id).cancellation_reason == "abandoned");
  BOOST_TEST(Held(id).payment_intents == std::vector<std::string>{id},
             boost::test_tools::per_element());
  BOOST_TEST(Held(id).status == "succeeded");
  BOOST_TEST(Types(id).back() == "captured");
}

BOOST_AUTO_TEST_CASE(a_hold_captured_meanwhile_is_not_re_authorized) {
  const std::string id = LongStay();
  now = kStart + 6 * kDay;
  const ledger::Hold stale = Held(id);  // the scheduler's view, before the capture
  stripe.intents.at(id).status = "succeeded";
  stripe.intents.at(id).amount_received = 25000;
  const AuthorizeResult result = Authorize(deps(), stale, scheduler, now);
  BOOST_TEST((result.outcome == AuthorizeOutcome::kNotAuthorizable));
  BOOST_TEST(Creates() == 1U);  // seen before any POST
}

BOOST_AUTO_TEST_CASE(reauthorize_refuses_a_hold_that_is_not_authorized) {
  const std::string body = R"({"amount":25000,"description":"Stay"})";
  auto created = CreateHold(deps(), as(alpha), Post(body));
  const std::string id = Body(created)["id"].GetString();
  auto refused = ReauthorizeHold(deps(), as(alpha), Post(""), id);
  BOOST_TEST(refused.status == 409);
  BOOST_TEST(Body(refused)["code"].GetString() == std::string("hold_not_authorized"));
  BOOST_TEST(ReauthorizeHold(deps(), as(beta), Post(""), id).status == 404);
  BOOST_TEST(ReauthorizeHold(deps(), as(alpha), Post(R"({"x":1})"), id).status == 400);
  ledger.SetFailing(true);
  const size_t calls = stripe.calls.size();
  BOOST_TEST(ReauthorizeHold(deps(), as(alpha), Post(""), id).status == 503);
  BOOST_TEST(stripe.calls.size() == calls);
}

BOOST_AUTO_TEST_CASE(a_hold_without_a_saved_card_has_no_payment_method) {
  auto created = CreateHold(deps(), as(alpha), Post(R"({"amount":25000,"description":"Stay"})"));
  const std::string id = Body(created)["id"].GetString();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  Record(id);
  auto refused = ReauthorizeHold(deps(), as(alpha), Post(""), id);
  BOOST_TEST(refused.status == 409);
  BOOST_TEST(Body(refused)["code"].GetString() == std::string("no_payment_method"));
  BOOST_TEST(Types(id).back() == "reauthorization_failed");
  BOOST_TEST(Creates() == 1U);
}

// ---- scheduled holds

BOOST_AUTO_TEST_CASE(a_scheduled_hold_is_a_setup_intent_until_the_scheduler_authorizes_it) {
  const int64_t at = kStart + 3 * kDay;
  const std::string body = R"({"amount":30000,"description":"Stay","property_id":"prop_9",)"
                           R"("customer_email":"guest@example.com","authorize_at":")" +
                           FormatIso8601(at) + R"("})";
  auto created = CreateHold(deps(), as(alpha), Post(body));
  BOOST_REQUIRE_EQUAL(created.status, 201);
  auto doc = Body(created);
  const std::string id = doc["id"].GetString();
  BOOST_TEST(id.starts_with("seti_"));
  BOOST_TEST(doc["status"].GetString() == std::string("scheduled"));
  BOOST_TEST(doc["setup_client_secret"].GetString() == id + "_secret_y");
  BOOST_TEST(!doc.HasMember("client_secret"));
  BOOST_TEST(doc["payment_intent"].IsNull());
  BOOST_TEST(doc["payment_intents"].Size() == 0U);
  BOOST_TEST(doc["authorize_at"].GetString() == FormatIso8601(at));
  BOOST_TEST(doc["amount"].GetInt64() == 30000);
  BOOST_TEST(doc["customer_email"].GetString() == std::string("guest@example.com"));
  BOOST_TEST(doc["property_id"].GetString() == std::string("prop_9"));
  BOOST_TEST(Creates() == 0U);  // no PaymentIntent yet
  BOOST_TEST(Types(id) == std::vector<std::string>{"scheduled"}, boost::test_tools::per_element());
  auto got = Body(GetHold(deps(), as(alpha), id));
  BOOST_TEST(got["status"].GetString() == std::string("scheduled"));
  BOOST_TEST(!got.HasMember("setup_client_secret"));
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post("{}"), id).status == 409);
  stripe.SaveCard(id, "pm_card_visa");
  now = at;
  auto due = book.LeaseDueAuthorizations(now, 86400, 300, 10);
  BOOST_REQUIRE_EQUAL(due->size(), 1U);
  BOOST_REQUIRE(
      (Authorize(deps(), due->front(), scheduler, now).outcome == AuthorizeOutcome::kAuthorized));
  const ledger::Hold authorized = Held(id);
  BOOST_REQUIRE_EQUAL(authorized.payment_intents.size(), 1U);
  const std::string pi_id = authorized.payment_intents.front();
  BOOST_TEST(authorized.status == "requires_capture");
  BOOST_TEST(stripe.intents.at(pi_id).amount == 30000);
  BOOST_TEST(stripe.intents.at(pi_id).receipt_email == "guest@example.com");
  BOOST_TEST(stripe.intents.at(pi_id).metadata.at("property_id") == "prop_9");
  BOOST_TEST(Types(id) == (std::vector<std::string>{"scheduled", "authorized"}),
             boost::test_tools::per_element());
  auto shown = Body(GetHold(deps(), as(alpha), pi_id));
  BOOST_TEST(shown["id"].GetString() == id);
  BOOST_TEST(shown["payment_intent"].GetString() == pi_id);
  BOOST_TEST(shown["status"].GetString() == std::string("requires_capture"));
}

BOOST_AUTO_TEST_CASE(a_scheduled_hold_without_a_card_fails_then_reauthorize_authorizes_it) {
  const int64_t at = kStart + kDay;
  auto created = CreateHold(
      deps(), as(alpha),
      Post(R"({"amount":5000,"description":"Stay","authorize_at":")" + FormatIso8601(at) + "\"}"));
  const std::string id = Body(created)["id"].GetString();
  now = at + 1;
  auto due = book.LeaseDueAuthorizations(now, 86400, 300, 10);
  BOOST_REQUIRE_EQUAL(due->size(), 1U);
  BOOST_TEST(
      (Authorize(deps(), due->front(), scheduler, now).outcome == AuthorizeOutcome::kNoCard));
  const auto failed = book.ListEvents(id, "", 100)->data.back();
  BOOST_TEST(failed.type == "authorization_failed");
  BOOST_TEST(failed.status_after == "requires_payment_method");
  BOOST_TEST(failed.detail_json.find(R"("code":"no_payment_method")") != std::string::npos);
  BOOST_TEST(Body(GetHold(deps(), as(alpha), id))["status"].GetString() ==
             std::string("requires_payment_method"));
  BOOST_TEST(book.LeaseDueAuthorizations(now + 600, 86400, 300, 10)->empty());
  auto still = ReauthorizeHold(deps(), as(alpha), Post(""), id);
  BOOST_TEST(still.status == 409);
  BOOST_TEST(Body(still)["code"].GetString() == std::string("no_payment_method"));
  stripe.SaveCard(id, "pm_card_visa");
  auto done = ReauthorizeHold(deps(), as(alpha), Post(""), id);
  BOOST_REQUIRE_EQUAL(done.status, 200);
  BOOST_TEST(Body(done)["status"].GetString() == std::string("requires_capture"));
  BOOST_TEST(Body(done)["id"].GetString() == id);
  BOOST_TEST(Types(id).back() == "authorized");
  BOOST_TEST(book.ListEvents(id, "", 100)->data.back().actor == "client:alpha");
}

BOOST_AUTO_TEST_CASE(a_scheduled_hold_cancelled_before_it_is_authorized) {
  const int64_t at = kStart + kDay;
  auto created = CreateHold(
      deps(), as(alpha),
      Post(R"({"amount":5000,"description":"Stay","authorize_at":")" + FormatIso8601(at) + "\"}"));
  const std::string id = Body(created)["id"].GetString();
  auto canceled = CancelHold(deps(), as(alpha), Post(R"({"reason":"booking cancelled"})"), id);
  BOOST_REQUIRE_EQUAL(canceled.status, 200);
  BOOST_TEST(Body(canceled)["status"].GetString() == std::string("canceled"));
  BOOST_TEST(CancelHold(deps(), as(alpha), Post("{}"), id).status == 409);
  BOOST_TEST(book.LeaseDueAuthorizations(at + 1, 86400, 300, 10)->empty());
  BOOST_TEST(Creates() == 0U);
}

BOOST_AUTO_TEST_CASE(create_refuses_bad_times_before_stripe) {
  const auto create = [&](const std::string& extra) {
    return CreateHold(deps(), as(alpha),
                      Post(R"({"amount":5000,"description":"Stay",)" + extra + "}"));
  };
  const auto param = [&](const http::Response& r) {
    return std::string(Body(r)["param"].GetString());
  };
  auto no_end = create(R"("reauthorize":true)");
  BOOST_TEST(no_end.status == 400);
  BOOST_TEST(param(no_end) == "stay_ends_at");
  auto past = create(R"("authorize_at":")" + FormatIso8601(now - 10) + "\"");
  BOOST_TEST(param(past) == "authorize_at");
  auto far = create(R"("authorize_at":")" + FormatIso8601(now + 91 * kDay) + "\"");
  BOOST_TEST(param(far) == "authorize_at");
  auto confirm = create(R"("payment_method":"pm_card_visa","authorize_at":")" +
                        FormatIso8601(now + kDay) + "\"");
  BOOST_TEST(param(confirm) == "payment_method");
  auto before_start = create(R"("authorize_at":")" + FormatIso8601(now + 2 * kDay) +
                             R"(","stay_ends_at":")" + FormatIso8601(now + kDay) + "\"");
  BOOST_TEST(param(before_start) == "stay_ends_at");
  auto not_bool =
      create(R"("reauthorize":"yes","stay_ends_at":")" + FormatIso8601(now + kDay) + "\"");
  BOOST_TEST(param(not_bool) == "reauthorize");
  BOOST_TEST(Creates() == 0U);
  BOOST_TEST(stripe.Count("customer") == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
