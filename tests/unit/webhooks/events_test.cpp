#include "webhooks/events.h"

#include <boost/test/unit_test.hpp>

#include "core/crypto.h"
#include "fakes/ports_fixture.h"
#include "holds/hold_repository.h"
#include "test_util.h"

namespace cc::webhooks {
namespace {

constexpr int64_t kNow = 1767311997;

std::string PiEvent(const std::string& evt, const std::string& type, const std::string& status,
                    const std::string& extra = "", const std::string& client = "alpha") {
  return R"({"id":")" + evt + R"(","object":"event","created":1767311990,"type":")" + type +
         R"(","data":{"object":{"id":"pi_w1","object":"payment_intent","status":")" + status +
         R"(","amount":25000,"amount_capturable":)" +
         (status == "requires_capture" ? "25000" : "0") + R"(,"amount_received":)" +
         (status == "succeeded" ? "25000" : "0") +
         R"(,"currency":"usd","created":1767311900,"latest_charge":"ch_w1")" + extra +
         R"(,"metadata":{"client":")" + client +
         R"(","chitty_id":"CHITTY-AUTH-W1","tier":"NEW_GUEST"}}}})";
}

struct Fixture : testing::PortsFixture {
  Fixture() { config.webhook_secrets = {"whsec_old", "whsec_new"}; }

  http::Response Deliver(const std::string& body, std::string secret = "whsec_new",
                         int64_t signed_at = kNow, int64_t now = kNow) {
    const std::string header =
        "t=" + std::to_string(signed_at) +
        ",v1=" + crypto::HmacSha256Hex(secret, std::to_string(signed_at) + "." + body);
    http::Request r{"POST", "/webhook", "", {{"stripe-signature", header}}, body, ""};
    return ReceiveWebhook(http::Deps{config, stripe, chittyid, store, ledger}, r, now, "req-hook");
  }
  // Stripe's own state of pi_w1 (what a re-read answers).
  stripe::PaymentIntent& AtStripe(const std::string& status, int64_t created = kNow - 100,
                                  const std::string& client = "alpha") {
    auto& pi = stripe.intents["pi_w1"];
    pi.id = "pi_w1";
    pi.status = status;
    pi.amount = 25000;
    pi.amount_capturable = status == "requires_capture" ? 25000 : 0;
    pi.amount_received = status == "succeeded" ? 25000 : 0;
    pi.currency = "usd";
    pi.created = created;
    pi.metadata = {{"chitty_id", "CHITTY-AUTH-W1"}, {"tier", "NEW_GUEST"}};
    if (!client.empty()) pi.metadata["client"] = client;
    return pi;
  }
  std::string CachedStatus() {
    auto cached = holds::HoldRepository(stripe, store).Cached("pi_w1");
    return cached ? cached->pi.status : "none";
  }
  std::optional<ledger::Hold> Recorded() { return *book.FindHold("pi_w1"); }
  std::vector<std::string> EventTypes() {
    std::vector<std::string> types;
    const auto page = book.ListEvents("pi_w1", "", 100);
    for (const auto& e : page->data) types.push_back(e.type);
    return types;
  }
};

const std::string kCharge =
    R"({"id":"evt_cc","object":"event","type":"charge.captured","data":{"object":{"id":"ch_w1","object":"charge","payment_intent":"pi_w1"}}})";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(webhooks_events, Fixture)

BOOST_AUTO_TEST_CASE(an_event_is_a_signal_stripes_answer_is_recorded_not_the_body) {
  AtStripe("requires_capture");
  // Validly signed, but the body claims a capture, another amount and another owner.
  auto r = Deliver(PiEvent("evt_1", "payment_intent.succeeded", "succeeded",
                           R"(,"description":"forged")", "beta"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"received":true})");
  BOOST_TEST(stripe.Count("retrieve") == 1U);
  BOOST_TEST(CachedStatus() == "requires_capture");
  auto hold = Recorded();
  BOOST_REQUIRE(hold.has_value());
  BOOST_TEST(hold->client == "alpha");
  BOOST_TEST(hold->amount == 25000);
  BOOST_TEST(hold->status == "requires_capture");
  BOOST_TEST(EventTypes() == std::vector<std::string>{"created"});
  const auto events = book.ListEvents("pi_w1", "", 10);
  BOOST_TEST(events->data.at(0).actor == "stripe");
  BOOST_TEST(events->data.at(0).request_id == "req-hook");
}

BOOST_AUTO_TEST_CASE(a_repeated_event_has_one_effect_even_after_memcached_forgot_it) {
  AtStripe("requires_capture");
  const auto body =
      PiEvent("evt_2", "payment_intent.amount_capturable_updated", "requires_capture");
  BOOST_TEST(Deliver(body).body == R"({"received":true})");
  AtStripe("succeeded");
  BOOST_TEST(Deliver(kCharge).body == R"({"received":true})");
  memory.Clear();  // flush_all
  BOOST_TEST(Deliver(body).body == R"({"received":true,"duplicate":true})");
  BOOST_TEST(Deliver(kCharge).body == R"({"received":true,"duplicate":true})");
  // Another event of the same change (payment_intent.succeeded after charge.captured).
  BOOST_TEST(Deliver(PiEvent("evt_3", "payment_intent.succeeded", "succeeded")).body ==
             R"({"received":true})");
  BOOST_TEST((EventTypes() == std::vector<std::string>{"created", "captured"}));
  const auto page = book.ListEvents("pi_w1", "", 10);
  const auto& captured = page->data.at(1);
  BOOST_TEST(captured.status_before == "requires_capture");
  BOOST_TEST(captured.status_after == "succeeded");
  BOOST_TEST(captured.amount.value_or(0) == 25000);
}

