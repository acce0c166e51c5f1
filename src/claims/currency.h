// The currencies a hold may be in (CONTRACT.md "Currencies": usd, eur, gbp, cad, aud,
// jpy) and what each one needs: its exponent, Stripe's minimum charge, an amount written
// for people, and the tier limits configured for it.
//
// Pure functions of their arguments: nothing here reads the environment or the clock.
// LoadTierLimits() takes a lookup, so config.cpp hands it getenv and the tests a map.
// A bad TIER_LIMITS_<CUR> value is an Error naming the variable (code invalid_config),
// for the service to refuse to start on.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/tier.h"

namespace cc::claims {

enum class Currency { kUsd = 0, kEur, kGbp, kCad, kAud, kJpy };

inline constexpr std::array<Currency, 6> kCurrencies{
    Currency::kUsd, Currency::kEur, Currency::kGbp, Currency::kCad, Currency::kAud, Currency::kJpy};

// Stripe's largest amount in any of these currencies: eight digits (STRIPE-FACTS.md).
inline constexpr int64_t kMaxStripeAmount = 99999999;

// "usd" or "USD" (ASCII case ignored) → kUsd; any other text → nullopt.
std::optional<Currency> ParseCurrency(std::string_view code);

// The lower-case ISO code Stripe uses: "usd".
std::string_view CurrencyCode(Currency currency);

// Zero-decimal currencies (jpy) count whole units: amount 5000 is ¥5,000.
bool IsZeroDecimal(Currency currency);

// Stripe's minimum charge, minor units (STRIPE-NEXT.md §8): usd, eur, cad, aud 50 (0.50),
// gbp 30 (£0.30), jpy 50 (¥50). A capture below it fails at Stripe, so it is refused first.
int64_t MinimumChargeAmount(Currency currency);

// An amount in minor units written for people, one scheme for every currency (English
// conventions, CLDR's "en" symbols): the symbol, then the major units grouped by 3 with
// ",", then "." and two decimals unless the currency is zero-decimal; a negative amount
// starts with "-". Symbols: usd "$", eur "€", gbp "£", cad "CA$", aud "A$", jpy "¥"
// (cad and aud are told apart from usd, unlike Stripe's own messages).
//   FormatAmount(1250, kUsd) == "$12.50"     FormatAmount(123456789, kEur) == "€1,234,567.89"
//   FormatAmount(30, kGbp) == "£0.30"        FormatAmount(5000, kJpy) == "¥5,000"
//   FormatAmount(-5, kCad) == "-CA$0.05"
std::string FormatAmount(int64_t amount, Currency currency);

// The largest hold per guest tier, minor units of one currency.
struct TierLimits {
  int64_t new_guest = 0;
  int64_t verified_guest = 0;
  int64_t premium_property = 0;

  int64_t For(Tier tier) const;
  bool operator==(const TierLimits&) const = default;
};

// The built-in limits: the Part 1 figures (core/tier.h: 250000, 500000, 1000000) for the
// two-decimal currencies; none for jpy, whose holds are refused until it is configured.
std::optional<TierLimits> DefaultTierLimits(Currency currency);

// "TIER_LIMITS_USD", …: the variable that configures a currency's limits.
std::string TierLimitsVariable(Currency currency);

// A TIER_LIMITS_<CUR> value: "new,verified,premium", three integers in minor units
// (spaces or tabs around each are ignored), each from the currency's Stripe minimum to
// kMaxStripeAmount, non-decreasing (a higher tier never holds less). Anything else is an
// invalid_config Error whose message and param name the variable.
Result<TierLimits> ParseTierLimits(Currency currency, std::string_view value);

// Every currency's limits after configuration: nullopt = holds in it are refused
// (unsupported_currency).
struct CurrencyLimits {
  std::array<std::optional<TierLimits>, kCurrencies.size()> by_currency;

  std::optional<TierLimits> For(Currency currency) const;
  static CurrencyLimits Defaults();
};

// Reads a variable; nullopt when it is unset. An empty value counts as unset.
using Lookup = std::function<std::optional<std::string>(std::string_view name)>;

// The defaults, overridden by each TIER_LIMITS_<CUR> that is set; the first bad value
// is the Error.
Result<CurrencyLimits> LoadTierLimits(const Lookup& lookup);

}  // namespace cc::claims
