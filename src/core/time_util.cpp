#include "core/time_util.h"

#include <ctime>

namespace cc {

std::string FormatIso8601(int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];  // NOLINT(cppcoreguidelines-avoid-c-arrays): strftime target
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {buf, n};
}

}  // namespace cc
