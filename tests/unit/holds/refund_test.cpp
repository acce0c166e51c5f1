// POST /api/holds/:id/refund (holds::RefundHold), its body (ParseRefundHold), its event
// (RecordRefund), the refunds a charge.refunded webhook finds, and the Stripe pieces
// under them (amount_refunded, Refund JSON, the over-refund error).
#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "holds/hold.h"
#include "holds/hold_request.h"
#include "holds/journal.h"
#include "holds/settled_holds.h"
#include "holds/stripe_key.h"
#include "stripe/errors.h"
#include "stripe/payment_intent_json.h"
#include "test_util.h"
#include "webhooks/events.h"

namespace cc::holds {
namespace {

struct Fixture : testing::PortsFixture {
  int64_t now = 1767225600;

  http::Caller as(const config::ClientToken& c, std::string key = {}) {
    return http::Caller{c, std::move(key), now, "req-refund"};
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
  static std::string Code(const http::Response& r) {
    auto doc = Body(r);
    return doc.HasMember("code") ? doc["code"].GetString() : "";
  }
  // A hold of 25000, authorized and captured for `captured`.
  std::string Captured(int64_t captured = 20000) {
    auto created =
        CreateHold(deps(), as(alpha), Post(R"({"amount":25000,"description":"Deposit"})"));
    BOOST_REQUIRE_EQUAL(created.status, 201);
    const std::string id = Body(created)["id"].GetString();
    REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
    now += 5;
    auto r = CaptureHold(deps(), as(alpha),
                         Post(R"({"amount_to_capture":)" + std::to_string(captured) + "}"), id);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    now += 5;
    return id;
  }
  http::Response Refund(const std::string& id, const std::string& body,
                        const std::string& key = {}) {
    return RefundHold(deps(), as(alpha, key), Post(body), id);
  }
  std::string LastRefundKey() const {
    std::string key;
    for (const auto& c : stripe.calls) {
      if (c.op == "refund") key = c.key;
    }
    return key;
  }
  std::vector<ledger::Event> Refunded(const std::string& id) {
    std::vector<ledger::Event> out;
    const auto page = book.ListEvents(id, "", 100);
    BOOST_REQUIRE(page.has_value());
    for (const auto& e : page->data) {
      if (e.type == "refunded") out.push_back(e);
    }
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(holds_refund, Fixture)

BOOST_AUTO_TEST_CASE(partial_partial_again_over_the_rest_then_the_whole_remainder) {
  const std::string id = Captured(20000);
  auto first = Refund(id, R"({"amount":5000,"reason":"towels were fine"})");
  BOOST_REQUIRE_EQUAL(first.status, 200);
  BOOST_TEST(Body(first)["amount_refunded"].GetInt64() == 5000);
  BOOST_TEST(Body(first)["amount_captured"].GetInt64() == 20000);
  BOOST_TEST(Body(first)["status"].GetString() == std::string("succeeded"));

  auto second = Refund(id, R"({"amount":5000,"reason":"towels were fine"})");
  BOOST_REQUIRE_EQUAL(second.status, 200);  // the same body later is a new refund
  BOOST_TEST(Body(second)["amount_refunded"].GetInt64() == 10000);
  BOOST_TEST(stripe.refunds.size() == 2U);

  const size_t calls = stripe.Count("refund");
  auto over = Refund(id, R"({"amount":10001})");
  BOOST_TEST(over.status == 409);
  BOOST_TEST(Code(over) == "refund_exceeds_captured");
  BOOST_TEST(stripe.Count("refund") == calls);  // refused before any Stripe POST

  auto rest = Refund(id, "");
  BOOST_REQUIRE_EQUAL(rest.status, 200);
  BOOST_TEST(Body(rest)["amount_refunded"].GetInt64() == 20000);
  BOOST_TEST(stripe.refunds.back().amount == 10000);

  auto nothing_left = Refund(id, "{}");
  BOOST_TEST(nothing_left.status == 409);
  BOOST_TEST(Code(nothing_left) == "refund_exceeds_captured");
  BOOST_TEST(stripe.Count("refund") == calls + 1);

  const auto events = Refunded(id);
  BOOST_REQUIRE_EQUAL(events.size(), 3U);
  BOOST_TEST(events[0].id == EventIdFor(id, "refund:" + stripe.refunds[0].id));
  BOOST_TEST(*events[0].amount == 5000);
  BOOST_TEST(events[0].actor == "client:alpha");
  BOOST_TEST(events[0].request_id == "req-refund");
  BOOST_TEST(events[0].detail_json ==
             R"({"refund":")" + stripe.refunds[0].id + R"(","reason":"towels were fine"})");
  BOOST_TEST(events[2].detail_json ==
             R"({"refund":")" + stripe.refunds[2].id + R"(","reason":null})");
  auto got = GetHold(deps(), as(alpha), id);
  BOOST_TEST(Body(got)["amount_refunded"].GetInt64() == 20000);
}

BOOST_AUTO_TEST_CASE(the_refund_reason_goes_to_stripe_metadata_and_the_intent_is_finished) {
  const std::string id = Captured();
  BOOST_REQUIRE_EQUAL(Refund(id, R"({"amount":100,"reason":"goodwill"})").status, 200);
  BOOST_TEST(stripe.refunds.back().reason == "goodwill");
  const std::string refund_key = LastRefundKey();
  auto intent = book.FindIntent(refund_key);
  BOOST_REQUIRE(intent.has_value());
  BOOST_REQUIRE(intent->has_value());
  BOOST_TEST((*intent)->operation == "refund");
  BOOST_TEST(((*intent)->state == ledger::IntentState::kSucceeded));
  BOOST_TEST(IntentField((*intent)->request_json, "amount") == "100");
}

BOOST_AUTO_TEST_CASE(only_a_captured_hold_is_refundable) {
  auto created = CreateHold(deps(), as(alpha), Post(R"({"amount":25000,"description":"Deposit"})"));
  const std::string id = Body(created)["id"].GetString();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  auto held = Refund(id, "{}");
  BOOST_TEST(held.status == 409);
  BOOST_TEST(Code(held) == "hold_not_refundable");
  BOOST_TEST(CancelHold(deps(), as(alpha), Post("{}"), id).status == 200);
  auto canceled = Refund(id, R"({"amount":1})");
  BOOST_TEST(canceled.status == 409);
  BOOST_TEST(Code(canceled) == "hold_not_refundable");
  BOOST_TEST(stripe.Count("refund") == 0U);
}

BOOST_AUTO_TEST_CASE(the_check_uses_stripes_fresh_state_not_the_cache) {
  const std::string id = Captured(20000);
  BOOST_REQUIRE_EQUAL(Refund(id, R"({"amount":1000})").status, 200);  // cached: 1000 refunded
  stripe.RefundAtStripe(stripe.intents.at(id), 18000, "dashboard");   // 1000 left at Stripe
  auto r = Refund(id, R"({"amount":5000})");  // the cache (fresh, < 2 s) would allow it
  BOOST_TEST(r.status == 409);
  BOOST_TEST(Code(r) == "refund_exceeds_captured");
  BOOST_TEST(stripe.Count("refund") == 1U);
}

BOOST_AUTO_TEST_CASE(another_clients_hold_is_404_and_a_down_ledger_503_before_stripe) {
  const std::string id = Captured();
  auto theirs = RefundHold(deps(), as(beta), Post("{}"), id);
  BOOST_TEST(theirs.status == 404);
  const size_t calls = stripe.calls.size();
  ledger.SetFailing(true);
  auto down = Refund(id, "{}");
  BOOST_TEST(down.status == 503);
  BOOST_TEST(stripe.calls.size() == calls);
  ledger.SetFailing(false);
  BOOST_TEST(stripe.Count("refund") == 0U);
}

BOOST_AUTO_TEST_CASE(bad_bodies_are_400_naming_the_param_and_call_nothing) {
  const std::string id = Captured();
  const size_t calls = stripe.calls.size();
  for (const auto& [body, param] : std::vector<std::pair<std::string, std::string>>{
           {R"({"amount":0})", "amount"},
           {R"({"amount":-5})", "amount"},
           {R"({"amount":"5"})", "amount"},
           {R"({"amount":1.5})", "amount"},
           {R"({"reason":7})", "reason"},
           {R"({"reason":")" + std::string(501, 'x') + R"("})", "reason"},
           {R"({"amount_to_refund":5})", "amount_to_refund"}}) {
    auto r = Refund(id, body);
    BOOST_TEST(r.status == 400, body);
    BOOST_TEST(Code(r) == "invalid_request", body);
    BOOST_TEST(std::string(Body(r)["param"].GetString()) == param, body);
  }
  BOOST_TEST(Refund(id, "[1]").status == 400);
  BOOST_TEST(stripe.calls.size() == calls);
}

BOOST_AUTO_TEST_CASE(a_keyed_repeat_replays_the_first_refund) {
  const std::string id = Captured(20000);
  auto first = Refund(id, "{}", "refund-key-1");  // the whole remainder: 20000
  BOOST_REQUIRE_EQUAL(first.status, 200);
  auto again = Refund(id, "{}", "refund-key-1");  // nothing is left, but it is a replay
  BOOST_REQUIRE_EQUAL(again.status, 200);
  BOOST_TEST(Body(again)["amount_refunded"].GetInt64() == 20000);
  BOOST_TEST(stripe.refunds.size() == 1U);
  BOOST_TEST(Refunded(id).size() == 1U);
  auto other = Refund(id, R"({"amount":5})", "refund-key-1");
  BOOST_TEST(other.status == 422);
}

// The service's idempotency record gone (memcached evicted or restarted it) and Stripe's
// key expired (24 h): the ledger still knows the refund was made, and no second one is.
BOOST_AUTO_TEST_CASE(a_keyed_repeat_of_a_recorded_refund_makes_no_second_stripe_post) {
  const std::string id = Captured(20000);
  auto first = Refund(id, R"({"amount":5000})", "refund-key-2");
  BOOST_REQUIRE_EQUAL(first.status, 200);
  BOOST_REQUIRE_EQUAL(stripe.Count("refund"), 1U);
  stripe.ForgetRefundKeys();
  now += 86400 + 60;
  auto again = Refund(id, R"({"amount":5000})", "refund-key-2");
  BOOST_REQUIRE_EQUAL(again.status, 200);
  BOOST_TEST(Body(again)["amount_refunded"].GetInt64() == 5000);
  BOOST_TEST(stripe.Count("refund") == 1U);
  BOOST_TEST(stripe.refunds.size() == 1U);
  BOOST_TEST(Refunded(id).size() == 1U);
}

BOOST_AUTO_TEST_CASE(identical_unkeyed_requests_seeing_the_same_state_share_one_key) {
  const std::string id = Captured(20000);
  // Two identical requests that both read amount_refunded 0 derive one key.
  const std::string k1 = DeriveStripeKey("alpha", "refund:" + id, "5000\n\n0");
  BOOST_REQUIRE_EQUAL(Refund(id, R"({"amount":5000})").status, 200);
  BOOST_TEST(LastRefundKey() == k1);
  BOOST_REQUIRE_EQUAL(Refund(id, R"({"amount":5000})").status, 200);
  BOOST_TEST(LastRefundKey() == DeriveStripeKey("alpha", "refund:" + id, "5000\n\n5000"));
}

BOOST_AUTO_TEST_CASE(stripes_over_refund_in_a_race_is_409) {
  const std::string id = Captured();
  stripe.fail_next_refund =
      MakeError(ErrorKind::kConflict, "refund_exceeds_captured", "raced", "amount");
  auto r = Refund(id, R"({"amount":10})");
  BOOST_TEST(stripe.Count("refund") == 1U);
  BOOST_TEST(r.status == 409);
  BOOST_TEST(Code(r) == "refund_exceeds_captured");
  BOOST_TEST(Refunded(id).empty());
}

BOOST_AUTO_TEST_CASE(a_stripe_timeout_is_504_and_leaves_the_intent_pending) {
  const std::string id = Captured();
  stripe.fail_next_refund = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "slow");
  auto r = Refund(id, R"({"amount":10})");
  BOOST_TEST(r.status == 504);
  BOOST_TEST(stripe.Count("refund") == 1U);
  auto intent = book.FindIntent(LastRefundKey());
  BOOST_REQUIRE(intent.has_value());
  BOOST_REQUIRE(intent->has_value());
  BOOST_TEST(((*intent)->state == ledger::IntentState::kPending));
}

BOOST_AUTO_TEST_CASE(the_hold_object_carries_amount_refunded_zero_before_any_refund) {
  auto created = CreateHold(deps(), as(alpha), Post(R"({"amount":25000,"description":"Deposit"})"));
  BOOST_TEST(Body(created)["amount_refunded"].GetInt64() == 0);
  HoldRecord record;
  record.pi.id = "pi_x";
  record.pi.status = "succeeded";
  record.pi.amount = 500;
  record.pi.latest_charge = "ch_x";
  record.pi.amount_refunded = 123;
  auto back = DeserializeRecord(SerializeRecord(record));
  REQUIRE_OK(back);
  BOOST_TEST(back->pi.amount_refunded == 123);
}

BOOST_AUTO_TEST_CASE(charge_refunded_from_the_dashboard_is_one_event_however_often_delivered) {
  const std::string id = Captured(20000);
  BOOST_REQUIRE_EQUAL(Refund(id, R"({"amount":3000})").status, 200);  // the client's own
  stripe.RefundAtStripe(stripe.intents.at(id), 2000, "dashboard");    // and one elsewhere
  for (const std::string evt : {"evt_r1", "evt_r2", "evt_r1"}) {      // r2: the own refund's event
    const std::string doc_text =
        R"({"id":")" + evt +
        R"(","object":"event","type":"charge.refunded","data":{"object":{"id":"ch_1",)"
        R"("object":"charge","payment_intent":")" +
        id + R"("}}})";
    auto doc = json::ParseStrict(doc_text);
    BOOST_REQUIRE(doc.has_value());
    auto applied = webhooks::ApplyStripeEvent(deps(), *doc, now, "req-hook");
    REQUIRE_OK(applied);
  }
  const auto events = Refunded(id);
  BOOST_REQUIRE_EQUAL(events.size(), 2U);
  BOOST_TEST(events[0].actor == "client:alpha");
  BOOST_TEST(events[1].actor == "stripe");
  BOOST_TEST(*events[1].amount == 2000);
  BOOST_TEST(events[1].id == EventIdFor(id, "refund:" + stripe.refunds[1].id));
  BOOST_TEST(events[1].detail_json ==
             R"({"refund":")" + stripe.refunds[1].id + R"(","reason":"dashboard"})");
  auto got = GetHold(deps(), as(alpha), id);
  BOOST_TEST(Body(got)["amount_refunded"].GetInt64() == 5000);
}

