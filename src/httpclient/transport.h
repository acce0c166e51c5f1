// Transport: the one port through which the service talks HTTP(S) to Stripe and ChittyID.
//
// Send() performs one exchange and returns the response whatever its status; only a
// failure to get a response is an Error: kUnavailable (could not connect, connection
// reset), kDeadlineExceeded (timeout), kUpstream (anything else, e.g. TLS failure).
// A Transport is NOT thread-safe: each event loop owns one (CurlMulti's, which its fibers
// may call at once), the reconciler thread another (CurlTransport).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace cc::httpclient {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;             // absolute: https://api.stripe.com/v1/payment_intents
  Headers headers;             // "Name", "value"; no Content-Length (the transport adds it)
  std::string body;
  long timeout_ms = 10000;         // NOLINT(google-runtime-int): curl takes long
  long connect_timeout_ms = 3000;  // NOLINT(google-runtime-int): curl takes long
};

struct HttpResponse {
  long status = 0;  // NOLINT(google-runtime-int): curl's type
  Headers headers;  // names lower-cased
  std::string body;

  // The value of the first header with this (lower-case) name, or "".
  [[nodiscard]] std::string_view Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return value;
    }
    return {};
  }
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace cc::httpclient
