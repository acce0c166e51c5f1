#include "holds/hold_request.h"

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "test_util.h"

namespace cc::holds {
namespace {

struct BadCase {
  const char* name;
  std::string body;
  const char* code;
  const char* param;
};

std::ostream& operator<<(std::ostream& os, const BadCase& c) { return os << c.name; }

std::string Metadata(int keys) {
  std::string m = "{";
  for (int i = 0; i < keys; ++i) m += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  return m + "}";
}

const BadCase kBad[] = {
    {"not json", "{", "invalid_json", ""},
    {"array", "[]", "invalid_json", ""},
    {"trailing bytes", R"({"description":"x"} x)", "invalid_json", ""},
    {"duplicate key", R"({"description":"x","description":"y"})", "invalid_json", ""},
    {"deep nesting", std::string(40, '[') + std::string(40, ']'), "invalid_json", ""},
    {"invalid utf8", "{\"description\":\"\xC3\x28\"}", "invalid_json", ""},
    // Regression (fuzz_create_request): a lone surrogate escape decoded to invalid UTF-8.
    {"lone surrogate in a value", R"({"description":"\uddde"})", "invalid_json", ""},
    {"lone surrogate in a key", R"({"description":"x","metadata":{"\udc00":"v"}})", "invalid_json",
     ""},
    // Regression (fuzz_create_request): RapidJSON parsed these to infinity.
    {"number overflows to infinity", R"({"description":"x","amount":99e307})", "invalid_json", ""},
    {"negative infinity in metadata", R"({"description":"x","metadata":[-1.8e308]})",
     "invalid_json", ""},
    {"amount 49", R"({"amount":49,"description":"x"})", "amount_too_small", "amount"},
    {"amount negative", R"({"amount":-5,"description":"x"})", "amount_too_small", "amount"},
    {"amount float", R"({"amount":250.5,"description":"x"})", "invalid_request", "amount"},
    {"amount exponent", R"({"amount":2.5e4,"description":"x"})", "invalid_request", "amount"},
    {"amount string", R"({"amount":"25000","description":"x"})", "invalid_request", "amount"},
    {"amount null", R"({"amount":null,"description":"x"})", "invalid_request", "amount"},
    {"amount huge", R"({"amount":99999999999999999999999,"description":"x"})", "invalid_request",
     "amount"},
    {"currency chf", R"({"description":"x","currency":"chf"})", "unsupported_currency", "currency"},
    {"gbp under 30", R"({"description":"x","currency":"gbp","amount":29})", "amount_too_small",
     "amount"},
    {"currency number", R"({"description":"x","currency":5})", "unsupported_currency", "currency"},
    {"no description", R"({"amount":5000})", "invalid_request", "description"},
    {"empty description", R"({"description":""})", "invalid_request", "description"},
    {"long description", R"({"description":")" + std::string(1001, 'd') + "\"}", "invalid_request",
     "description"},
    {"bad email", R"({"description":"x","customer_email":"nobody"})", "invalid_request",
     "customer_email"},
    {"two ats", R"({"description":"x","customer_email":"a@b@c.com"})", "invalid_request",
     "customer_email"},
    {"no dot", R"({"description":"x","customer_email":"a@localhost"})", "invalid_request",
     "customer_email"},
    {"metadata not object", R"({"description":"x","metadata":"m"})", "invalid_request", "metadata"},
    {"metadata number", R"({"description":"x","metadata":{"a":1}})", "invalid_request",
     "metadata[a]"},
    {"metadata bracket", R"({"description":"x","metadata":{"a[b]":"v"}})", "invalid_request",
     "metadata"},
    {"metadata key 41", R"({"description":"x","metadata":{")" + std::string(41, 'k') + R"(":"v"}})",
     "invalid_request", "metadata"},
    {"metadata value 501",
     R"({"description":"x","metadata":{"k":")" + std::string(501, 'v') + R"("}})",
     "invalid_request", "metadata[k]"},
    {"metadata 51 keys", R"({"description":"x","metadata":)" + Metadata(51) + "}",
     "invalid_request", "metadata"},
    {"metadata 41 keys", R"({"description":"x","metadata":)" + Metadata(41) + "}",
     "invalid_request", "metadata"},
    {"reserved client", R"({"description":"x","metadata":{"client":"me"}})", "invalid_request",
     "metadata[client]"},
    {"reserved chitty_id", R"({"description":"x","metadata":{"chitty_id":"c"}})", "invalid_request",
     "metadata[chitty_id]"},
    {"reserved capture_reason", R"({"description":"x","metadata":{"capture_reason":"c"}})",
     "invalid_request", "metadata[capture_reason]"},
    {"unknown tier", R"({"description":"x","tier":"GOLD"})", "invalid_request", "tier"},
    {"lower-case tier", R"({"description":"x","tier":"new_guest"})", "invalid_request", "tier"},
    {"unknown guest_tier", R"({"description":"x","metadata":{"guest_tier":"X"}})",
     "invalid_request", "metadata[guest_tier]"},
    {"unknown field", R"({"description":"x","ammount":5000})", "invalid_request", "ammount"},
    {"bad payment method", R"({"description":"x","payment_method":"card_123"})", "invalid_request",
     "payment_method"},
};

// Regression: "\u0000" in a string field was accepted and sent to Stripe, while
// docs/reliability.md says NUL is refused.
const BadCase kNul[] = {
    {"description", R"({"description":"Deposit\u0000"})", "invalid_request", "description"},
    {"description only NUL", R"({"description":"\u0000"})", "invalid_request", "description"},
    {"metadata value", R"({"description":"x","metadata":{"booking_id":"b\u00001"}})",
     "invalid_request", "metadata[booking_id]"},
    {"metadata key", R"({"description":"x","metadata":{"bk\u0000":"v"}})", "invalid_request",
     "metadata"},
    {"customer_email", R"({"description":"x","customer_email":"guest\u0000@example.com"})",
     "invalid_request", "customer_email"},
    {"property_id", R"({"description":"x","property_id":"prop\u0000"})", "invalid_request",
     "property_id"},
    {"tenant_id", R"({"description":"x","tenant_id":"\u0000t"})", "invalid_request", "tenant_id"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(holds_hold_request)

BOOST_DATA_TEST_CASE(refuses_nul_in_create_strings, boost::unit_test::data::make(kNul), c) {
  auto r = ParseCreateHold(c.body, {});
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == c.code);
  BOOST_TEST(r.error().param == c.param);
  BOOST_TEST(r.error().message.find("NUL") != std::string::npos, r.error().message);
  BOOST_TEST(HttpStatus(r.error().kind) == 400);
}

// (A capture's reason: claims::ParseCaptureRequest, tests/unit/claims/claim_test.cpp.)
BOOST_AUTO_TEST_CASE(refuses_nul_in_cancel_reasons) {
  auto cancel = ParseCancelHold(R"({"reason":"\u0000"})");
  REQUIRE_ERROR(cancel);
  BOOST_TEST(cancel.error().param == "reason");
  BOOST_TEST(cancel.error().message.find("NUL") != std::string::npos);
}

BOOST_DATA_TEST_CASE(rejects_bad_create_bodies, boost::unit_test::data::make(kBad), c) {
  auto r = ParseCreateHold(c.body, {});
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == c.code);
  BOOST_TEST(r.error().param == c.param);
  BOOST_TEST(HttpStatus(r.error().kind) == 400);
}

BOOST_AUTO_TEST_CASE(defaults_and_normalisation) {
  auto r = ParseCreateHold(R"({"description":"Deposit","currency":"EUR"})", {25000, "usd"});
  REQUIRE_OK(r);
  BOOST_TEST(r->amount == 25000);
  BOOST_TEST(r->currency == "eur");
  BOOST_TEST((r->tier == Tier::kNewGuest));
}

BOOST_AUTO_TEST_CASE(accepts_a_full_request) {
  auto r = ParseCreateHold(
      R"({"amount":250000,"currency":"usd","description":"Caf\u00e9 deposit","customer_email":"guest@example.com",
          "property_id":"prop_1","tenant_id":"t_1","payment_method":"pm_card_visa",
          "metadata":{"booking_id":"b1","guest_tier":"VERIFIED_GUEST"}})",
      {});
  REQUIRE_OK(r);
  BOOST_TEST(r->amount == 250000);
  BOOST_TEST((r->tier == Tier::kVerifiedGuest));
  BOOST_TEST(r->metadata.at("booking_id") == "b1");
  BOOST_TEST(r->property_id == "prop_1");
  BOOST_TEST(r->payment_method == "pm_card_visa");
}

