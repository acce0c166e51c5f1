// Hashing, HMAC, constant-time comparison and randomness: the only user of <openssl/…>.
#pragma once

#include <string>
#include <string_view>

namespace cc::crypto {

std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);
// Compares without an early exit on the first differing byte (length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// n random bytes from the OS CSPRNG, as 2n lower-case hex characters.
std::string RandomHex(size_t n_bytes);

}  // namespace cc::crypto
