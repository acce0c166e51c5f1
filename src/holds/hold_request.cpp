#include "holds/hold_request.h"

#include <array>
#include <functional>
#include <limits>

#include "claims/currency.h"
#include "config/config.h"
#include "core/json.h"
#include "core/time_util.h"
#include "core/utf8.h"
#include "holds/hold.h"

namespace cc::holds {
namespace {

constexpr size_t kMaxDescription = 1000;
constexpr size_t kMaxEmail = 254;
constexpr size_t kMaxMetadataKey = 40;
constexpr size_t kMaxMetadataValue = 500;
constexpr size_t kMaxMetadataKeys = 50;

tl::unexpected<Error> Invalid(std::string code, std::string message, std::string param) {
  return Fail(ErrorKind::kInvalidArgument, std::move(code), std::move(message), std::move(param));
}

// NUL ("\u0000" in JSON) is refused in every string the service keeps or sends on: Stripe
// and the logs are no place for it, and docs/reliability.md promises a 400.
bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

tl::unexpected<Error> NulRefused(std::string_view what, std::string param) {
  return Invalid("invalid_request", std::string(what) + " may not contain NUL characters (\\u0000)",
                 std::move(param));
}

// Parses a body that must be a JSON object (empty = {} when allow_empty).
Result<rapidjson::Document> ParseObject(std::string_view body, bool allow_empty) {
  if (body.empty() && allow_empty) body = "{}";
  auto doc = json::ParseStrict(body);
  if (!doc) return doc;
  if (!doc->IsObject()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_json", "Request body must be a JSON object");
  }
  return doc;
}

Status OnlyKnownFields(const rapidjson::Value& obj, std::initializer_list<std::string_view> known) {
  for (const auto& m : obj.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    bool ok = false;
    for (auto k : known) ok = ok || k == name;
    if (!ok)
      return Invalid("invalid_request", "Unknown field: " + std::string(name), std::string(name));
  }
  return Ok();
}

// An optional string field: absent/null → "", wrong type or too long → 400.
Result<std::string> OptionalString(const rapidjson::Value& obj, std::string_view name,
                                   size_t max_chars) {
  const auto* v = json::Member(obj, name);
  if (v == nullptr || v->IsNull()) return std::string();
  if (!v->IsString())
    return Invalid("invalid_request", std::string(name) + " must be a string", std::string(name));
  std::string s(v->GetString(), v->GetStringLength());
  if (HasNul(s)) return NulRefused(name, std::string(name));
  if (Utf8Length(s) > max_chars) {
    return Invalid(
        "invalid_request",
        std::string(name) + " is longer than " + std::to_string(max_chars) + " characters",
        std::string(name));
  }
  return s;
}

// A JSON integer literal: null, floats, exponents and strings are refused.
Result<std::optional<int64_t>> OptionalInteger(const rapidjson::Value& obj, std::string_view name) {
  const auto* v = json::Member(obj, name);
  if (v == nullptr) return std::optional<int64_t>{};
  if (!v->IsInt64()) {
    return Invalid("invalid_request",
                   std::string(name) + " must be an integer number of cents (minor units)",
                   std::string(name));
  }
  return std::optional<int64_t>(v->GetInt64());
}

Result<stripe::Metadata> ParseMetadata(const rapidjson::Value& obj) {
  stripe::Metadata out;
  const auto* v = json::Member(obj, "metadata");
  if (v == nullptr || v->IsNull()) return out;
  if (!v->IsObject()) return Invalid("invalid_request", "metadata must be an object", "metadata");
  for (const auto& m : v->GetObject()) {
    const std::string key(m.name.GetString(), m.name.GetStringLength());
    const std::string param = "metadata[" + key + "]";
    if (key.empty() || Utf8Length(key) > kMaxMetadataKey ||
        key.find_first_of("[]") != std::string::npos) {
      return Invalid("invalid_request", "metadata keys must be 1 to 40 characters without [ or ]",
                     "metadata");
    }
    if (HasNul(key)) return NulRefused("metadata keys", "metadata");
    if (IsReservedMetadataKey(key)) {
      return Invalid("invalid_request", "metadata key " + key + " is reserved by ChittyCharge",
                     param);
    }
    if (!m.value.IsString())
      return Invalid("invalid_request", "metadata values must be strings", param);
    std::string value(m.value.GetString(), m.value.GetStringLength());
    if (HasNul(value)) return NulRefused("metadata values", param);
    if (Utf8Length(value) > kMaxMetadataValue) {
      return Invalid("invalid_request", "metadata values must be at most 500 characters", param);
    }
    out.emplace(key, std::move(value));
  }
  if (out.size() > kMaxMetadataKeys - kServiceMetadataSlots) {
    return Invalid("invalid_request",
                   "metadata has too many keys: at most " +
                       std::to_string(kMaxMetadataKeys - kServiceMetadataSlots) +
                       " (Stripe allows 50, ChittyCharge keeps " +
                       std::to_string(kServiceMetadataSlots) + ")",
                   "metadata");
  }
  return out;
}

Result<Tier> ResolveTier(const rapidjson::Value& obj, const stripe::Metadata& metadata) {
  std::string_view name = "NEW_GUEST";
  std::string param = "tier";
  if (const auto* t = json::Member(obj, "tier"); t != nullptr && !t->IsNull()) {
    if (!t->IsString()) return Invalid("invalid_request", "tier must be a string", "tier");
    name = std::string_view(t->GetString(), t->GetStringLength());
  } else if (auto it = metadata.find("guest_tier"); it != metadata.end()) {
    name = it->second;
    param = "metadata[guest_tier]";
  }
  auto tier = ParseTier(name);
  if (!tier) {
    return Invalid("invalid_request",
                   "unknown tier: use NEW_GUEST, VERIFIED_GUEST or PREMIUM_PROPERTY", param);
  }
  return *tier;
}

// An optional RFC 3339 time field (release_after, authorize_at, stay_ends_at).
Result<std::optional<int64_t>> OptionalTime(const rapidjson::Value& obj, std::string_view name) {
  auto text = OptionalString(obj, name, 40);
  if (!text) return Fail(text.error());
  if (text->empty()) return std::optional<int64_t>();
  auto t = ParseRfc3339(*text);
  if (!t) {
    return Invalid("invalid_request",
                   std::string(name) + " must be an RFC 3339 time, e.g. 2026-01-31T11:00:00Z",
                   std::string(name));
  }
  return std::optional<int64_t>(*t);
}

// The hold's life (CONTRACT.md "The hold's life"): authorize_at, stay_ends_at, reauthorize.
Status ReadLife(const rapidjson::Value& obj, CreateHoldRequest* req) {
  auto authorize_at = OptionalTime(obj, "authorize_at");
  if (!authorize_at) return Fail(authorize_at.error());
  req->authorize_at = *authorize_at;
  auto stay_ends_at = OptionalTime(obj, "stay_ends_at");
  if (!stay_ends_at) return Fail(stay_ends_at.error());
  req->stay_ends_at = *stay_ends_at;
  if (const auto* reauthorize = json::Member(obj, "reauthorize");
      reauthorize != nullptr && !reauthorize->IsNull()) {
    if (!reauthorize->IsBool()) {
      return Invalid("invalid_request", "reauthorize must be true or false", "reauthorize");
    }
    req->reauthorize = reauthorize->GetBool();
  }
  if (req->reauthorize && !req->stay_ends_at) {
    return Invalid("invalid_request",
                   "reauthorize keeps the hold authorized until stay_ends_at: send stay_ends_at",
                   "stay_ends_at");
  }
  return Ok();
}

bool ValidPaymentMethodId(std::string_view id) {
  if (!id.starts_with("pm_") || id.size() > 255 || id.size() < 4) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

Status ReadAmountAndCurrency(const rapidjson::Value& obj, const CreateDefaults& defaults,
                             CreateHoldRequest* req) {
  auto amount = OptionalInteger(obj, "amount");
  if (!amount) return Fail(amount.error());
  req->amount = amount->value_or(defaults.amount);
  constexpr std::string_view kCurrencies = "currency must be one of usd, eur, gbp, cad, aud, jpy";
  auto currency = OptionalString(obj, "currency", 3);
  if (!currency) return Invalid("unsupported_currency", std::string(kCurrencies), "currency");
  req->currency = currency->empty() ? defaults.currency : *currency;
  for (char& c : req->currency) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto code = claims::ParseCurrency(req->currency);
  if (!code) return Invalid("unsupported_currency", std::string(kCurrencies), "currency");
  // Stripe's minimum charge of the currency (minor units; whole yen for jpy).
  const int64_t minimum = claims::MinimumChargeAmount(*code);
  if (req->amount < minimum) {
    return Invalid("amount_too_small",
                   "amount must be at least " + std::to_string(minimum) + " (" +
                       claims::FormatAmount(minimum, *code) + ")",
                   "amount");
  }
  return Ok();
}

Status ReadStrings(const rapidjson::Value& obj, CreateHoldRequest* req) {
  const auto* d = json::Member(obj, "description");
  if (d == nullptr || !d->IsString() || d->GetStringLength() == 0) {
    return Invalid("invalid_request", "description is required", "description");
  }
  auto description = OptionalString(obj, "description", kMaxDescription);
  if (!description) return Fail(description.error());
  req->description = std::move(*description);
  auto email = OptionalString(obj, "customer_email", kMaxEmail);
  if (!email) return Fail(email.error());
  if (!email->empty() && !ValidEmail(*email)) {
    return Invalid("invalid_request", "customer_email is not a valid email address",
                   "customer_email");
  }
  req->customer_email = std::move(*email);
  for (auto [name, out] :
       {std::pair{"property_id", &req->property_id}, std::pair{"tenant_id", &req->tenant_id},
        std::pair{"payment_method", &req->payment_method}}) {
    auto value = OptionalString(obj, name, kMaxMetadataValue);
    if (!value) return Fail(value.error());
    *out = std::move(*value);
  }
  if (!req->payment_method.empty() && !ValidPaymentMethodId(req->payment_method)) {
    return Invalid("invalid_request", "payment_method must be a pm_… id", "payment_method");
  }
  return Ok();
}

}  // namespace

size_t Utf8Length(std::string_view s) { return cc::Utf8Length(s); }

bool ValidEmail(std::string_view email) {
  if (email.size() > kMaxEmail) return false;
  const size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 ||
      email.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view domain = email.substr(at + 1);
  const size_t dot = domain.find('.');
  if (dot == std::string_view::npos || dot == 0 || domain.back() == '.') return false;
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7F) return false;
  }
  return true;
}

