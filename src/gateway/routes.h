// The routes table: every endpoint the service answers, one row each: method and path,
// who may call it, its handler, and what its answer adds to the domain counters.
//
// Adding an endpoint is one row in routes.cpp plus its handler. The router matches
// against this table, the logs and /metrics name routes after it, and the metrics'
// shared-memory layout follows it (core/metrics.h refuses a file written for another
// table). Handlers are plain functions of one Exchange; the domain handlers they call
// are pure functions of (Deps, Caller, request), unit-tested on their own.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "gateway/health.h"
#include "http/handler.h"
#include "http/http.h"
#include "http/router.h"
#include "webhooks/events.h"

namespace cc::gateway {

enum class Access {
  kPublic,     // anyone (nginx applies its per-IP limits)
  kLoopback,   // loopback peers only
  kClient,     // a client token: authenticated, rate-limited, Idempotency-Key honoured
  kGuestLink,  // a guest link's token in the path (:id): the handler checks it; no client token
};

// One request on its way through its route's handler.
struct Exchange {
  const http::Deps& deps;
  const http::Request& request;
  std::string_view id;              // the path's :id segment, percent-decoded
  const http::Caller* caller;       // kClient routes only
  int64_t now;                      // unix seconds
  std::string_view request_id;      // X-Request-Id, the client's or ours
  HealthProbe& health;              // the process's
  const metrics::Metrics& metrics;  // the pool's
  webhooks::WebhookNote note{};     // what the webhook route did, for metrics
};

using Handler = http::Response (*)(Exchange& exchange);
// What an answer of the route adds to chittycharge_holds_total / _webhook_events_total.
using Count = void (*)(metrics::Metrics& metrics, int status, const webhooks::WebhookNote& note);

// The largest request body a route takes (the FastCGI reader answers 413 above it; nginx
// refuses bodies over its own, smaller, limits first).
inline constexpr size_t kDefaultMaxBody = size_t{1} << 20U;

struct Route {
  http::RouteSpec spec;
  Access access;
  Handler handler;
  Count count = nullptr;
  size_t max_body = kDefaultMaxBody;
};

// The table, in match order.
std::span<const Route> Routes();
// The max_body of the route a request goes to; kDefaultMaxBody when none matches.
size_t MaxBodyFor(std::string_view method, std::string_view path);
// "POST /api/holds/:id/capture" for each row, in table order (logs, metrics labels).
std::vector<std::string> RouteNames();

}  // namespace cc::gateway