BOOST_AUTO_TEST_CASE(top_level_tier_wins_over_guest_tier) {
  auto r = ParseCreateHold(
      R"({"description":"x","tier":"PREMIUM_PROPERTY","metadata":{"guest_tier":"NEW_GUEST"}})", {});
  REQUIRE_OK(r);
  BOOST_TEST((r->tier == Tier::kPremiumProperty));
}

BOOST_AUTO_TEST_CASE(description_length_counts_characters_not_bytes) {
  std::string accented;
  for (int i = 0; i < 1000; ++i) accented += "\xC3\xA9";  // é, 2 bytes each
  REQUIRE_OK(ParseCreateHold(R"({"description":")" + accented + "\"}", {}));
}

BOOST_AUTO_TEST_CASE(escaped_surrogate_pairs_are_fine) {
  auto r = ParseCreateHold(R"({"description":"Deposit \ud83c\udfe0"})", {});
  REQUIRE_OK(r);
  BOOST_TEST(r->description == "Deposit \xF0\x9F\x8F\xA0");
}

// Stripe allows 50 keys; the service keeps kServiceMetadataSlots (10) for its own.
BOOST_AUTO_TEST_CASE(forty_client_metadata_keys_fit) {
  REQUIRE_OK(ParseCreateHold(R"({"description":"x","metadata":)" + Metadata(40) + "}", {}));
  auto over = ParseCreateHold(R"({"description":"x","metadata":)" + Metadata(41) + "}", {});
  REQUIRE_ERROR(over);
  BOOST_TEST(over.error().param == "metadata");
  BOOST_TEST(over.error().message ==
             "metadata has too many keys: at most 40 (Stripe allows 50, ChittyCharge keeps 10)");
}