Result<CreateHoldRequest> ParseCreateHold(std::string_view body, const CreateDefaults& defaults) {
  auto doc = ParseObject(body, false);
  if (!doc) return Fail(doc.error());
  const rapidjson::Value& obj = *doc;
  if (auto known = OnlyKnownFields(
          obj, {"amount", "currency", "description", "customer_email", "property_id", "tenant_id",
                "metadata", "tier", "payment_method", "release_after", "authorize_at",
                "stay_ends_at", "reauthorize", "disclosure"});
      !known) {
    return Fail(known.error());
  }
  CreateHoldRequest req;
  if (auto s = ReadAmountAndCurrency(obj, defaults, &req); !s) return Fail(s.error());
  auto release_after = OptionalTime(obj, "release_after");
  if (!release_after) return Fail(release_after.error());
  req.release_after = *release_after;
  if (auto s = ReadLife(obj, &req); !s) return Fail(s.error());
  if (const auto* disclosure = json::Member(obj, "disclosure");
      disclosure != nullptr && !disclosure->IsNull()) {
    // The clock is the caller's (CheckDisclosureTime): here, any time parses.
    auto accepted = claims::ParseDisclosure(
        *disclosure, std::numeric_limits<int64_t>::max() - claims::kAcceptedAtClockSkew);
    if (!accepted) return Fail(accepted.error());
    req.disclosure = std::move(*accepted);
  }
  if (auto s = ReadStrings(obj, &req); !s) return Fail(s.error());
  auto metadata = ParseMetadata(obj);
  if (!metadata) return Fail(metadata.error());
  req.metadata = std::move(*metadata);
  auto tier = ResolveTier(obj, req.metadata);
  if (!tier) return Fail(tier.error());
  req.tier = *tier;
  return req;
}

