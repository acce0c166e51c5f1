// The service's own HTTP vocabulary: a Request as the fcgi layer hands it over, and
// the Response a handler returns. No libfcgi here: handlers and tests use only these.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace cc::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // GET, POST, …
  std::string path;    // raw path, no query: /api/holds/pi_123
  std::string query;   // raw query string without '?'
  HeaderList headers;  // names lower-case with '-': chittyid-token
  std::string body;
  std::string remote_addr;

  [[nodiscard]] std::string_view Header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  HeaderList headers;  // besides Content-Type / Content-Length
  std::string body;    // JSON unless a handler sets another Content-Type
  std::string content_type = "application/json";
  // A final answer that an idempotent replay may repeat. Not final: 5xx, and conflicts
  // that a retry resolves (idempotency_key_in_use, rate_limited).
  bool final = true;
};

Response Json(int status, std::string body);
// {"error": message, "code": code, "param"?: param, "id"?: id}
Response ErrorResponse(const Error& error);
std::string ErrorBody(const Error& error);

// Query string → map (last value wins); '+' is a space; invalid escapes kept raw.
std::map<std::string, std::string> ParseQuery(std::string_view query);
std::string PercentDecode(std::string_view s);

std::string_view ReasonPhrase(int status);

}  // namespace cc::http