BOOST_AUTO_TEST_CASE(with_memcached_down_a_second_delivery_is_a_duplicate) {
  AtStripe("requires_capture");
  store.SetFailing(true);
  const auto body =
      PiEvent("evt_m", "payment_intent.amount_capturable_updated", "requires_capture");
  BOOST_TEST(Deliver(body).body == R"({"received":true})");
  BOOST_TEST(Deliver(body).body == R"({"received":true,"duplicate":true})");
  BOOST_TEST(EventTypes() == std::vector<std::string>{"created"});
}

BOOST_AUTO_TEST_CASE(a_lapsed_authorization_ends_canceled_with_one_expired_event) {
  AtStripe("requires_capture");
  BOOST_TEST(
      Deliver(PiEvent("evt_a", "payment_intent.amount_capturable_updated", "requires_capture"))
          .status == 200);
  AtStripe("canceled").cancellation_reason = "automatic";
  BOOST_TEST(Deliver(PiEvent("evt_x", "payment_intent.canceled", "canceled")).status == 200);
  BOOST_TEST(CachedStatus() == "canceled");
  BOOST_TEST(Recorded()->status == "canceled");
  BOOST_TEST((EventTypes() == std::vector<std::string>{"created", "expired"}));
}

BOOST_AUTO_TEST_CASE(a_hold_older_than_the_ledger_is_imported_with_a_reconciled_event) {
  AtStripe("requires_capture", kNow - 3 * 86400);
  BOOST_TEST(Deliver(kCharge).status == 200);
  BOOST_TEST(EventTypes() == std::vector<std::string>{"reconciled"});
  BOOST_TEST(Recorded()->created_at == kNow - 3 * 86400);
}

BOOST_AUTO_TEST_CASE(a_failure_while_applying_is_5xx_and_not_remembered) {
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "upstream_error", "Stripe 500");
  BOOST_TEST(Deliver(kCharge).status == 502);
  AtStripe("succeeded");
  auto retried = Deliver(kCharge);
  BOOST_TEST(retried.body == R"({"received":true})");
  BOOST_TEST(CachedStatus() == "succeeded");
}

BOOST_AUTO_TEST_CASE(ledger_down_is_503_and_records_nothing_until_it_returns) {
  AtStripe("succeeded");
  ledger.SetFailing(true);
  auto down = Deliver(kCharge);
  BOOST_TEST(down.status == 503);
  BOOST_TEST(down.body.find("service_unavailable") != std::string::npos);
  ledger.SetFailing(false);
  BOOST_TEST(!Recorded().has_value());
  BOOST_TEST(Deliver(kCharge).body == R"({"received":true})");
  BOOST_TEST(Recorded()->status == "succeeded");
}

BOOST_AUTO_TEST_CASE(foreign_and_unknown_events_are_ignored) {
  AtStripe("succeeded", kNow - 100, "");
  auto foreign = Deliver(PiEvent("evt_f1", "payment_intent.succeeded", "succeeded"));
  BOOST_TEST(foreign.status == 200);
  BOOST_TEST(foreign.body == R"({"received":true,"ignored":true})");
  auto unknown =
      Deliver(R"({"id":"evt_u","object":"event","type":"customer.created","data":{"object":{}}})");
  BOOST_TEST(unknown.status == 200);
  BOOST_TEST(CachedStatus() == "none");
  BOOST_TEST(!Recorded().has_value());
}

BOOST_AUTO_TEST_CASE(signature_failures_are_400_and_apply_nothing) {
  AtStripe("succeeded");
  const auto body = PiEvent("evt_sig", "payment_intent.succeeded", "succeeded");
  BOOST_TEST(Deliver(body, "whsec_other").status == 400);
  BOOST_TEST(Deliver(body, "whsec_new", kNow - 301).status == 400);
  BOOST_TEST(!Recorded().has_value());
  BOOST_TEST(Deliver(body, "whsec_old", kNow - 300).status == 200);  // rotation + edge of tolerance
  std::string off = body;
  off.back() = ' ';
  http::Request r{"POST", "/webhook", "", {{"stripe-signature", "t=1,v1=00"}}, off, ""};
  auto bad =
      ReceiveWebhook(http::Deps{config, stripe, chittyid, store, ledger}, r, kNow, "req-hook");
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.body.find("invalid_signature") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_signed_non_event_is_invalid_json) {
  BOOST_TEST(Deliver(R"({"hello":"world"})").status == 400);
  BOOST_TEST(Deliver("not json").status == 400);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::webhooks
