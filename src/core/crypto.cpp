#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace cc::crypto {
namespace {

std::string ToHex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4U];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0FU];
  }
  return out;
}

// SHA-256 fetched from the provider once: EVP_sha256() makes every digest look the
// algorithm up again (OpenSSL 3's implicit fetch, a locked table lookup). Never freed:
// it lives as long as the process.
const EVP_MD* Sha256() {
  static const EVP_MD* const kMd = [] {
    const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (md == nullptr) throw std::runtime_error("EVP_MD_fetch(SHA256) failed");
    return md;
  }();
  return kMd;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, Sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest failed");
  }
  return ToHex(md.data(), len);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): C API
  const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): C API
  const auto* data_bytes = reinterpret_cast<const unsigned char*>(data.data());
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  if (HMAC(Sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, data.size(), md.data(),
           &len) == nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  return ToHex(md.data(), len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomHex(size_t n_bytes) {
  std::string raw(n_bytes, '\0');
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): C API
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(n_bytes)) != 1) {
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    throw std::runtime_error("RAND_bytes failed");
  }
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): C API
  return ToHex(reinterpret_cast<const unsigned char*>(raw.data()), n_bytes);
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
}

}  // namespace cc::crypto
