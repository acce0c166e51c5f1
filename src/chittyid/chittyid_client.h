// ChittyIdClient: the ChittyIdApi over a httpclient::Transport. The PENDING fallback id
// used when minting fails is chittyid/pending_id.h.
//
// MintAuth: POST {base_url}/v1/mint with `Authorization: Bearer <token>` and
// {"entity_type":"AUTH","metadata":{…}}; a 2xx whose JSON object has a string
// `chitty_id` that starts "CHITTY-" (printable ASCII, no spaces, ≤ 128 bytes, so it is
// safe as a store key and a Stripe metadata value) is the id. Health: GET
// {base_url}/health, 2xx ⇒ Ok. Both bounded by config.timeout_ms.
// Failure: transport errors pass through unchanged (kUnavailable / kDeadlineExceeded /
// kUpstream); HTTP 503 and 429 ⇒ kUnavailable, 504 and 408 ⇒ kDeadlineExceeded, any
// other non-2xx or a malformed answer ⇒ kUpstream. Messages never contain the token.
// NOT thread-safe (the Transport is not): one per event loop or thread. The Transport must
// outlive the client.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "chittyid/chittyid_api.h"
#include "httpclient/transport.h"

namespace cc::chittyid {

struct ChittyIdConfig {
  std::string base_url;    // e.g. "https://id.chitty.cc"; a trailing '/' is ignored
  std::string token;       // secret
  long timeout_ms = 2000;  // NOLINT(google-runtime-int): curl's type
};

class ChittyIdClient final : public ChittyIdApi {
 public:
  ChittyIdClient(httpclient::Transport& transport, ChittyIdConfig config);

  Result<std::string> MintAuth(const std::map<std::string, std::string>& metadata) override;
  Status Health() override;

 private:
  [[nodiscard]] httpclient::HttpRequest MakeRequest(std::string method,
                                                    std::string_view path) const;

  httpclient::Transport& transport_;
  ChittyIdConfig config_;
};

}  // namespace cc::chittyid
