// Router: method + path → the route a handler serves, or why none does.
// A known path with another method is 405 with the Allow list; anything else 404.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cc::http {

enum class Route {
  kHealth,
  kMetrics,
  kWebhook,
  kListHolds,
  kCreateHold,
  kGetHold,
  kCaptureHold,
  kCancelHold,
};

struct RouteMatch {
  std::optional<Route> route;  // nullopt: 404, or 405 when `allow` is set
  std::string id;              // the :id segment, percent-decoded
  std::string allow;           // "GET, POST" for a 405
};

RouteMatch MatchRoute(std::string_view method, std::string_view path);

// Stable low-cardinality name for logs and metrics: "POST /api/holds/:id/capture".
std::string_view RouteName(Route route);

}  // namespace cc::http
