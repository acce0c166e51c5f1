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
    return ReceiveWebhook(http::Deps{config, stripe, chittyid, store, ledger}, r, now);
  }
  std::string CachedStatus() {
    auto cached = holds::HoldRepository(stripe, store).Cached("pi_w1");
    return cached ? cached->pi.status : "none";
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(webhooks_events, Fixture)

BOOST_AUTO_TEST_CASE(applies_an_event_for_an_uncached_hold_without_calling_stripe) {
  auto r =
      Deliver(PiEvent("evt_1", "payment_intent.amount_capturable_updated", "requires_capture"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"received":true})");
  BOOST_TEST(CachedStatus() == "requires_capture");
  BOOST_TEST(stripe.calls.empty());
}

BOOST_AUTO_TEST_CASE(a_repeated_event_has_no_second_effect) {
  const auto body =
      PiEvent("evt_2", "payment_intent.amount_capturable_updated", "requires_capture");
  BOOST_TEST(Deliver(body).status == 200);
  memory.Delete(holds::HoldKey("pi_w1"));
  auto again = Deliver(body);
  BOOST_TEST(again.body == R"({"received":true,"duplicate":true})");
  BOOST_TEST(CachedStatus() == "none");
}

BOOST_AUTO_TEST_CASE(succeeded_before_capturable_ends_succeeded) {
  BOOST_TEST(Deliver(PiEvent("evt_s", "payment_intent.succeeded", "succeeded")).status == 200);
  BOOST_TEST(
      Deliver(PiEvent("evt_c", "payment_intent.amount_capturable_updated", "requires_capture"))
          .status == 200);
  BOOST_TEST(CachedStatus() == "succeeded");
  auto cached = holds::HoldRepository(stripe, store).Cached("pi_w1");
  BOOST_TEST(*cached->captured_at == 1767311990);
}

BOOST_AUTO_TEST_CASE(an_expired_authorization_ends_canceled) {
  BOOST_TEST(
      Deliver(PiEvent("evt_a", "payment_intent.amount_capturable_updated", "requires_capture"))
          .status == 200);
  BOOST_TEST(Deliver(PiEvent("evt_x", "payment_intent.canceled", "canceled",
                             R"(,"cancellation_reason":"expired","canceled_at":1767311995)"))
                 .status == 200);
  BOOST_TEST(CachedStatus() == "canceled");
}

BOOST_AUTO_TEST_CASE(a_backwards_event_rereads_stripe) {
  stripe.intents["pi_w1"] = stripe::PaymentIntent{};
  auto& pi = stripe.intents["pi_w1"];
  pi.id = "pi_w1";
  pi.status = "requires_capture";
  pi.metadata = {{"client", "alpha"}};
  BOOST_TEST(
      Deliver(PiEvent("evt_c", "payment_intent.amount_capturable_updated", "requires_capture"))
          .status == 200);
  BOOST_TEST(
      Deliver(PiEvent("evt_old", "payment_intent.requires_action", "requires_action")).status ==
      200);
  BOOST_TEST(stripe.Count("retrieve") == 1U);
  BOOST_TEST(CachedStatus() == "requires_capture");
}

BOOST_AUTO_TEST_CASE(charge_events_reread_the_payment_intent) {
  stripe.intents["pi_w1"] = stripe::PaymentIntent{};
  auto& pi = stripe.intents["pi_w1"];
  pi.id = "pi_w1";
  pi.status = "canceled";
  pi.metadata = {{"client", "alpha"}};
  const std::string body =
      R"({"id":"evt_ch","object":"event","type":"charge.expired","data":{"object":{"id":"ch_w1","object":"charge","payment_intent":"pi_w1"}}})";
  BOOST_TEST(Deliver(body).status == 200);
  BOOST_TEST(CachedStatus() == "canceled");
}

BOOST_AUTO_TEST_CASE(a_failure_while_applying_is_5xx_and_not_remembered) {
  const std::string body =
      R"({"id":"evt_f","object":"event","type":"charge.captured","data":{"object":{"id":"ch_w1","object":"charge","payment_intent":"pi_w1"}}})";
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "upstream_error", "Stripe 500");
  BOOST_TEST(Deliver(body).status == 502);
  stripe.intents["pi_w1"] = stripe::PaymentIntent{};
  stripe.intents["pi_w1"].id = "pi_w1";
  stripe.intents["pi_w1"].status = "succeeded";
  stripe.intents["pi_w1"].metadata = {{"client", "alpha"}};
  auto retried = Deliver(body);
  BOOST_TEST(retried.body == R"({"received":true})");
  BOOST_TEST(CachedStatus() == "succeeded");
}

BOOST_AUTO_TEST_CASE(foreign_and_unknown_events_are_ignored) {
  auto foreign = Deliver(PiEvent("evt_f1", "payment_intent.succeeded", "succeeded", "", ""));
  BOOST_TEST(foreign.status == 200);
  auto unknown =
      Deliver(R"({"id":"evt_u","object":"event","type":"customer.created","data":{"object":{}}})");
  BOOST_TEST(unknown.status == 200);
  BOOST_TEST(CachedStatus() == "none");
}

BOOST_AUTO_TEST_CASE(signature_failures_are_400_and_apply_nothing) {
  const auto body = PiEvent("evt_sig", "payment_intent.succeeded", "succeeded");
  BOOST_TEST(Deliver(body, "whsec_other").status == 400);
  BOOST_TEST(Deliver(body, "whsec_new", kNow - 301).status == 400);
  BOOST_TEST(Deliver(body, "whsec_old", kNow - 300).status == 200);  // rotation + edge of tolerance
  std::string off = body;
  off.back() = ' ';
  http::Request r{"POST", "/webhook", "", {{"stripe-signature", "t=1,v1=00"}}, off, ""};
  auto bad = ReceiveWebhook(http::Deps{config, stripe, chittyid, store, ledger}, r, kNow);
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.body.find("invalid_signature") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_signed_non_event_is_invalid_json) {
  BOOST_TEST(Deliver(R"({"hello":"world"})").status == 400);
  BOOST_TEST(Deliver("not json").status == 400);
}

BOOST_AUTO_TEST_CASE(with_memcached_down_events_are_still_answered_200) {
  store.SetFailing(true);
  BOOST_TEST(Deliver(PiEvent("evt_m", "payment_intent.succeeded", "succeeded")).status == 200);
}

BOOST_AUTO_TEST_CASE(a_capture_seen_first_through_charge_captured_keeps_the_succeeded_time) {
  // Captured outside ChittyCharge (Dashboard): charge.captured's re-read stores the
  // terminal hold first; the payment_intent.succeeded that follows still sets captured_at.
  stripe.intents["pi_w1"] = stripe::PaymentIntent{};
  auto& pi = stripe.intents["pi_w1"];
  pi.id = "pi_w1";
  pi.status = "succeeded";
  pi.metadata = {{"client", "alpha"}};
  const std::string captured =
      R"({"id":"evt_cc","object":"event","type":"charge.captured","data":{"object":{"id":"ch_w1","object":"charge","payment_intent":"pi_w1"}}})";
  BOOST_TEST(Deliver(captured).status == 200);
  BOOST_TEST(Deliver(PiEvent("evt_ps", "payment_intent.succeeded", "succeeded")).status == 200);
  auto cached = holds::HoldRepository(stripe, store).Cached("pi_w1");
  BOOST_TEST(cached->pi.status == "succeeded");
  BOOST_TEST(cached->captured_at.value_or(0) == 1767311990);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::webhooks
