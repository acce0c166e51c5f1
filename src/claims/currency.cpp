#include "claims/currency.h"

#include <charconv>
#include <vector>

namespace cc::claims {
namespace {

struct CurrencyFacts {
  std::string_view code;
  std::string_view symbol;
  bool zero_decimal;
  int64_t minimum;
};

constexpr CurrencyFacts Facts(Currency currency) {
  switch (currency) {
    case Currency::kUsd: return {"usd", "$", false, 50};
    case Currency::kEur: return {"eur", "€", false, 50};
    case Currency::kGbp: return {"gbp", "£", false, 30};
    case Currency::kCad: return {"cad", "CA$", false, 50};
    case Currency::kAud: return {"aud", "A$", false, 50};
    case Currency::kJpy: return {"jpy", "¥", true, 50};
  }
  return {"usd", "$", false, 50};
}

// "1234567" → "1,234,567".
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// Digits only (no sign): from_chars would take "-5".
std::optional<int64_t> Digits(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return {};
  int64_t v = 0;
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr != end) return {};
  return v;
}

}  // namespace

std::optional<Currency> ParseCurrency(std::string_view code) {
  if (code.size() != 3) return std::nullopt;
  std::string lower(code);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (Currency c : kCurrencies) {
    if (Facts(c).code == lower) return c;
  }
  return std::nullopt;
}

std::string_view CurrencyCode(Currency currency) { return Facts(currency).code; }

bool IsZeroDecimal(Currency currency) { return Facts(currency).zero_decimal; }

int64_t MinimumChargeAmount(Currency currency) { return Facts(currency).minimum; }

std::string FormatAmount(int64_t amount, Currency currency) {
  const CurrencyFacts facts = Facts(currency);
  // The magnitude as unsigned, so INT64_MIN has one too.
  const uint64_t magnitude =
      amount < 0 ? uint64_t{0} - static_cast<uint64_t>(amount) : static_cast<uint64_t>(amount);
  std::string out = amount < 0 ? "-" : "";
  out.append(facts.symbol);
  if (facts.zero_decimal) return out + Grouped(magnitude);
  const uint64_t cents = magnitude % 100;
  out.append(Grouped(magnitude / 100)).push_back('.');
  out.push_back(static_cast<char>('0' + cents / 10));
  out.push_back(static_cast<char>('0' + cents % 10));
  return out;
}

int64_t TierLimits::For(Tier tier) const {
  switch (tier) {
    case Tier::kNewGuest: return new_guest;
    case Tier::kVerifiedGuest: return verified_guest;
    case Tier::kPremiumProperty: return premium_property;
  }
  return new_guest;
}

std::optional<TierLimits> DefaultTierLimits(Currency currency) {
  if (IsZeroDecimal(currency)) return std::nullopt;
  return TierLimits{TierLimit(Tier::kNewGuest), TierLimit(Tier::kVerifiedGuest),
                    TierLimit(Tier::kPremiumProperty)};
}

std::string TierLimitsVariable(Currency currency) {
  std::string name = "TIER_LIMITS_";
  for (char c : CurrencyCode(currency)) name.push_back(static_cast<char>(c - 'a' + 'A'));
  return name;
}

Result<TierLimits> ParseTierLimits(Currency currency, std::string_view value) {
  const std::string variable = TierLimitsVariable(currency);
  const int64_t minimum = MinimumChargeAmount(currency);
  const std::string rule = "must be new,verified,premium: three integers in minor units of " +
                           std::string(CurrencyCode(currency)) + ", each from " +
                           std::to_string(minimum) + " (Stripe's minimum) to " +
                           std::to_string(kMaxStripeAmount) + ", none below the one before";
  auto bad = [&variable, &rule] {
    return Fail(ErrorKind::kInvalidArgument, "invalid_config", variable + ": " + rule, variable);
  };
  const auto parts = Split(value, ',');
  if (parts.size() != 3) return bad();
  std::array<int64_t, 3> limits{};
  for (size_t i = 0; i < limits.size(); ++i) {
    auto n = Digits(Trim(parts[i]));
    if (!n || *n < minimum || *n > kMaxStripeAmount) return bad();
    if (i > 0 && *n < limits.at(i - 1)) return bad();
    limits.at(i) = *n;
  }
  return TierLimits{limits[0], limits[1], limits[2]};
}

std::optional<TierLimits> CurrencyLimits::For(Currency currency) const {
  return by_currency.at(static_cast<size_t>(currency));
}

CurrencyLimits CurrencyLimits::Defaults() {
  CurrencyLimits limits;
  for (Currency c : kCurrencies)
    limits.by_currency.at(static_cast<size_t>(c)) = DefaultTierLimits(c);
  return limits;
}

Result<CurrencyLimits> LoadTierLimits(const Lookup& lookup) {
  CurrencyLimits limits = CurrencyLimits::Defaults();
  for (Currency c : kCurrencies) {
    const auto value = lookup(TierLimitsVariable(c));
    if (!value || value->empty()) continue;
    auto parsed = ParseTierLimits(c, *value);
    if (!parsed) return Fail(parsed.error());
    limits.by_currency.at(static_cast<size_t>(c)) = *parsed;
  }
  return limits;
}

}  // namespace cc::claims
