// Authenticator: which configured client a request's token names.
//
// The token comes from `ChittyID-Token`, or `Authorization: Bearer` when that header is
// absent. Tokens are kept as SHA-256 digests and compared in constant time against every
// client, so neither a match nor its position leaks through timing. Thread-safe (read-only
// after construction).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "http/http.h"

namespace cc::gateway {

class Authenticator {
 public:
  explicit Authenticator(const std::vector<config::ClientToken>& clients);

  // The client whose token the request carries; nullptr when none or unknown.
  const config::ClientToken* Find(const http::Request& request) const;

 private:
  const std::vector<config::ClientToken>& clients_;
  std::vector<std::string> token_hashes_;  // SHA-256 of each client token, same order
};

// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive), or "".
std::string_view BearerToken(std::string_view authorization);

// Loopback peers may read /metrics (nginx enforces it too).
bool IsLoopback(std::string_view remote_addr);

}  // namespace cc::gateway
