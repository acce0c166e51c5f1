// Gateway: one request in, one response out. Assigns the request id, matches the route
// (routes.h), checks who may call it (loopback, or a client token with its rate limit and
// Idempotency-Key), runs the route's handler, counts and logs one line.
// Shared by all event loops of a process: thread-safe; each loop's Deps come in with
// each call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "gateway/auth.h"
#include "gateway/health.h"
#include "gateway/rate_limiter.h"
#include "gateway/routes.h"
#include "http/handler.h"
#include "http/http.h"
#include "http/router.h"

namespace cc::gateway {

class Gateway {
 public:
  Gateway(const config::Config& config, metrics::Metrics& metrics);

  http::Response Handle(const http::Request& request, const http::Deps& deps, int64_t now_ms);

  // The client whose token the request carries (ChittyID-Token wins over Bearer).
  const config::ClientToken* Authenticate(const http::Request& request) const {
    return auth_.Find(request);
  }

 private:
  struct Outcome;
  http::Response Dispatch(const http::Request& request, const http::Deps& deps, int64_t now,
                          std::string_view request_id, Outcome* outcome);
  http::Response ForClient(Exchange& exchange, const Route& route, Outcome* outcome);
  std::optional<http::Response> RateLimit(const config::ClientToken& client, store::KvStore& store,
                                          int64_t now);

  metrics::Metrics& metrics_;
  Authenticator auth_;
  std::vector<http::RouteSpec> specs_;  // Routes(), for the router
  std::vector<std::string> names_;      // RouteNames(), for the log
  HealthProbe health_;
  RateLimiter limiter_;  // the process's rate-limit leases
};

// X-Request-Id: the client's when it matches [A-Za-z0-9._-]{1,128}, else a new one.
std::string RequestIdFor(std::string_view incoming);

}  // namespace cc::gateway
