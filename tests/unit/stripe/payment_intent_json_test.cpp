#include "stripe/payment_intent_json.h"

#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "test_util.h"

namespace cc::stripe {
namespace {

// The PaymentIntent inside the first event of the webhook vectors (stripe 23.1.0;
// tests/data/README.md).
std::string FirstVectorEvent() {
  std::ifstream in(CC_TEST_DATA_DIR "/webhook-vectors.json");
  BOOST_REQUIRE_MESSAGE(in.good(), "cannot open webhook-vectors.json");
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  BOOST_REQUIRE(!doc.HasParseError() && doc.IsObject() && doc["cases"].IsArray());
  const rapidjson::Value& payload = doc["cases"][0]["payload"];
  BOOST_REQUIRE(payload.IsString());
  return payload.GetString();
}

// A capture answer with latest_charge expanded (trimmed Stripe JSON).
constexpr std::string_view kExpanded = R"({
  "id": "pi_3QcHk2LkdIwHu7ixP1x0Pi002", "object": "payment_intent",
  "amount": 25000, "amount_capturable": 0, "amount_received": 20000,
  "canceled_at": null, "cancellation_reason": null, "capture_method": "manual",
  "client_secret": "pi_3QcHk2LkdIwHu7ixP1x0Pi002_secret_abc", "created": 1767311955,
  "currency": "usd", "description": null,
  "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline",
                         "type": "card_error"},
  "latest_charge": {"id": "ch_3QcHk2LkdIwHu7ixP1x0Ch002", "object": "charge",
    "captured": true, "amount_captured": 20000,
    "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242",
      "capture_before": 1767916755, "extended_authorization": {"status": "disabled"}}}},
  "metadata": {"chitty_id": "CHITTY-AUTH-1", "capture_reason": "damage"},
  "receipt_email": "guest@example.com", "status": "succeeded"
})";

BOOST_AUTO_TEST_SUITE(stripe_payment_intent_json)

BOOST_AUTO_TEST_CASE(reads_the_payment_intent_of_a_real_webhook_event) {
  rapidjson::Document event;
  const std::string payload = FirstVectorEvent();
  event.Parse(payload.c_str());
  BOOST_REQUIRE(!event.HasParseError());
  const Result<PaymentIntent> pi = ParsePaymentIntent(event["data"]["object"]);
  REQUIRE_OK(pi);
  BOOST_TEST(pi->id == "pi_3QcHk2LkdIwHu7ixP1x0Pi001");
  BOOST_TEST(pi->status == "requires_capture");
  BOOST_TEST(pi->amount == 25000);
  BOOST_TEST(pi->amount_capturable == 25000);
  BOOST_TEST(pi->amount_received == 0);
  BOOST_TEST(pi->currency == "usd");
  BOOST_TEST(pi->description == "Hold for booking 000123 (2 nights)");
  BOOST_TEST(pi->receipt_email.empty());
  BOOST_TEST(pi->cancellation_reason.empty());
  BOOST_TEST(pi->created == 1767311955);
  BOOST_TEST(!pi->canceled_at.has_value());
  BOOST_TEST(pi->latest_charge == "ch_3QcHk2LkdIwHu7ixP1x0Ch001");
  BOOST_TEST(!pi->capture_before.has_value());
  BOOST_TEST(pi->last_payment_error_code.empty());
  BOOST_TEST(pi->metadata.size() == 2U);
  BOOST_TEST(pi->metadata.at("booking_id") == "000123");
}

BOOST_AUTO_TEST_CASE(reads_an_expanded_latest_charge_and_last_payment_error) {
  const Result<PaymentIntent> pi = ParsePaymentIntent(kExpanded);
  REQUIRE_OK(pi);
  BOOST_TEST(pi->latest_charge == "ch_3QcHk2LkdIwHu7ixP1x0Ch002");
  BOOST_REQUIRE(pi->capture_before.has_value());
  BOOST_TEST(*pi->capture_before == 1767916755);
  BOOST_TEST(pi->last_payment_error_code == "card_declined");
  BOOST_TEST(pi->amount_received == 20000);
  BOOST_TEST(pi->client_secret == "pi_3QcHk2LkdIwHu7ixP1x0Pi002_secret_abc");
  BOOST_TEST(pi->receipt_email == "guest@example.com");
  BOOST_TEST(pi->metadata.at("capture_reason") == "damage");
}

BOOST_AUTO_TEST_CASE(reads_canceled_fields) {
  const Result<PaymentIntent> pi = ParsePaymentIntent(
      R"({"id":"pi_1","status":"canceled","amount":500,"canceled_at":1767312000,)"
      R"("cancellation_reason":"expired"})");
  REQUIRE_OK(pi);
  BOOST_TEST(pi->canceled_at.value_or(0) == 1767312000);
  BOOST_TEST(pi->cancellation_reason == "expired");
}

