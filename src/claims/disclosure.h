// The hold wording a guest agrees to (CONTRACT.md "Disclosure"), shipped with the service
// and versioned, so what a dispute cites is exactly what the guest was shown.
//
// Each version is a fixed template with two placeholders, {amount} and {property}; a
// shipped version is never edited (a new wording is a new version, dated, added last).
// The current version is the last one. The first, "2026-12-01", keeps the original
// deployment's meaning: a temporary hold, not a charge, released automatically if it is
// not used, for this amount, for this property — and says what a claim against it is.
//
// Pure functions; `now` is passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "claims/currency.h"
#include "core/json.h"
#include "core/result.h"

namespace cc::claims {

struct DisclosureVersion {
  std::string_view version;  // "2026-12-01"
  std::string_view text;     // the template, with {amount} and {property}
};

// Every shipped version, oldest first.
std::span<const DisclosureVersion> DisclosureVersions();
const DisclosureVersion& CurrentDisclosure();
// nullptr for a version this build does not ship.
const DisclosureVersion* FindDisclosure(std::string_view version);

// The text a guest is shown for one hold: {amount} is FormatAmount(amount, currency),
// {property} is `property` (the caller's name for it: the hold's property_id today), or
// "the property" when it is empty. Text inside `property` is not scanned for placeholders.
std::string RenderDisclosureText(const DisclosureVersion& version, int64_t amount,
                                 Currency currency, std::string_view property);

// GET /api/disclosure: {"version": "…", "text": "…"}. With no hold to fill it from, the
// text is the template itself ({amount} and {property} left for the client to fill with
// the same values it sends on create); the guest page sends a rendered text instead.
std::string RenderDisclosureJson(std::string_view version, std::string_view text);

// What a create's `disclosure` field records: the wording the guest agreed to and when.
struct AcceptedDisclosure {
  std::string version;
  int64_t accepted_at = 0;  // unix seconds

  bool operator==(const AcceptedDisclosure&) const = default;
};

// A clock ahead of ours by this much is not "in the future" (the client's server, or the
// guest's browser, keeps its own time).
inline constexpr int64_t kAcceptedAtClockSkew = 300;

// The create field `disclosure: {"version": "…", "accepted_at": "…"}`: an object with only
// these two strings; version one this build ships (any of them, not only the current: a
// guest may have agreed before an upgrade); accepted_at RFC 3339 (core/time_util's
// ParseRfc3339; an offset is accepted and the time kept in UTC), no later than
// now + kAcceptedAtClockSkew. Errors are 400 invalid_request with param "disclosure"
// (not an object, an unknown field) or "disclosure[version]" / "disclosure[accepted_at]"
// (the bracketed form the create request's metadata[key] errors use).
Result<AcceptedDisclosure> ParseDisclosure(const rapidjson::Value& value, int64_t now);

}  // namespace cc::claims
