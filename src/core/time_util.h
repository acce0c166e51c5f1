// Time as values: handlers take `now` as a parameter; only main and the fcgi loop read
// the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cc {

// ISO 8601 UTC with Z, whole seconds: 2025-10-11T12:00:00Z.
std::string FormatIso8601(int64_t unix_seconds);
// RFC 3339 (2025-10-11T12:00:00Z, 2025-10-11T14:00:00.5+02:00; 't' and 'z' too) to unix
// seconds, the fraction dropped; nullopt for anything else or a date that does not exist.
std::optional<int64_t> ParseRfc3339(std::string_view text);

inline int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cc
