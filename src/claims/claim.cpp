#include "claims/claim.h"

#include <algorithm>
#include <array>

#include "core/time_util.h"
#include "core/utf8.h"

namespace cc::claims {
namespace {

constexpr std::string_view kItems = "items";
constexpr size_t kMaxReason = 500;

constexpr std::array<std::pair<ClaimCategory, std::string_view>, 6> kCategories{{
    {ClaimCategory::kDamage, "damage"},
    {ClaimCategory::kCleaning, "cleaning"},
    {ClaimCategory::kMissingItem, "missing_item"},
    {ClaimCategory::kLateCheckout, "late_checkout"},
    {ClaimCategory::kFee, "fee"},
    {ClaimCategory::kOther, "other"},
}};

tl::unexpected<Error> Invalid(std::string message, std::string_view param) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_request", std::move(message),
              std::string(param));
}

tl::unexpected<Error> InvalidItems(std::string message) {
  return Invalid(std::move(message), kItems);
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

// "items[3]": the zero-based position of an item, for messages.
std::string ItemName(size_t index) { return "items[" + std::to_string(index) + "]"; }

Result<std::string> ReadDescription(const rapidjson::Value& item, const std::string& name) {
  const auto* v = json::Member(item, "description");
  if (v == nullptr || !v->IsString()) {
    return InvalidItems(name + ".description is required and must be a string");
  }
  const std::string_view text = View(*v);
  if (HasNul(text)) {
    return InvalidItems(name + ".description may not contain NUL characters (\\u0000)");
  }
  const size_t length = Utf8Length(text);
  if (length < 1 || length > kMaxItemDescription) {
    return InvalidItems(name + ".description must be 1 to 500 characters");
  }
  return std::string(text);
}

Result<int64_t> ReadAmount(const rapidjson::Value& item, const std::string& name) {
  const auto* v = json::Member(item, "amount");
  if (v == nullptr || !v->IsInt64()) {
    return InvalidItems(name + ".amount is required and must be an integer number of cents " +
                        "(minor units)");
  }
  if (v->GetInt64() < 1) return InvalidItems(name + ".amount must be at least 1");
  return v->GetInt64();
}

Result<ClaimCategory> ReadCategory(const rapidjson::Value& item, const std::string& name) {
  const auto* v = json::Member(item, "category");
  std::optional<ClaimCategory> category;
  if (v != nullptr && v->IsString()) category = ParseCategory(View(*v));
  if (!category) {
    return InvalidItems(name +
                        ".category must be damage, cleaning, missing_item, late_checkout, fee "
                        "or other");
  }
  return *category;
}

Result<std::vector<std::string>> ReadEvidence(const rapidjson::Value& item,
                                              const std::string& name) {
  std::vector<std::string> ids;
  const auto* v = json::Member(item, "evidence");
  if (v == nullptr || v->IsNull()) return ids;
  if (!v->IsArray()) return InvalidItems(name + ".evidence must be an array of file ids");
  if (v->Size() > kMaxEvidencePerItem) {
    return InvalidItems(name + ".evidence lists more than 10 files");
  }
  for (const auto& id : v->GetArray()) {
    if (!id.IsString() || !ValidFileId(View(id))) {
      return InvalidItems(name + ".evidence must list Stripe file ids (file_…)");
    }
    for (const auto& seen : ids) {
      if (seen == View(id)) {
        std::string message = name;
        message.append(".evidence lists ").append(seen).append(" twice");
        return InvalidItems(std::move(message));
      }
    }
    ids.emplace_back(View(id));
  }
  return ids;
}

Result<ClaimItem> ReadItem(const rapidjson::Value& item, size_t index) {
  const std::string name = ItemName(index);
  if (!item.IsObject()) return InvalidItems(name + " must be an object");
  for (const auto& m : item.GetObject()) {
    const std::string_view field = View(m.name);
    if (field != "description" && field != "amount" && field != "category" && field != "evidence") {
      return InvalidItems(name + " has an unknown field: " + std::string(field));
    }
  }
  ClaimItem out;
  auto description = ReadDescription(item, name);
  if (!description) return Fail(description.error());
  out.description = std::move(*description);
  auto amount = ReadAmount(item, name);
  if (!amount) return Fail(amount.error());
  out.amount = *amount;
  auto category = ReadCategory(item, name);
  if (!category) return Fail(category.error());
  out.category = *category;
  auto evidence = ReadEvidence(item, name);
  if (!evidence) return Fail(evidence.error());
  out.evidence = std::move(*evidence);
  return out;
}

// Part 1's capture fields, with the rules and messages they always had.
Status ReadPart1Fields(const rapidjson::Value& obj, CaptureRequest* req) {
  if (const auto* v = json::Member(obj, "amount_to_capture"); v != nullptr) {
    if (!v->IsInt64()) {
      return Invalid("amount_to_capture must be an integer number of cents (minor units)",
                     "amount_to_capture");
    }
    if (v->GetInt64() < 1)
      return Invalid("amount_to_capture must be at least 1", "amount_to_capture");
    req->amount_to_capture = v->GetInt64();
  }
  if (const auto* v = json::Member(obj, "reason"); v != nullptr && !v->IsNull()) {
    if (!v->IsString()) return Invalid("reason must be a string", "reason");
    const std::string_view reason = View(*v);
    if (HasNul(reason)) return Invalid("reason may not contain NUL characters (\\u0000)", "reason");
    if (Utf8Length(reason) > kMaxReason) {
      return Invalid("reason is longer than 500 characters", "reason");
    }
    req->reason = std::string(reason);
  }
  return Ok();
}

}  // namespace

