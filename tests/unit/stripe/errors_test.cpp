#include "stripe/errors.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace cc::stripe {
namespace {

struct Case {
  const char* name;
  long status;  // NOLINT(google-runtime-int): curl's type
  std::string body;
  ErrorKind kind;
  const char* code;
  const char* id;            // expected Error.id
  const char* message_part;  // must occur in the message ("" = no check)
};

std::string StripeBody(const std::string& type, const std::string& code, const std::string& message,
                       const std::string& extra = "") {
  return R"({"error":{"type":")" + type + R"(","code":")" + code + R"(","message":")" + message +
         R"(")" + extra + "}}";
}

const std::string kDeclined = StripeBody(
    "card_error", "card_declined", "Your card was declined.",
    R"(,"decline_code":"generic_decline","payment_intent":{"id":"pi_9","object":"payment_intent",)"
    R"("status":"requires_payment_method","client_secret":"pi_9_secret_x"})");

BOOST_AUTO_TEST_SUITE(stripe_errors)

BOOST_AUTO_TEST_CASE(maps_stripe_answers_to_the_contract) {
  const Case cases[] = {
      {"decline", 402, kDeclined, ErrorKind::kPaymentDeclined, "card_declined", "pi_9",
       "Your card was declined."},
      {"card_error without 402", 400, StripeBody("card_error", "incorrect_cvc", "CVC wrong."),
       ErrorKind::kPaymentDeclined, "card_declined", "", "CVC wrong."},
      {"402 garbage", 402, "<html>", ErrorKind::kPaymentDeclined, "card_declined", "", "declined"},
      {"unexpected state", 400,
       StripeBody("invalid_request_error", "payment_intent_unexpected_state",
                  "This PaymentIntent could not be captured because it has a status of canceled.",
                  R"(,"payment_intent":{"id":"pi_7"})"),
       ErrorKind::kConflict, "hold_not_capturable", "pi_7", ""},
      {"expired for capture", 400,
       StripeBody("invalid_request_error", "charge_expired_for_capture", "Expired."),
       ErrorKind::kConflict, "hold_not_capturable", "", ""},
      {"amount too large", 400,
       StripeBody("invalid_request_error", "amount_too_large",
                  "The requested capture amount is greater than the amount you can capture."),
       ErrorKind::kInvalidArgument, "capture_exceeds_capturable", "", ""},
      {"missing", 404,
       StripeBody("invalid_request_error", "resource_missing", "No such payment_intent: 'pi_x'"),
       ErrorKind::kNotFound, "not_found", "", ""},
      {"404 html", 404, "<html>Not Found</html>", ErrorKind::kUpstream, "upstream_error", "",
       "HTTP 404"},
      {"idempotency mismatch", 400,
       R"({"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'k1'."}})",
       ErrorKind::kUnprocessable, "idempotency_key_reused", "", ""},
      {"idempotency in use", 409,
       StripeBody("invalid_request_error", "idempotency_key_in_use", "Conflict."),
       ErrorKind::kConflict, "idempotency_key_in_use", "", ""},
      {"bad key", 401,
       R"({"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****abcd"}})",
       ErrorKind::kUpstream, "upstream_error", "", "API key"},
      {"no permission", 403, StripeBody("invalid_request_error", "", "rk lacks permission"),
       ErrorKind::kUpstream, "upstream_error", "", "API key"},
      {"rate limited", 429, StripeBody("invalid_request_error", "rate_limit", "Too many."),
       ErrorKind::kUpstream, "upstream_error", "", "rate-limit"},
      {"other 4xx", 400,
       StripeBody("invalid_request_error", "parameter_invalid_integer", "Invalid integer: abc"),
       ErrorKind::kUpstream, "upstream_error", "", "Invalid integer: abc"},
      {"500", 500, StripeBody("api_error", "", "Something went wrong."), ErrorKind::kUpstream,
       "upstream_error", "", "HTTP 500"},
      {"503 garbage", 503, "\xFF\xFE", ErrorKind::kUpstream, "upstream_error", "", "HTTP 503"},
      {"empty 400", 400, "", ErrorKind::kUpstream, "upstream_error", "", "unreadable"},
      {"error not an object", 400, R"({"error":"invalid_grant"})", ErrorKind::kUpstream,
       "upstream_error", "", "unreadable"},
      {"302", 302, "", ErrorKind::kUpstream, "upstream_error", "", "HTTP 302"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const Error e = MapStripeError(c.status, c.body);
      BOOST_TEST(static_cast<int>(e.kind) == static_cast<int>(c.kind));
      BOOST_TEST(e.code == c.code);
      BOOST_TEST(e.id == c.id);
      BOOST_TEST(e.message.find(c.message_part) != std::string::npos, "message: " << e.message);
      BOOST_TEST(!e.message.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(never_echoes_the_key_or_a_client_secret) {
  const Error bad_key = MapStripeError(
      401,
      R"({"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_abcdef"}})");
  BOOST_TEST(bad_key.message.find("sk_") == std::string::npos);
  const Error declined = MapStripeError(402, kDeclined);
  BOOST_TEST(declined.message.find("secret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(drops_messages_that_carry_a_card_number) {
  const Error e = MapStripeError(
      402, StripeBody("card_error", "card_declined", "Card 4242424242424242 was declined."));
  BOOST_TEST(e.message.find("4242") == std::string::npos);
  BOOST_TEST(e.message == "The card was declined.");
}

BOOST_AUTO_TEST_CASE(cuts_long_messages_on_a_utf8_boundary) {
  std::string message(199, 'a');
  message += "\\u00e9tail";  // é straddles byte 200
  const Error e = MapStripeError(400, StripeBody("invalid_request_error", "x", message));
  const std::string prefix = "Stripe rejected the request (HTTP 400): ";
  BOOST_REQUIRE(e.message.starts_with(prefix));
  BOOST_TEST(e.message.size() - prefix.size() == 199U);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::stripe
