// Measures of UTF-8 text that every request validator counts the same way.
//
// The inputs are valid UTF-8 (json::ParseStrict checks every decoded string; see
// json::ValidUtf8); on other bytes the answer is the number of bytes that do not continue
// a sequence, never a crash.
#pragma once

#include <cstddef>
#include <string_view>

namespace cc {

// Code points: "Zürich" is 6, "🏨" is 1. The contract's "N characters" limits count these.
constexpr size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0U) != 0x80U ? 1 : 0;
  return n;
}

}  // namespace cc
