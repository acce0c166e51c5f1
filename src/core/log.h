// Structured logging: one JSON object per line on stderr (journald keeps it).
//
// Thread-safe: each line goes out in a single write(2). Callers pass only values that
// are safe to log: never tokens, keys, client secrets, card data or emails. (No line logs
// an email: customer_email goes to Stripe as receipt_email and back to its client only;
// the Stripe messages that are logged come from calls that do not send it.)
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cc::log {

enum class Level { kInfo, kWarn, kError };

struct Field {
  std::string_view key;
  std::string value;
  bool is_number = false;
};

inline Field Num(std::string_view key, long long v) {  // NOLINT(google-runtime-int)
  return Field{key, std::to_string(v), true};
}
inline Field Str(std::string_view key, std::string v) { return Field{key, std::move(v), false}; }

void Write(Level level, std::string_view message, const std::vector<Field>& fields);

inline void Info(std::string_view message, const std::vector<Field>& fields = {}) {
  Write(Level::kInfo, message, fields);
}
inline void Warn(std::string_view message, const std::vector<Field>& fields = {}) {
  Write(Level::kWarn, message, fields);
}
inline void Error(std::string_view message, const std::vector<Field>& fields = {}) {
  Write(Level::kError, message, fields);
}

}  // namespace cc::log