BOOST_AUTO_TEST_CASE(tolerates_missing_and_null_optional_fields) {
  const Result<PaymentIntent> pi = ParsePaymentIntent(
      R"({"id":"pi_1","status":"requires_payment_method","amount":500,"metadata":null,)"
      R"("latest_charge":null,"last_payment_error":null,"amount_capturable":null})");
  REQUIRE_OK(pi);
  BOOST_TEST(pi->amount_capturable == 0);
  BOOST_TEST(pi->metadata.empty());
  BOOST_TEST(pi->latest_charge.empty());
}

BOOST_AUTO_TEST_CASE(keeps_only_string_metadata_values) {
  const Result<PaymentIntent> pi = ParsePaymentIntent(
      R"({"id":"pi_1","status":"succeeded","amount":1,"metadata":{"a":"x","b":1,"c":null}})");
  REQUIRE_OK(pi);
  BOOST_TEST(pi->metadata.size() == 1U);
  BOOST_TEST(pi->metadata.at("a") == "x");
}

BOOST_AUTO_TEST_CASE(an_expanded_charge_without_card_details_has_no_capture_before) {
  const Result<PaymentIntent> pi =
      ParsePaymentIntent(R"({"id":"pi_1","status":"requires_capture","amount":1,)"
                         R"("latest_charge":{"id":"ch_1","payment_method_details":null}})");
  REQUIRE_OK(pi);
  BOOST_TEST(pi->latest_charge == "ch_1");
  BOOST_TEST(!pi->capture_before.has_value());
}

BOOST_AUTO_TEST_CASE(rejects_wrong_types_and_missing_required_fields) {
  for (const char* json : {
           R"({"status":"succeeded","amount":1})",
           R"({"id":"pi_1","amount":1})",
           R"({"id":"pi_1","status":"succeeded"})",
           R"({"id":"pi_1","status":"succeeded","amount":"1"})",
           R"({"id":"pi_1","status":"succeeded","amount":1.5})",
           R"({"id":"pi_1","status":"succeeded","amount":1,"amount_capturable":"0"})",
           R"({"id":"pi_1","status":"succeeded","amount":1,"metadata":[]})",
           R"({"id":"pi_1","status":"succeeded","amount":1,"latest_charge":7})",
           R"({"id":"pi_1","status":"succeeded","amount":1,"object":"charge"})",
           R"({"id":7,"status":"succeeded","amount":1})",
           R"([])",
           R"(not json)",
           R"({"id":"pi_1","status":"succeeded","amount":1} trailing)",
           "{\"id\":\"pi_\xFF\",\"status\":\"succeeded\",\"amount\":1}",
           // Kept strings are checked for UTF-8 (the parse itself does not validate).
           "{\"id\":\"pi_1\",\"status\":\"succeeded\",\"amount\":1,\"description\":\"\xC3\x28\"}",
           R"({"id":"pi_1","status":"succeeded","amount":1,"description":"\udc00"})",
           "{\"id\":\"pi_1\",\"status\":\"succeeded\",\"amount\":1,\"metadata\":{\"k\":"
           "\"\xED\xA0\x80\"}}",
           "{\"id\":\"pi_1\",\"status\":\"succeeded\",\"amount\":1,\"metadata\":{\"\xFF\":\"v\"}}",
           "{\"id\":\"pi_1\",\"status\":\"succeeded\",\"amount\":1,\"latest_charge\":\"ch_\xFF\"}",
       }) {
    const Result<PaymentIntent> pi = ParsePaymentIntent(std::string_view(json));
    BOOST_TEST_CONTEXT(json) {
      REQUIRE_ERROR(pi);
      BOOST_TEST(pi.error().code == "upstream_error");
      BOOST_TEST(HttpStatus(pi.error().kind) == 502);
    }
  }
}

BOOST_AUTO_TEST_CASE(reads_a_search_page) {
  const Result<SearchPage> page = ParseSearchPage(
      R"({"object":"search_result","url":"/v1/payment_intents/search","has_more":true,)"
      R"("next_page":"WzE3Njc=","data":[{"id":"pi_1","status":"succeeded","amount":1},)"
      R"({"id":"pi_2","status":"canceled","amount":2}]})");
  REQUIRE_OK(page);
  BOOST_TEST(page->data.size() == 2U);
  BOOST_TEST(page->data[1].id == "pi_2");
  BOOST_TEST(page->has_more);
  BOOST_TEST(page->next_page == "WzE3Njc=");
}

BOOST_AUTO_TEST_CASE(a_last_search_page_has_no_next_page) {
  const Result<SearchPage> page =
      ParseSearchPage(R"({"object":"search_result","has_more":false,"next_page":null,"data":[]})");
  REQUIRE_OK(page);
  BOOST_TEST(page->data.empty());
  BOOST_TEST(!page->has_more);
  BOOST_TEST(page->next_page.empty());
}

BOOST_AUTO_TEST_CASE(rejects_a_malformed_search_page) {
  BOOST_TEST(!ParseSearchPage(R"({"data":{}})").has_value());
  BOOST_TEST(!ParseSearchPage(R"({"data":[{"id":"pi_1"}]})").has_value());
  BOOST_TEST(!ParseSearchPage("").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::stripe
