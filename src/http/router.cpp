#include "http/router.h"

#include "http/http.h"

namespace cc::http {
namespace {

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

RouteMatch MatchRoute(std::span<const RouteSpec> routes, std::string_view method,
                      std::string_view path) {
  RouteMatch match;
  for (size_t i = 0; i < routes.size(); ++i) {
    std::string_view id;
    if (!PathMatches(routes[i].pattern, path, &id)) continue;
    if (routes[i].method == method) {
      match.index = i;
      match.id = PercentDecode(id);
      match.allow.clear();
      return match;
    }
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += routes[i].method;
  }
  return match;
}

std::string RouteName(const RouteSpec& route) {
  std::string name(route.method);
  name += ' ';
  name += route.pattern;
  return name;
}

}  // namespace cc::http
