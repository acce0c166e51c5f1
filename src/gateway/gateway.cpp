#include "gateway/gateway.h"

#include <cctype>
#include <chrono>

#include "core/crypto.h"
#include "core/log.h"
#include "gateway/idempotency.h"

namespace cc::gateway {
namespace {

constexpr size_t kMaxIdempotencyKey = 255;

bool PrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

http::Response NoRoute(const http::RouteMatch& match) {
  if (match.allow.empty()) {
    return http::ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found", "No such route"));
  }
  auto response = http::ErrorResponse(MakeError(ErrorKind::kMethodNotAllowed, "method_not_allowed",
                                                "Method not allowed; use " + match.allow));
  response.headers.emplace_back("Allow", match.allow);
  return response;
}

}  // namespace

// What Handle() learns while routing, for the counters and the log line.
struct Gateway::Outcome {
  const Route* route = nullptr;  // nullptr: unmatched
  size_t index = 0;
  std::string client;     // name, "" when not authenticated
  bool replayed = false;  // an idempotent replay: no new hold event
  webhooks::WebhookNote note;
};

std::string RequestIdFor(std::string_view incoming) {
  bool ok = !incoming.empty() && incoming.size() <= 128;
  for (char c : incoming) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  return ok ? std::string(incoming) : crypto::RandomHex(16);
}

Gateway::Gateway(const config::Config& config, metrics::Metrics& metrics)
    : metrics_(metrics), auth_(config.clients), names_(RouteNames()) {
  for (const auto& route : Routes()) specs_.push_back(route.spec);
}

std::optional<http::Response> Gateway::RateLimit(const config::ClientToken& client,
                                                 store::KvStore& store, int64_t now) {
  const auto retry_after = limiter_.RetryAfter(client, store, now);
  if (!retry_after) return std::nullopt;
  auto response = http::ErrorResponse(MakeError(
      ErrorKind::kRateLimited, "rate_limited",
      "Rate limit of " + std::to_string(client.rate_per_minute) + " requests per minute exceeded"));
  response.headers.emplace_back("Retry-After", std::to_string(*retry_after));
  return response;
}

http::Response Gateway::Dispatch(const http::Request& request, const http::Deps& deps, int64_t now,
                                 std::string_view request_id, Outcome* outcome) {
  const auto match = http::MatchRoute(specs_, request.method, request.path);
  if (!match.index) return NoRoute(match);
  const Route& route = Routes()[*match.index];
  outcome->route = &route;
  outcome->index = *match.index;
  Exchange exchange{deps, request, match.id, nullptr, now, request_id, health_, metrics_};
  http::Response response;
  switch (route.access) {
    case Access::kPublic: response = route.handler(exchange); break;
    case Access::kLoopback:
      response = IsLoopback(request.remote_addr)
                     ? route.handler(exchange)
                     : http::ErrorResponse(MakeError(ErrorKind::kPermissionDenied, "forbidden",
                                                     "/metrics is served to loopback only"));
      break;
    case Access::kClient: response = ForClient(exchange, route, outcome); break;
    // The link's token is the credential, checked by the handler against the ledger;
    // nginx limits these per IP (cc_api zone).
    case Access::kGuestLink: response = route.handler(exchange); break;
  }
  outcome->note = std::move(exchange.note);
  return response;
}

http::Response Gateway::ForClient(Exchange& exchange, const Route& route, Outcome* outcome) {
  const http::Request& request = exchange.request;
  const config::ClientToken* client = auth_.Find(request);
  if (client == nullptr) {
    return http::ErrorResponse(MakeError(ErrorKind::kUnauthenticated, "unauthorized",
                                         "Missing or unknown ChittyID-Token"));
  }
  outcome->client = client->name;
  if (auto limited = RateLimit(*client, exchange.deps.store, exchange.now)) {
    return std::move(*limited);
  }
  const std::string_view key = request.Header("idempotency-key");
  if (key.size() > kMaxIdempotencyKey || !PrintableAscii(key)) {
    return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                                         "Idempotency-Key must be 1 to 255 printable characters",
                                         "Idempotency-Key"));
  }
  const bool keyed = request.method == "POST" && !key.empty();
  const http::Caller caller{*client, keyed ? std::string(key) : std::string(), exchange.now,
                            std::string(exchange.request_id)};
  exchange.caller = &caller;
  if (!keyed) return route.handler(exchange);
  auto begin = BeginIdempotent(exchange.deps.store, client->name, key, request);
  if (begin.answer) {
    outcome->replayed = true;
    return std::move(*begin.answer);
  }
  http::Response response = route.handler(exchange);
  FinishIdempotent(exchange.deps.store, begin.ticket, response);
  return response;
}

http::Response Gateway::Handle(const http::Request& request, const http::Deps& deps,
                               int64_t now_ms) {
  const auto start = std::chrono::steady_clock::now();
  metrics_.InFlight(1);
  const std::string request_id = RequestIdFor(request.Header("x-request-id"));
  Outcome outcome;
  http::Response response = Dispatch(request, deps, now_ms / 1000, request_id, &outcome);
  response.headers.emplace_back("X-Request-Id", request_id);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  const int status = response.status;
  metrics_.Request(outcome.route ? outcome.index : metrics::Metrics::kUnmatchedRoute, status,
                   took.count());
  if (outcome.route != nullptr && outcome.route->count != nullptr && !outcome.replayed) {
    outcome.route->count(metrics_, status, outcome.note);
  }
  metrics_.InFlight(-1);
  log::Info("request", {log::Str("request_id", request_id), log::Str("method", request.method),
                        log::Str("route", outcome.route ? names_[outcome.index] : "unmatched"),
                        log::Num("status", status), log::Str("client", outcome.client),
                        // NOLINTBEGIN(google-runtime-int)
                        log::Num("duration_us", static_cast<long long>(took.count() * 1e6))});
  // NOLINTEND(google-runtime-int)
  return response;
}

}  // namespace cc::gateway
