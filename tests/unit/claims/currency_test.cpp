#include "claims/currency.h"

#include <boost/test/unit_test.hpp>
#include <limits>
#include <map>

#include "test_util.h"

namespace cc::claims {
namespace {

Lookup From(std::map<std::string, std::string, std::less<>> env) {
  return [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(claims_currency)

BOOST_AUTO_TEST_CASE(the_six_currencies_parse_in_either_case) {
  for (Currency c : kCurrencies) {
    const std::string code(CurrencyCode(c));
    BOOST_TEST((ParseCurrency(code) == c), code);
    std::string upper = code;
    for (char& ch : upper) ch = static_cast<char>(ch - 'a' + 'A');
    BOOST_TEST((ParseCurrency(upper) == c), upper);
  }
  BOOST_TEST((ParseCurrency("Jpy") == Currency::kJpy));
  for (const char* other : {"", "us", "usdd", "nzd", "krw", "u$d", "usd "}) {
    BOOST_TEST(!ParseCurrency(other).has_value(), other);
  }
}

BOOST_AUTO_TEST_CASE(only_jpy_is_zero_decimal) {
  for (Currency c : kCurrencies) {
    BOOST_TEST(IsZeroDecimal(c) == (c == Currency::kJpy), CurrencyCode(c));
  }
}

BOOST_AUTO_TEST_CASE(minimums_are_stripes) {
  BOOST_TEST(MinimumChargeAmount(Currency::kUsd) == 50);
  BOOST_TEST(MinimumChargeAmount(Currency::kEur) == 50);
  BOOST_TEST(MinimumChargeAmount(Currency::kCad) == 50);
  BOOST_TEST(MinimumChargeAmount(Currency::kAud) == 50);
  BOOST_TEST(MinimumChargeAmount(Currency::kGbp) == 30);
  BOOST_TEST(MinimumChargeAmount(Currency::kJpy) == 50);  // ¥50, whole yen
}

BOOST_AUTO_TEST_CASE(formats_two_decimal_amounts) {
  BOOST_TEST(FormatAmount(1250, Currency::kUsd) == "$12.50");
  BOOST_TEST(FormatAmount(1250, Currency::kEur) == "€12.50");
  BOOST_TEST(FormatAmount(30, Currency::kGbp) == "£0.30");
  BOOST_TEST(FormatAmount(5, Currency::kCad) == "CA$0.05");
  BOOST_TEST(FormatAmount(250000, Currency::kAud) == "A$2,500.00");
  BOOST_TEST(FormatAmount(0, Currency::kUsd) == "$0.00");
  BOOST_TEST(FormatAmount(99999, Currency::kUsd) == "$999.99");
  BOOST_TEST(FormatAmount(100000, Currency::kUsd) == "$1,000.00");
  BOOST_TEST(FormatAmount(123456789, Currency::kEur) == "€1,234,567.89");
  BOOST_TEST(FormatAmount(-1250, Currency::kUsd) == "-$12.50");
}

BOOST_AUTO_TEST_CASE(formats_jpy_in_whole_yen) {
  BOOST_TEST(FormatAmount(5000, Currency::kJpy) == "¥5,000");
  BOOST_TEST(FormatAmount(50, Currency::kJpy) == "¥50");
  BOOST_TEST(FormatAmount(999, Currency::kJpy) == "¥999");
  BOOST_TEST(FormatAmount(1000, Currency::kJpy) == "¥1,000");
  BOOST_TEST(FormatAmount(99999999, Currency::kJpy) == "¥99,999,999");
  BOOST_TEST(FormatAmount(0, Currency::kJpy) == "¥0");
}

BOOST_AUTO_TEST_CASE(formats_the_extremes_of_int64) {
  BOOST_TEST(FormatAmount(std::numeric_limits<int64_t>::max(), Currency::kJpy) ==
             "¥9,223,372,036,854,775,807");
  BOOST_TEST(FormatAmount(std::numeric_limits<int64_t>::min(), Currency::kUsd) ==
             "-$92,233,720,368,547,758.08");
}

BOOST_AUTO_TEST_CASE(two_decimal_currencies_default_to_the_part_1_limits) {
  for (Currency c : kCurrencies) {
    const auto limits = DefaultTierLimits(c);
    if (c == Currency::kJpy) {
      BOOST_TEST(!limits.has_value());
      continue;
    }
    BOOST_REQUIRE(limits.has_value());
    BOOST_TEST(limits->For(Tier::kNewGuest) == 250000);
    BOOST_TEST(limits->For(Tier::kVerifiedGuest) == 500000);
    BOOST_TEST(limits->For(Tier::kPremiumProperty) == 1000000);
  }
}

BOOST_AUTO_TEST_CASE(names_the_variable_of_each_currency) {
  BOOST_TEST(TierLimitsVariable(Currency::kUsd) == "TIER_LIMITS_USD");
  BOOST_TEST(TierLimitsVariable(Currency::kJpy) == "TIER_LIMITS_JPY");
  BOOST_TEST(TierLimitsVariable(Currency::kAud) == "TIER_LIMITS_AUD");
}

BOOST_AUTO_TEST_CASE(parses_a_tier_limits_value) {
  auto jpy = ParseTierLimits(Currency::kJpy, "30000,60000,120000");
  REQUIRE_OK(jpy);
  BOOST_TEST((*jpy == TierLimits{30000, 60000, 120000}));
  auto spaced = ParseTierLimits(Currency::kUsd, " 100 ,\t200, 300 ");
  REQUIRE_OK(spaced);
  BOOST_TEST((*spaced == TierLimits{100, 200, 300}));
  // Equal tiers are allowed; the bounds are the currency's minimum and Stripe's maximum.
  REQUIRE_OK(ParseTierLimits(Currency::kUsd, "50,50,50"));
  REQUIRE_OK(ParseTierLimits(Currency::kGbp, "30,30,30"));
  REQUIRE_OK(ParseTierLimits(Currency::kEur, "99999999,99999999,99999999"));
}

BOOST_AUTO_TEST_CASE(refuses_a_bad_tier_limits_value_naming_the_variable) {
  for (const char* bad :
       {"", "1000", "1000,2000", "1000,2000,3000,4000", "1000,,3000", "a,b,c", "1000,2000,3e3",
        "1000,2000,-3000", "+1000,2000,3000", "1000.5,2000,3000", "3000,2000,1000",
        "1000,3000,2000", "49,100,200", "0,100,200", "100,200,100000000",
        "1000,2000,99999999999999999999", "1000;2000;3000", "1000,2000,3000,"}) {
    auto r = ParseTierLimits(Currency::kJpy, bad);
    REQUIRE_ERROR(r);
    BOOST_TEST(r.error().code == "invalid_config", bad);
    BOOST_TEST(r.error().param == "TIER_LIMITS_JPY", bad);
    BOOST_TEST(r.error().message.starts_with("TIER_LIMITS_JPY: "), r.error().message);
  }
  // gbp's minimum is 30, so 30 is fine there and 29 is not.
  REQUIRE_ERROR(ParseTierLimits(Currency::kGbp, "29,100,200"));
}

BOOST_AUTO_TEST_CASE(loads_defaults_and_overrides) {
  auto none = LoadTierLimits(From({}));
  REQUIRE_OK(none);
  BOOST_TEST(!none->For(Currency::kJpy).has_value());
  BOOST_TEST(none->For(Currency::kUsd)->new_guest == 250000);

  auto set = LoadTierLimits(From({{"TIER_LIMITS_JPY", "30000,60000,120000"},
                                  {"TIER_LIMITS_GBP", "20000,40000,80000"},
                                  {"TIER_LIMITS_EUR", ""}}));  // empty = unset
  REQUIRE_OK(set);
  BOOST_TEST((set->For(Currency::kJpy) == TierLimits{30000, 60000, 120000}));
  BOOST_TEST((set->For(Currency::kGbp) == TierLimits{20000, 40000, 80000}));
  BOOST_TEST((set->For(Currency::kEur) == DefaultTierLimits(Currency::kEur)));
  BOOST_TEST((set->For(Currency::kCad) == DefaultTierLimits(Currency::kCad)));
}

BOOST_AUTO_TEST_CASE(a_bad_value_fails_the_load) {
  auto r = LoadTierLimits(From({{"TIER_LIMITS_AUD", "1,2"}, {"TIER_LIMITS_USD", "100,200,300"}}));
  REQUIRE_ERROR(r);
  BOOST_TEST(r.error().param == "TIER_LIMITS_AUD");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::claims
