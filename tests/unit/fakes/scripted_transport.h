// ScriptedTransport: a Transport that replays a scripted queue of outcomes (a canned
// response or a transport Error) in order and records every HttpRequest it was sent.
// A Send() past the end of the script returns kInternal "unscripted_request", so a test
// that makes one call too many fails on its own assertions. Not thread-safe.
#pragma once

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "httpclient/transport.h"

namespace cc::testing {

class ScriptedTransport final : public httpclient::Transport {
 public:
  // Queues an answer with this status, body and (lower-case) headers.
  ScriptedTransport& Respond(long status, std::string body,  // NOLINT(google-runtime-int)
                             httpclient::Headers headers = {}) {
    httpclient::HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    response.headers = std::move(headers);
    script_.emplace_back(std::move(response));
    return *this;
  }
  // Queues a transport failure (kUnavailable, kDeadlineExceeded, kUpstream).
  ScriptedTransport& FailWith(ErrorKind kind, std::string message = "scripted failure") {
    script_.emplace_back(tl::unexpected<Error>(MakeError(kind, "transport", std::move(message))));
    return *this;
  }

  Result<httpclient::HttpResponse> Send(const httpclient::HttpRequest& request) override {
    requests_.push_back(request);
    if (script_.empty()) {
      return Fail(
          ErrorKind::kInternal, "unscripted_request",
          "ScriptedTransport: no scripted answer for " + request.method + " " + request.url);
    }
    Result<httpclient::HttpResponse> next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

  [[nodiscard]] const std::vector<httpclient::HttpRequest>& requests() const { return requests_; }
  [[nodiscard]] size_t remaining() const { return script_.size(); }

 private:
  std::deque<Result<httpclient::HttpResponse>> script_;
  std::vector<httpclient::HttpRequest> requests_;
};

// The value of the first request header with this exact name, or "" (test helper).
inline std::string RequestHeader(const httpclient::HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace cc::testing