Status ParseReauthorizeHold(std::string_view body) {
  auto doc = ParseObject(body, true);
  if (!doc) return Fail(doc.error());
  return OnlyKnownFields(*doc, {});
}

Status CheckDisclosureTime(const CreateHoldRequest& req, int64_t now) {
  if (req.disclosure && req.disclosure->accepted_at > now + claims::kAcceptedAtClockSkew) {
    return Invalid("invalid_request", "disclosure.accepted_at is in the future",
                   "disclosure[accepted_at]");
  }
  return Ok();
}

std::string RenderAcceptedDisclosure(const claims::AcceptedDisclosure& disclosure) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "version");
  json::String(w, disclosure.version);
  json::Key(w, "accepted_at");
  json::String(w, FormatIso8601(disclosure.accepted_at));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

Result<RefundHoldRequest> ParseRefundHold(std::string_view body) {
  auto doc = ParseObject(body, true);
  if (!doc) return Fail(doc.error());
  if (auto known = OnlyKnownFields(*doc, {"amount", "reason"}); !known) return Fail(known.error());
  RefundHoldRequest req;
  auto amount = OptionalInteger(*doc, "amount");
  if (!amount) return Fail(amount.error());
  req.amount = *amount;
  if (req.amount && *req.amount < 1) {
    return Invalid("invalid_request", "amount must be at least 1", "amount");
  }
  auto reason = OptionalString(*doc, "reason", kMaxMetadataValue);
  if (!reason) return Fail(reason.error());
  req.reason = std::move(*reason);
  return req;
}

Result<CancelHoldRequest> ParseCancelHold(std::string_view body) {
  auto doc = ParseObject(body, true);
  if (!doc) return Fail(doc.error());
  if (auto known = OnlyKnownFields(*doc, {"cancellation_reason", "reason"}); !known) {
    return Fail(known.error());
  }
  CancelHoldRequest req;
  auto stripe_reason = OptionalString(*doc, "cancellation_reason", 40);
  if (!stripe_reason) return Fail(stripe_reason.error());
  static constexpr std::array<std::string_view, 4> kReasons{"duplicate", "fraudulent",
                                                            "requested_by_customer", "abandoned"};
  bool known_reason = stripe_reason->empty();
  for (auto r : kReasons) known_reason = known_reason || r == *stripe_reason;
  if (!known_reason) {
    return Invalid("invalid_request",
                   "cancellation_reason must be duplicate, fraudulent, requested_by_customer or "
                   "abandoned",
                   "cancellation_reason");
  }
  req.cancellation_reason = std::move(*stripe_reason);
  auto reason = OptionalString(*doc, "reason", kMaxMetadataValue);
  if (!reason) return Fail(reason.error());
  req.reason = std::move(*reason);
  return req;
}

}  // namespace cc::holds
