#include "store/validate.h"

#include <algorithm>
#include <string>

namespace cc::store {
namespace {

tl::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_store_argument", std::move(message));
}

bool IsKeyChar(char c) { return c > ' ' && c < '\x7f'; }

}  // namespace

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Invalid("store key is empty");
  if (key.size() > kMaxKeyBytes) {
    return Invalid("store key is longer than 250 bytes; hash it first");
  }
  if (!std::all_of(key.begin(), key.end(), IsKeyChar)) {
    return Invalid("store key contains a space, control or non-ASCII byte");
  }
  return Ok();
}

Status ValidateValue(std::string_view value) {
  if (value.size() > kMaxValueBytes) return Invalid("store value is larger than the item limit");
  return Ok();
}

Status ValidateTtl(uint32_t ttl_s) {
  if (ttl_s > kMaxTtlSeconds) return Invalid("store TTL is longer than 30 days");
  return Ok();
}

Status ValidateEntry(std::string_view key, std::string_view value, uint32_t ttl_s) {
  if (auto s = ValidateKey(key); !s) return s;
  if (auto s = ValidateValue(value); !s) return s;
  return ValidateTtl(ttl_s);
}

}  // namespace cc::store
