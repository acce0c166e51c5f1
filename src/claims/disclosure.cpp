#include "claims/disclosure.h"

#include <array>

#include "core/time_util.h"

namespace cc::claims {
namespace {

// Never edit a shipped entry: add a new version last (ARCHITECTURE.md, claims/).
constexpr std::array<DisclosureVersion, 1> kVersions{{
    {"2026-12-01",
     "A temporary hold of {amount} will be placed on your card for your stay at {property}. "
     "This is a hold, not a charge: the amount is reserved on your card but not taken, and the "
     "hold is released automatically if it is not used. If damage, missing items, extra "
     "cleaning, a late checkout or unpaid fees are found, all or part of the held amount may "
     "be charged, with an itemized list of what was charged and why. For a long stay, the hold "
     "may be placed again on the same card, for the same amount, before it expires, until the "
     "stay ends. Your bank may show the hold as pending until it is released or charged."},
}};

tl::unexpected<Error> Invalid(std::string message, std::string param) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_request", std::move(message), std::move(param));
}

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

}  // namespace

std::span<const DisclosureVersion> DisclosureVersions() { return kVersions; }

const DisclosureVersion& CurrentDisclosure() { return kVersions.back(); }

const DisclosureVersion* FindDisclosure(std::string_view version) {
  for (const auto& v : kVersions) {
    if (v.version == version) return &v;
  }
  return nullptr;
}

std::string RenderDisclosureText(const DisclosureVersion& version, int64_t amount,
                                 Currency currency, std::string_view property) {
  constexpr std::string_view kAmount = "{amount}";
  constexpr std::string_view kProperty = "{property}";
  std::string out;
  std::string_view rest = version.text;
  while (!rest.empty()) {
    if (rest.starts_with(kAmount)) {
      out += FormatAmount(amount, currency);
      rest.remove_prefix(kAmount.size());
    } else if (rest.starts_with(kProperty)) {
      out += property.empty() ? std::string_view("the property") : property;
      rest.remove_prefix(kProperty.size());
    } else {
      out.push_back(rest.front());
      rest.remove_prefix(1);
    }
  }
  return out;
}

std::string RenderDisclosureJson(std::string_view version, std::string_view text) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "version");
  json::String(w, version);
  json::Key(w, "text");
  json::String(w, text);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

Result<AcceptedDisclosure> ParseDisclosure(const rapidjson::Value& value, int64_t now) {
  if (!value.IsObject()) {
    return Invalid(R"(disclosure must be an object: {"version": "…", "accepted_at": "…Z"})",
                   "disclosure");
  }
  for (const auto& m : value.GetObject()) {
    const std::string_view field = View(m.name);
    if (field != "version" && field != "accepted_at") {
      return Invalid("disclosure has an unknown field: " + std::string(field), "disclosure");
    }
  }
  AcceptedDisclosure out;
  const auto* version = json::Member(value, "version");
  if (version == nullptr || !version->IsString() || FindDisclosure(View(*version)) == nullptr) {
    return Invalid(
        "disclosure.version must be a version of the hold wording that this service "
        "ships (GET /api/disclosure gives the current one: " +
            std::string(CurrentDisclosure().version) + ")",
        "disclosure[version]");
  }
  out.version = std::string(View(*version));
  const auto* accepted = json::Member(value, "accepted_at");
  std::optional<int64_t> at;
  if (accepted != nullptr && accepted->IsString()) at = ParseRfc3339(View(*accepted));
  if (!at) {
    return Invalid("disclosure.accepted_at must be an RFC 3339 time, e.g. 2026-12-01T12:00:00Z",
                   "disclosure[accepted_at]");
  }
  if (*at > now + kAcceptedAtClockSkew) {
    return Invalid("disclosure.accepted_at is in the future", "disclosure[accepted_at]");
  }
  out.accepted_at = *at;
  return out;
}

}  // namespace cc::claims