BOOST_AUTO_TEST_CASE(a_failed_refund_is_no_event) {
  HoldRecord record;
  record.pi.id = "pi_f";
  record.pi.status = "succeeded";
  record.pi.amount = 500;
  stripe::Refund refund{"re_f", 100, "usd", "failed", "pi_f", "", 0};
  REQUIRE_OK(RecordRefund(ledger, record, refund, Actor{"stripe", ""}, now));
  BOOST_TEST(book.ListEvents("pi_f", "", 10)->data.empty());
}

BOOST_AUTO_TEST_CASE(refund_body_parser) {
  auto empty = ParseRefundHold("");
  REQUIRE_OK(empty);
  BOOST_TEST(!empty->amount.has_value());
  auto full = ParseRefundHold(R"({"amount":42,"reason":"ok"})");
  REQUIRE_OK(full);
  BOOST_TEST(*full->amount == 42);
  BOOST_TEST(full->reason == "ok");
}

BOOST_AUTO_TEST_CASE(stripe_reads_amount_refunded_and_refunds) {
  auto pi = stripe::ParsePaymentIntent(std::string_view(
      R"({"id":"pi_1","object":"payment_intent","status":"succeeded","amount":900,)"
      R"("latest_charge":{"id":"ch_1","object":"charge","amount_refunded":300}})"));
  REQUIRE_OK(pi);
  BOOST_TEST(pi->amount_refunded == 300);
  auto bad = stripe::ParsePaymentIntent(
      std::string_view(R"({"id":"pi_1","status":"succeeded","amount":900,)"
                       R"("latest_charge":{"id":"ch_1","amount_refunded":"300"}})"));
  BOOST_TEST(!bad.has_value());
  auto page = stripe::ParseRefundPage(
      R"({"object":"list","has_more":false,"data":[{"id":"re_2","object":"refund","amount":50,)"
      R"("currency":"usd","status":"succeeded","payment_intent":"pi_1","created":7,)"
      R"("metadata":{"reason":"why"}},{"id":"re_1","object":"refund","amount":25,)"
      R"("status":"succeeded","payment_intent":"pi_1","metadata":{}}]})");
  REQUIRE_OK(page);
  BOOST_REQUIRE_EQUAL(page->data.size(), 2U);
  BOOST_TEST(page->data[0].id == "re_2");
  BOOST_TEST(page->data[0].reason == "why");
  BOOST_TEST(page->data[1].amount == 25);
  BOOST_TEST(!stripe::ParseRefund(std::string_view(R"({"object":"refund","amount":5})")));
}

BOOST_AUTO_TEST_CASE(stripes_refund_errors_map_to_the_contract) {
  const auto over = stripe::MapRefundError(
      400,
      R"j({"error":{"type":"invalid_request_error","param":"amount","message":"Refund amount ($200.00) is greater than unrefunded amount on charge ($150.00)"}})j");
  BOOST_TEST(over.code == "refund_exceeds_captured");
  BOOST_TEST(static_cast<int>(over.kind) == static_cast<int>(ErrorKind::kConflict));
  BOOST_TEST(
      stripe::MapRefundError(
          400,
          R"j({"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_1 has already been refunded."}})j")
          .code == "refund_exceeds_captured");
  BOOST_TEST(
      stripe::MapRefundError(
          400,
          R"j({"error":{"type":"invalid_request_error","message":"This PaymentIntent (pi_1) does not have a successful charge to refund."}})j")
          .code == "hold_not_refundable");
  BOOST_TEST(stripe::MapRefundError(500, "{}").code == "upstream_error");
  BOOST_TEST(stripe::MapRefundError(
                 400, R"j({"error":{"type":"idempotency_error","message":"Keys for …"}})j")
                 .code == "idempotency_key_reused");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
