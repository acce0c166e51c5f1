// JSON helpers over RapidJSON.
//
// ParseStrict() is the one door for untrusted JSON: it validates UTF-8, refuses
// duplicate object keys, nesting deeper than kMaxDepth, numbers that overflow a double,
// and trailing bytes; it never recurses on the C++ stack (iterative parse).
// Readers below type-check before every access (RapidJSON's asserts vanish in release).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cc::json {

inline constexpr int kMaxDepth = 16;

// 400 invalid_json on any defect; the message says what is wrong, never echoes input.
Result<rapidjson::Document> ParseStrict(std::string_view text);

// Whether `text` is one well-formed JSON value (IsObjectText: an object) in valid UTF-8:
// syntax only, no tree is built, so duplicate keys and depth are not checked. For JSON
// this service wrote itself and only stores (the ledger's intent requests and results,
// ~10× cheaper than a parse); untrusted input goes through ParseStrict.
bool IsJsonText(std::string_view text);
bool IsObjectText(std::string_view text);

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool ValidUtf8(std::string_view s);

// Typed member lookups; nullptr / nullopt when absent or of another type.
const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view name);
std::optional<std::string_view> StringMember(const rapidjson::Value& object, std::string_view name);
std::optional<int64_t> IntMember(const rapidjson::Value& object, std::string_view name);

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void Key(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
inline void String(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// Writes a string, or null when empty.
inline void StringOrNull(Writer& w, std::string_view s) {
  if (s.empty()) {
    w.Null();
  } else {
    String(w, s);
  }
}

}  // namespace cc::json