std::string_view CategoryName(ClaimCategory category) {
  for (const auto& [c, name] : kCategories) {
    if (c == category) return name;
  }
  return "other";
}

std::optional<ClaimCategory> ParseCategory(std::string_view name) {
  for (const auto& [c, n] : kCategories) {
    if (n == name) return c;
  }
  return std::nullopt;
}

bool ValidFileId(std::string_view id) {
  constexpr std::string_view kPrefix = "file_";
  if (!id.starts_with(kPrefix) || id.size() <= kPrefix.size() || id.size() > kMaxFileIdLength) {
    return false;
  }
  return std::ranges::all_of(id, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<Claim> ParseClaimItems(const rapidjson::Value& items) {
  if (!items.IsArray() || items.Empty() || items.Size() > kMaxClaimItems) {
    return InvalidItems("items must be an array of 1 to 50 items");
  }
  Claim claim;
  claim.items.reserve(items.Size());
  bool overflow = false;
  for (const auto& value : items.GetArray()) {
    auto item = ReadItem(value, claim.items.size());
    if (!item) return Fail(item.error());
    overflow = overflow || __builtin_add_overflow(claim.total, item->amount, &claim.total);
    claim.items.push_back(std::move(*item));
  }
  if (overflow) {
    return Fail(ErrorKind::kInvalidArgument, "capture_exceeds_capturable",
                "The items add up to more than any hold can capture", std::string(kItems));
  }
  return claim;
}

std::optional<int64_t> CaptureRequest::Amount() const {
  if (claim) return claim->total;
  return amount_to_capture;
}

Result<CaptureRequest> ParseCaptureRequest(std::string_view body) {
  auto doc = json::ParseStrict(body.empty() ? std::string_view("{}") : body);
  if (!doc) return Fail(doc.error());
  if (!doc->IsObject()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_json", "Request body must be a JSON object");
  }
  for (const auto& m : doc->GetObject()) {
    const std::string_view field = View(m.name);
    if (field != "amount_to_capture" && field != "reason" && field != kItems) {
      return Invalid("Unknown field: " + std::string(field), field);
    }
  }
  CaptureRequest req;
  if (auto part1 = ReadPart1Fields(*doc, &req); !part1) return Fail(part1.error());
  if (const auto* items = json::Member(*doc, kItems); items != nullptr) {
    auto claim = ParseClaimItems(*items);
    if (!claim) return Fail(claim.error());
    req.claim = std::move(*claim);
  }
  if (req.claim && req.amount_to_capture && *req.amount_to_capture != req.claim->total) {
    return InvalidItems("amount_to_capture (" + std::to_string(*req.amount_to_capture) +
                        ") must equal the items' total (" + std::to_string(req.claim->total) + ")");
  }
  return req;
}

Status CheckCaptureAmount(int64_t amount, int64_t amount_capturable, int64_t minimum,
                          std::string_view param) {
  if (amount > amount_capturable) {
    return Fail(ErrorKind::kInvalidArgument, "capture_exceeds_capturable",
                "The amount to capture, " + std::to_string(amount) +
                    ", exceeds the capturable amount of " + std::to_string(amount_capturable),
                std::string(param));
  }
  if (amount < minimum) {
    return Fail(ErrorKind::kInvalidArgument, "amount_too_small",
                "The amount to capture, " + std::to_string(amount) +
                    ", is under Stripe's minimum charge of " + std::to_string(minimum) +
                    " for this currency: release the hold instead",
                std::string(param));
  }
  return Ok();
}

Status CheckClaim(const Claim& claim, int64_t amount_capturable, int64_t minimum,
                  const EvidenceIds& hold_evidence) {
  for (size_t i = 0; i < claim.items.size(); ++i) {
    for (const auto& id : claim.items[i].evidence) {
      if (!hold_evidence.contains(id)) {
        return InvalidItems(ItemName(i) + ".evidence: " + id +
                            " is not evidence uploaded for this hold");
      }
    }
  }
  return CheckCaptureAmount(claim.total, amount_capturable, minimum, kItems);
}

void WriteClaim(json::Writer& w, const Claim& claim, std::optional<int64_t> captured_at) {
  w.StartObject();
  json::Key(w, "items");
  w.StartArray();
  for (const auto& item : claim.items) {
    w.StartObject();
    json::Key(w, "description");
    json::String(w, item.description);
    json::Key(w, "amount");
    w.Int64(item.amount);
    json::Key(w, "category");
    json::String(w, CategoryName(item.category));
    json::Key(w, "evidence");
    w.StartArray();
    for (const auto& id : item.evidence) json::String(w, id);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  json::Key(w, "total");
  w.Int64(claim.total);
  json::Key(w, "captured_at");
  if (captured_at) {
    json::String(w, FormatIso8601(*captured_at));
  } else {
    w.Null();
  }
  w.EndObject();
}

std::string RenderClaim(const Claim& claim, std::optional<int64_t> captured_at) {
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  WriteClaim(w, claim, captured_at);
  return {buf.GetString(), buf.GetSize()};
}

ClaimSummary SummarizeClaim(const Claim& claim) {
  const size_t n = claim.items.size();
  ClaimSummary summary{std::to_string(n) + (n == 1 ? " item" : " items"),
                       std::to_string(claim.total)};
  std::vector<std::string> parts;  // ", damage 12000"; ASCII, so bytes are characters
  parts.reserve(n);
  size_t full = summary.items.size() + (n > 0 ? 1 : 0);
  for (const auto& item : claim.items) {
    parts.push_back((parts.empty() ? " " : ", ") + std::string(CategoryName(item.category)) + " " +
                    std::to_string(item.amount));
    full += parts.back().size();
  }
  if (n > 0) summary.items += ":";
  auto more = [n](size_t shown) {
    return (shown > 0 ? ", +" : " +") + std::to_string(n - shown) + " more";
  };
  // When not all fit, each item shown adds more characters (at least 7) than its count
  // in "+K more" saves (at most 1), so the longest prefix that fits is found greedily.
  // None shown always fits: "50 items: +50 more".
  const bool all = full <= kMaxStripeMetadataValue;
  for (size_t shown = 0; shown < n; ++shown) {
    const size_t rest = shown + 1 < n ? more(shown + 1).size() : 0;
    if (!all && summary.items.size() + parts[shown].size() + rest > kMaxStripeMetadataValue) {
      summary.items += more(shown);
      return summary;
    }
    summary.items += parts[shown];
  }
  return summary;
}

}  // namespace cc::claims
