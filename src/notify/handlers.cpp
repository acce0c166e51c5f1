#include "notify/handlers.h"

#include <map>
#include <string>

#include "notify/notification.h"

namespace cc::notify {
namespace {

Error Invalid(std::string message, std::string param) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid_request", std::move(message),
                   std::move(param));
}

Result<int> Limit(const std::map<std::string, std::string>& q) {
  auto it = q.find("limit");
  if (it == q.end()) return 20;
  const std::string& v = it->second;
  const bool digits = !v.empty() && v.size() <= 3 && v.find_first_not_of("0123456789") == v.npos;
  const int limit = digits ? std::stoi(v) : 0;
  if (limit < 1 || limit > 100) {
    return tl::unexpected(Invalid("limit must be an integer from 1 to 100", "limit"));
  }
  return limit;
}

}  // namespace

http::Response ListNotifications(const http::Deps& deps, const http::Caller& caller,
                                 const http::Request& request) {
  const auto q = http::ParseQuery(request.query);
  const auto status = q.find("status");
  if (status == q.end() || status->second != "failed") {
    return http::ErrorResponse(Invalid(
        "status=failed is required (the notifications that failed at least once)", "status"));
  }
  auto limit = Limit(q);
  if (!limit) return http::ErrorResponse(limit.error());
  const auto after = q.find("starting_after");
  auto page = deps.ledger.ListFailedNotifications(caller.client.name,
                                                  after == q.end() ? "" : after->second, *limit);
  if (!page) {
    if (page.error().param == "starting_after") {
      return http::ErrorResponse(
          Invalid("starting_after must be the id of one of your notifications", "starting_after"));
    }
    return http::ErrorResponse(page.error());
  }
  return http::Json(200, RenderFailedPage(*page));
}

}  // namespace cc::notify
