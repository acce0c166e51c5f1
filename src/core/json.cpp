#include "core/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cmath>
#include <set>
#include <vector>

namespace cc::json {

// RapidJSON 1.1.0 turns a lone "\udc00" escape into the bytes of a surrogate, so decoded
// strings are checked here even after its own validation.
bool ValidUtf8(std::string_view s) {
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): byte view
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  const auto* end = p + s.size();
  auto cont = [&end](const unsigned char* q, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return q < end && *q >= lo && *q <= hi;
  };
  while (p < end) {
    const unsigned char c = *p;
    int n = 0;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = cont(p + 1) ? 2 : 0;
    } else if (c >= 0xE0 && c <= 0xEF) {
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
      const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
      n = cont(p + 1, lo, hi) && cont(p + 2) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
      const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
      n = cont(p + 1, lo, hi) && cont(p + 2) && cont(p + 3) ? 4 : 0;
    }
    if (n == 0) return false;
    p += n;
  }
  return true;
}

namespace {

bool ValidString(const rapidjson::Value& v) {
  return ValidUtf8(std::string_view(v.GetString(), v.GetStringLength()));
}

// Walks the parsed tree with an explicit stack: depth, duplicate keys, the UTF-8 of
// every decoded string and key, and finite numbers (RapidJSON 1.1.0 turns "99e307" into
// infinity, which no JSON writer can put back).
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
        if (!ValidString(m.name)) {
          *why = "JSON text is not valid UTF-8";
          return false;
        }
        if (!seen.emplace(m.name.GetString(), m.name.GetStringLength()).second) {
          *why = "JSON object has a duplicate key";
          return false;
        }
        stack.emplace_back(&m.value, depth + 1);
      }
    } else if (value->IsArray()) {
      for (const auto& v : value->GetArray()) stack.emplace_back(&v, depth + 1);
    } else if (value->IsString() && !ValidString(*value)) {
      *why = "JSON text is not valid UTF-8";
      return false;
    } else if (value->IsDouble() && !std::isfinite(value->GetDouble())) {
      *why = "JSON number is out of range";
      return false;
    }
  }
  return true;
}

}  // namespace

Result<rapidjson::Document> ParseStrict(std::string_view text) {
  // No kParseFullPrecisionFlag: nothing reads a double, and RapidJSON 1.1.0's full-precision
  // path is UB on a zero with an exponent ("0e39" → -1.5e228; Tencent/rapidjson#1249).
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
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

namespace {

// Checks the syntax only. With object_root, the first event must be StartObject.
bool WellFormed(std::string_view text, bool object_root) {
  struct Handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
    bool object_root = false;
    bool started = false;
    bool Default() {
      const bool first = !started;
      started = true;
      return !(first && object_root);  // another root than an object: stop at once
    }
    bool StartObject() {
      started = true;
      return true;
    }
  };
  constexpr unsigned kFlags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  rapidjson::Reader reader;
  rapidjson::MemoryStream bytes(text.data(), text.size());
  Handler handler;
  handler.object_root = object_root;
  return !reader.Parse<kFlags>(bytes, handler).IsError();
}

}  // namespace

bool IsJsonText(std::string_view text) { return WellFormed(text, false); }

bool IsObjectText(std::string_view text) { return WellFormed(text, true); }

const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
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
