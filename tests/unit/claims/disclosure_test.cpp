#include "claims/disclosure.h"

#include <boost/test/unit_test.hpp>

#include "core/time_util.h"
#include "test_util.h"

namespace cc::claims {
namespace {

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

Result<AcceptedDisclosure> Parse(std::string_view text, int64_t now = kNow) {
  auto doc = json::ParseStrict(text);
  BOOST_REQUIRE(doc.has_value());
  return ParseDisclosure(*doc, now);
}

void ExpectParam(const Result<AcceptedDisclosure>& r, const char* param) {
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().code == "invalid_request");
  BOOST_TEST(r.error().param == param);
  BOOST_TEST(HttpStatus(r.error().kind) == 400);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(claims_disclosure)

// A shipped wording is what past guests agreed to and what disputes cite: it never
// changes. Editing this text is the mistake this test exists to catch; add a version.
BOOST_AUTO_TEST_CASE(the_first_version_is_frozen) {
  const DisclosureVersion* v = FindDisclosure("2026-12-01");
  BOOST_REQUIRE(v != nullptr);
  BOOST_TEST(
      v->text ==
      "A temporary hold of {amount} will be placed on your card for your stay at {property}. "
      "This is a hold, not a charge: the amount is reserved on your card but not taken, and the "
      "hold is released automatically if it is not used. If damage, missing items, extra "
      "cleaning, a late checkout or unpaid fees are found, all or part of the held amount may "
      "be charged, with an itemized list of what was charged and why. For a long stay, the hold "
      "may be placed again on the same card, for the same amount, before it expires, until the "
      "stay ends. Your bank may show the hold as pending until it is released or charged.");
}

BOOST_AUTO_TEST_CASE(the_current_version_is_the_last_shipped) {
  BOOST_TEST(CurrentDisclosure().version == "2026-12-01");
  BOOST_TEST(DisclosureVersions().back().version == CurrentDisclosure().version);
  BOOST_TEST(FindDisclosure("2026-11-30") == nullptr);
  BOOST_TEST(FindDisclosure("") == nullptr);
  // Versions are dates, oldest first, each with both placeholders.
  std::string_view previous;
  for (const auto& v : DisclosureVersions()) {
    BOOST_TEST(ParseRfc3339(std::string(v.version) + "T00:00:00Z").has_value(), v.version);
    BOOST_TEST(v.version > previous);
    BOOST_TEST(v.text.find("{amount}") != std::string_view::npos);
    BOOST_TEST(v.text.find("{property}") != std::string_view::npos);
    previous = v.version;
  }
}

BOOST_AUTO_TEST_CASE(renders_the_text_for_a_hold) {
  const std::string text =
      RenderDisclosureText(CurrentDisclosure(), 25000, Currency::kUsd, "Lakeview 4B");
  BOOST_TEST(text.starts_with("A temporary hold of $250.00 will be placed on your card for your "
                              "stay at Lakeview 4B. This is a hold, not a charge"),
             text);
  BOOST_TEST(text.find("released automatically") != std::string::npos);
  BOOST_TEST(text.find('{') == std::string::npos);
  BOOST_TEST(RenderDisclosureText(CurrentDisclosure(), 5000, Currency::kJpy, "")
                 .starts_with("A temporary hold of ¥5,000 will be placed on your card for your "
                              "stay at the property."));
}

BOOST_AUTO_TEST_CASE(placeholders_inside_the_property_stay_as_written) {
  const std::string text =
      RenderDisclosureText(CurrentDisclosure(), 30, Currency::kGbp, "{amount} {property}");
  BOOST_TEST(text.starts_with("A temporary hold of £0.30 will be placed on your card for your "
                              "stay at {amount} {property}."),
             text);
}

BOOST_AUTO_TEST_CASE(renders_the_get_disclosure_answer) {
  BOOST_TEST(RenderDisclosureJson("2026-12-01", "A \"hold\" of {amount}.") ==
             R"({"version":"2026-12-01","text":"A \"hold\" of {amount}."})");
  auto doc = json::ParseStrict(
      RenderDisclosureJson(CurrentDisclosure().version, CurrentDisclosure().text));
  REQUIRE_OK(doc);
  BOOST_TEST(doc->MemberCount() == 2U);
  BOOST_TEST(json::StringMember(*doc, "text").value_or("") == CurrentDisclosure().text);
}

BOOST_AUTO_TEST_CASE(parses_an_accepted_disclosure) {
  auto r = Parse(R"({"version":"2026-12-01","accepted_at":"2025-12-31T23:00:00Z"})");
  REQUIRE_OK(r);
  BOOST_TEST(r->version == "2026-12-01");
  BOOST_TEST(r->accepted_at == kNow - 3600);
  auto offset = Parse(R"({"accepted_at":"2026-01-01T01:00:00+01:00","version":"2026-12-01"})");
  REQUIRE_OK(offset);
  BOOST_TEST(offset->accepted_at == kNow);
}

BOOST_AUTO_TEST_CASE(accepted_at_may_lead_our_clock_by_the_skew_only) {
  REQUIRE_OK(Parse(R"({"version":"2026-12-01","accepted_at":"2026-01-01T00:05:00Z"})"));
  ExpectParam(Parse(R"({"version":"2026-12-01","accepted_at":"2026-01-01T00:05:01Z"})"),
              "disclosure[accepted_at]");
  ExpectParam(Parse(R"({"version":"2026-12-01","accepted_at":"2027-01-01T00:00:00Z"})"),
              "disclosure[accepted_at]");
  BOOST_TEST(kAcceptedAtClockSkew == 300);
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_a_disclosure) {
  for (const char* bad : {R"("2026-12-01")", "null", "[]", "5"}) {
    ExpectParam(Parse(bad), "disclosure");
  }
  ExpectParam(Parse(R"({"version":"2026-12-01","accepted_at":"2026-01-01T00:00:00Z","ua":"x"})"),
              "disclosure");
}

BOOST_AUTO_TEST_CASE(refuses_an_unknown_or_missing_version) {
  for (const char* bad : {R"({"accepted_at":"2026-01-01T00:00:00Z"})",
                          R"({"version":"2026-11-30","accepted_at":"2026-01-01T00:00:00Z"})",
                          R"({"version":"","accepted_at":"2026-01-01T00:00:00Z"})",
                          R"({"version":20261201,"accepted_at":"2026-01-01T00:00:00Z"})",
                          R"({"version":null,"accepted_at":"2026-01-01T00:00:00Z"})",
                          R"({"version":"2026-12-01 ","accepted_at":"2026-01-01T00:00:00Z"})"}) {
    ExpectParam(Parse(bad), "disclosure[version]");
  }
}

BOOST_AUTO_TEST_CASE(refuses_an_accepted_at_that_is_not_rfc_3339) {
  for (const char* bad :
       {R"({"version":"2026-12-01"})", R"({"version":"2026-12-01","accepted_at":null})",
        R"({"version":"2026-12-01","accepted_at":1767225600})",
        R"({"version":"2026-12-01","accepted_at":"2026-01-01"})",
        R"({"version":"2026-12-01","accepted_at":"2026-01-01T00:00:00"})",
        R"({"version":"2026-12-01","accepted_at":"2025-02-29T00:00:00Z"})",
        R"({"version":"2026-12-01","accepted_at":"yesterday"})"}) {
    ExpectParam(Parse(bad), "disclosure[accepted_at]");
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::claims
