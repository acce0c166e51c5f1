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

// One part of a multipart/form-data body (RFC 7578). A plain field has only name and data;
// a file part also has its filename and Content-Type.
struct FormPart {
  std::string name;
  std::string data;  // bytes, kept as they are
  std::string filename;
  std::string content_type;
};

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;             // absolute: https://api.stripe.com/v1/payment_intents
  Headers headers;             // "Name", "value"; no Content-Length (the transport adds it)
  std::string body;
  // Non-empty (POST only): the body is multipart/form-data made of these parts, encoded by
  // the transport (libcurl's MIME API: boundary, part headers, Content-Type header); `body`
  // and any Content-Type in `headers` are then not used.
  std::vector<FormPart> form;
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
