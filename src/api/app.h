// App: one request in, one response out. Assigns the request id, routes, authenticates
// the client token, applies the per-client rate limit, dispatches to a handler and logs
// one line. Shared by all event loops of a process: thread-safe; the loop's own ports
// come in with each call.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "api/deps.h"
#include "api/rate_limiter.h"
#include "api/settled_holds.h"
#include "core/metrics.h"
#include "api/webhooks.h"
#include "http/http.h"
#include "http/router.h"

namespace cc::api {

struct Ports {
  stripe::StripeApi& stripe;
  chittyid::ChittyIdApi& chittyid;
  store::KvStore& store;
};

// Health of the dependencies, probed at most once per interval per process, by the
// caller that finds the probe due; the network call is made without the lock. While a
// dependency's first probe is in flight, other callers wait for its result (a fresh
// worker must not report a healthy Stripe as down); after that they answer the last
// known result while a re-probe is in flight.
class HealthProbe {
 public:
  struct Snapshot {
    bool stripe_ok = false;
    bool chittyid_ok = false;
  };
  Snapshot Get(const Ports& ports, int64_t now);

 private:
  std::mutex mu_;
  int64_t stripe_checked_ = -1000000;
  int64_t chittyid_checked_ = -1000000;
  bool stripe_ok_ = false;
  bool chittyid_ok_ = false;
  bool stripe_probing_ = false;
  bool chittyid_probing_ = false;
  bool stripe_known_ = false;  // a probe has completed: stripe_ok_ is a result
  bool chittyid_known_ = false;
};

class App {
 public:
  App(const config::Config& config, metrics::Metrics& metrics);

  http::Response Handle(const http::Request& request, const Ports& ports, int64_t now_ms);

  // The client whose token the request carries (ChittyID-Token wins over Bearer).
  const config::ClientToken* Authenticate(const http::Request& request) const;

 private:
  struct Routed {
    http::Response response;
    std::optional<http::Route> route;
    std::string client;  // name, "" when not authenticated
    WebhookNote note;
    bool replayed = false;  // an idempotent replay: no new hold event
  };
  Routed Route(const http::Request& request, const Ports& ports, int64_t now);
  http::Response Dispatch(const http::Request& request, const Ports& ports, int64_t now,
                          const http::RouteMatch& match, Routed* routed);
  static http::Response Handlers(const Deps& deps, const Caller& caller,
                                 const http::Request& request, const http::RouteMatch& match);
  void Count(const Routed& routed, double seconds);
  http::Response Health(const Ports& ports, int64_t now);
  std::optional<http::Response> RateLimit(const config::ClientToken& client, store::KvStore& store,
                                          int64_t now);

  const config::Config& config_;
  metrics::Metrics& metrics_;
  std::vector<std::string> token_hashes_;  // SHA-256 of each client token, same order
  HealthProbe health_;
  SettledHolds settled_;  // shared by the process's threads
  RateLimiter limiter_;   // the process's rate-limit leases
};

// Loopback peers may read /metrics (nginx enforces it too).
bool IsLoopback(std::string_view remote_addr);

// X-Request-Id: the client's when it matches [A-Za-z0-9._-]{1,128}, else a new one.
std::string RequestIdFor(std::string_view incoming);

}  // namespace cc::api
