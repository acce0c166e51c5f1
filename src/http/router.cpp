#include "http/router.h"

#include <array>

#include "http/http.h"

namespace cc::http {
namespace {

struct Entry {
  std::string_view pattern;  // ":id" matches one non-empty segment
  std::string_view method;
  Route route;
};

constexpr std::array kRoutes{
    Entry{"/health", "GET", Route::kHealth},
    Entry{"/metrics", "GET", Route::kMetrics},
    Entry{"/webhook", "POST", Route::kWebhook},
    Entry{"/api/holds", "GET", Route::kListHolds},
    Entry{"/api/holds", "POST", Route::kCreateHold},
    Entry{"/api/holds/:id", "GET", Route::kGetHold},
    Entry{"/api/holds/:id/capture", "POST", Route::kCaptureHold},
    Entry{"/api/holds/:id/cancel", "POST", Route::kCancelHold},
};

// Matches path against pattern segment by segment; fills *id for ":id".
bool PathMatches(std::string_view pattern, std::string_view path, std::string_view* id) {
  while (true) {
    if (pattern.empty() || path.empty()) return pattern.empty() && path.empty();
    if (pattern.front() != '/' || path.front() != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const size_t pe = pattern.find('/');
    const size_t se = path.find('/');
    const std::string_view pseg = pattern.substr(0, pe);
    const std::string_view sseg = path.substr(0, se);
    if (pseg == ":id") {
      if (sseg.empty()) return false;
      *id = sseg;
    } else if (pseg != sseg) {
      return false;
    }
    pattern = pe == std::string_view::npos ? std::string_view{} : pattern.substr(pe);
    path = se == std::string_view::npos ? std::string_view{} : path.substr(se);
  }
}

}  // namespace

RouteMatch MatchRoute(std::string_view method, std::string_view path) {
  RouteMatch match;
  for (const auto& e : kRoutes) {
    std::string_view id;
    if (!PathMatches(e.pattern, path, &id)) continue;
    if (e.method == method) {
      match.route = e.route;
      match.id = PercentDecode(id);
      match.allow.clear();
      return match;
    }
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += e.method;
  }
  return match;
}

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kHealth: return "GET /health";
    case Route::kMetrics: return "GET /metrics";
    case Route::kWebhook: return "POST /webhook";
    case Route::kListHolds: return "GET /api/holds";
    case Route::kCreateHold: return "POST /api/holds";
    case Route::kGetHold: return "GET /api/holds/:id";
    case Route::kCaptureHold: return "POST /api/holds/:id/capture";
    case Route::kCancelHold: return "POST /api/holds/:id/cancel";
  }
  return "unknown";
}

}  // namespace cc::http
