#include "gateway/auth.h"

#include <cctype>

#include "core/crypto.h"

namespace cc::gateway {

Authenticator::Authenticator(const std::vector<config::ClientToken>& clients) : clients_(clients) {
  for (const auto& c : clients_) token_hashes_.push_back(crypto::Sha256Hex(c.token));
}

const config::ClientToken* Authenticator::Find(const http::Request& request) const {
  std::string_view token = request.Header("chittyid-token");
  if (token.empty()) token = BearerToken(request.Header("authorization"));
  if (token.empty()) return nullptr;
  // Equal-length digests compared without early exit, over every client.
  const std::string digest = crypto::Sha256Hex(token);
  const config::ClientToken* found = nullptr;
  for (size_t i = 0; i < token_hashes_.size(); ++i) {
    if (crypto::ConstantTimeEquals(digest, token_hashes_[i])) found = &clients_[i];
  }
  return found;
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  return authorization.substr(kScheme.size());
}

bool IsLoopback(std::string_view remote_addr) {
  return remote_addr.starts_with("127.") || remote_addr == "::1" ||
         remote_addr.starts_with("::ffff:127.") || remote_addr == "unix:";
}

}  // namespace cc::gateway
