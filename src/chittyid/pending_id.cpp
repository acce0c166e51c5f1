#include "chittyid/pending_id.h"

#include <cctype>

#include "core/crypto.h"

namespace cc::chittyid {
namespace {

constexpr size_t kMaxUniqueChars = 64;

}  // namespace

std::string PendingChittyId(std::string_view unique) {
  std::string out(kPendingPrefix);
  for (char c : unique.substr(0, kMaxUniqueChars)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && std::isalnum(u) != 0) {
      out.push_back(static_cast<char>(std::toupper(u)));
    } else {
      out.push_back('-');
    }
  }
  return out;
}

std::string PendingUniqueFromKey(std::string_view idempotency_key) {
  return crypto::Sha256Hex(idempotency_key).substr(0, 24);
}

std::string RandomPendingUnique() { return crypto::RandomHex(12); }

bool IsPendingChittyId(std::string_view chitty_id) {
  return chitty_id.substr(0, kPendingPrefix.size()) == kPendingPrefix;
}

}  // namespace cc::chittyid
