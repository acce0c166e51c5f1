// Router: method + path → the row of a routes table that serves it, or why none does.
// A known path with another method is 405 with the Allow list; anything else 404. The
// table itself (gateway/routes.h) is the one list of endpoints; this file only matches.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cc::http {

// One endpoint: "GET" and "/api/holds/:id" (":id" matches one non-empty segment).
struct RouteSpec {
  std::string_view method;
  std::string_view pattern;
};

struct RouteMatch {
  std::optional<size_t> index;  // the matching row; nullopt: 404, or 405 when `allow` is set
  std::string id;               // the :id segment, percent-decoded
  std::string allow;            // "GET, POST" for a 405
};

RouteMatch MatchRoute(std::span<const RouteSpec> routes, std::string_view method,
                      std::string_view path);

// Stable low-cardinality name for logs and metrics: "POST /api/holds/:id/capture".
std::string RouteName(const RouteSpec& route);

}  // namespace cc::http