BOOST_AUTO_TEST_CASE(cancel_bodies) {
  REQUIRE_OK(ParseCancelHold("{}"));
  REQUIRE_OK(ParseCancelHold(
      R"({"cancellation_reason":"requested_by_customer","reason":"early checkout"})"));
  const auto bored = ParseCancelHold(R"({"cancellation_reason":"bored"})");
  REQUIRE_ERROR(bored);
  BOOST_TEST(bored.error().param == "cancellation_reason");
}

BOOST_AUTO_TEST_CASE(email_shapes) {
  BOOST_TEST(ValidEmail("a@b.co"));
  BOOST_TEST(!ValidEmail("a b@c.com"));
  BOOST_TEST(!ValidEmail("@c.com"));
  BOOST_TEST(!ValidEmail("a@.com"));
  BOOST_TEST(!ValidEmail("a@c.com."));
  BOOST_TEST(!ValidEmail(std::string(250, 'a') + "@c.com"));
}

BOOST_AUTO_TEST_CASE(a_disclosure_is_parsed_and_its_time_checked_against_the_clock) {
  const std::string body = R"({"description":"x","disclosure":{"version":"2026-12-01",)"
                           R"("accepted_at":"2026-01-02T05:04:05+02:00"}})";
  auto req = ParseCreateHold(body, {});
  REQUIRE_OK(req);
  BOOST_REQUIRE(req->disclosure.has_value());
  BOOST_TEST(req->disclosure->version == "2026-12-01");
  BOOST_TEST(RenderAcceptedDisclosure(*req->disclosure) ==
             R"({"version":"2026-12-01","accepted_at":"2026-01-02T03:04:05Z"})");
  const int64_t at = req->disclosure->accepted_at;
  BOOST_TEST(CheckDisclosureTime(*req, at).has_value());
  BOOST_TEST(CheckDisclosureTime(*req, at - claims::kAcceptedAtClockSkew).has_value());
  auto future = CheckDisclosureTime(*req, at - claims::kAcceptedAtClockSkew - 1);
  REQUIRE_ERROR(future);
  BOOST_TEST(future.error().param == "disclosure[accepted_at]");

  auto none = ParseCreateHold(R"({"description":"x","disclosure":null})", {});
  REQUIRE_OK(none);
  BOOST_TEST(!none->disclosure.has_value());
  BOOST_TEST(CheckDisclosureTime(*none, 0).has_value());
  auto unknown = ParseCreateHold(
      R"({"description":"x","disclosure":{"version":"1999","accepted_at":"2026-01-02T03:04:05Z"}})",
      {});
  REQUIRE_ERROR(unknown);
  BOOST_TEST(unknown.error().param == "disclosure[version]");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
