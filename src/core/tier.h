// Guest tiers and their hold limits (minor units): the rule that caps every hold.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cc {

enum class Tier { kNewGuest = 0, kVerifiedGuest = 1, kPremiumProperty = 2 };

inline constexpr int64_t kMinHoldAmount = 50;

constexpr int64_t TierLimit(Tier tier) {
  switch (tier) {
    case Tier::kNewGuest: return 250000;
    case Tier::kVerifiedGuest: return 500000;
    case Tier::kPremiumProperty: return 1000000;
  }
  return 0;
}

constexpr std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kNewGuest: return "NEW_GUEST";
    case Tier::kVerifiedGuest: return "VERIFIED_GUEST";
    case Tier::kPremiumProperty: return "PREMIUM_PROPERTY";
  }
  return "NEW_GUEST";
}

// Exact upper-case names only.
inline std::optional<Tier> ParseTier(std::string_view name) {
  for (Tier t : {Tier::kNewGuest, Tier::kVerifiedGuest, Tier::kPremiumProperty}) {
    if (TierName(t) == name) return t;
  }
  return std::nullopt;
}

// A token whose MAX_TIER is `max` may request `wanted`.
constexpr bool TierAllowed(Tier wanted, Tier max) {
  return static_cast<int>(wanted) <= static_cast<int>(max);
}

}  // namespace cc
