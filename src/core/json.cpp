#include "core/json.h"

#include <set>
#include <vector>

#include <rapidjson/error/en.h>

namespace cc::json {
namespace {

// Walks the parsed tree with an explicit stack: depth and duplicate keys.
bool WithinLimits(const rapidjson::Value& root, std::string* why) {
  std::vector<std::pair<const rapidjson::Value*, int>> stack{{&root, 1}};
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxDepth) {
      *why = "JSON nests deeper than 16 levels";
      return false;
    }
    if (value->IsObject()) {
      std::set<std::string_view> seen;
      for (const auto& m : value->GetObject()) {
        if (!seen.emplace(m.name.GetString(), m.name.GetStringLength()).second) {
          *why = "JSON object has a duplicate key";
          return false;
        }
        stack.emplace_back(&m.value, depth + 1);
      }
    } else if (value->IsArray()) {
      for (const auto& v : value->GetArray()) stack.emplace_back(&v, depth + 1);
    }
  }
  return true;
}

}  // namespace

Result<rapidjson::Document> ParseStrict(std::string_view text) {
  // No kParseFullPrecisionFlag: nothing reads a double, and RapidJSON 1.1.0's full-precision
  // path is UB on a zero with an exponent ("0e39" → -1.5e228; Tencent/rapidjson#1249).
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag;
  rapidjson::Document doc;
  doc.Parse<kFlags>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_json",
                std::string("Request body is not valid JSON: ") +
                    rapidjson::GetParseError_En(doc.GetParseError()));
  }
  std::string why;
  if (!WithinLimits(doc, &why)) return Fail(ErrorKind::kInvalidArgument, "invalid_json", why);
  return doc;
}

const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(
      rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string_view> StringMember(const rapidjson::Value& object,
                                             std::string_view name) {
  const auto* v = Member(object, name);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string_view(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> IntMember(const rapidjson::Value& object, std::string_view name) {
  const auto* v = Member(object, name);
  if (v == nullptr || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

}  // namespace cc::json
