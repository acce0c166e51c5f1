#include "api/app.h"

#include <chrono>

#include "api/holds.h"
#include "api/idempotency.h"
#include "api/webhooks.h"
#include "core/crypto.h"
#include "core/fibers.h"
#include "core/json.h"
#include "core/log.h"
#include "http/router.h"

namespace cc::api {
namespace {

constexpr int64_t kStripeProbeInterval = 30;
constexpr int64_t kChittyIdProbeInterval = 10;
constexpr std::chrono::milliseconds kFirstProbePoll{2};
constexpr size_t kMaxIdempotencyKey = 255;

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  return authorization.substr(kScheme.size());
}

bool PrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

std::string RequestIdFor(std::string_view incoming) {
  bool ok = !incoming.empty() && incoming.size() <= 128;
  for (char c : incoming) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  return ok ? std::string(incoming) : crypto::RandomHex(16);
}

HealthProbe::Snapshot HealthProbe::Get(const Ports& ports, int64_t now) {
  bool probe_stripe = false;
  bool probe_chittyid = false;
  {
    std::lock_guard lock(mu_);
    if (now - stripe_checked_ >= kStripeProbeInterval && !stripe_probing_) {
      probe_stripe = stripe_probing_ = true;
    }
    if (now - chittyid_checked_ >= kChittyIdProbeInterval && !chittyid_probing_) {
      probe_chittyid = chittyid_probing_ = true;
    }
  }
  const bool stripe_ok = probe_stripe && ports.stripe.Ping().has_value();
  const bool chittyid_ok = probe_chittyid && ports.chittyid.Health().has_value();
  std::unique_lock lock(mu_);
  if (probe_stripe) {
    stripe_ok_ = stripe_ok;
    stripe_checked_ = now;
    stripe_probing_ = false;
    stripe_known_ = true;
  }
  if (probe_chittyid) {
    chittyid_ok_ = chittyid_ok;
    chittyid_checked_ = now;
    chittyid_probing_ = false;
    chittyid_known_ = true;
  }
  // The initial false is no result: wait for a first probe that is in flight. Polled
  // with Pause, not a condition variable: the prober may be a fiber of this thread.
  while (!((stripe_known_ || !stripe_probing_) && (chittyid_known_ || !chittyid_probing_))) {
    lock.unlock();
    fibers::Pause(kFirstProbePoll);
    lock.lock();
  }
  return {stripe_ok_, chittyid_ok_};
}

bool IsLoopback(std::string_view remote_addr) {
  return remote_addr.starts_with("127.") || remote_addr == "::1" ||
         remote_addr.starts_with("::ffff:127.") || remote_addr == "unix:";
}

App::App(const config::Config& config, metrics::Metrics& metrics)
    : config_(config), metrics_(metrics) {
  for (const auto& c : config_.clients) token_hashes_.push_back(crypto::Sha256Hex(c.token));
}

const config::ClientToken* App::Authenticate(const http::Request& request) const {
  std::string_view token = request.Header("chittyid-token");
  if (token.empty()) token = BearerToken(request.Header("authorization"));
  if (token.empty()) return nullptr;
  // Equal-length digests compared without early exit, over every client.
  const std::string digest = crypto::Sha256Hex(token);
  const config::ClientToken* found = nullptr;
  for (size_t i = 0; i < token_hashes_.size(); ++i) {
    if (crypto::ConstantTimeEquals(digest, token_hashes_[i])) found = &config_.clients[i];
  }
  return found;
}

std::optional<http::Response> App::RateLimit(const config::ClientToken& client,
                                             store::KvStore& store, int64_t now) {
  const auto retry_after = limiter_.RetryAfter(client, store, now);
  if (!retry_after) return std::nullopt;
  auto response = http::ErrorResponse(
      MakeError(ErrorKind::kRateLimited, "rate_limited",
                "Rate limit of " + std::to_string(client.rate_per_minute) +
                    " requests per minute exceeded"));
  response.headers.emplace_back("Retry-After", std::to_string(*retry_after));
  return response;
}

http::Response App::Health(const Ports& ports, int64_t now) {
  const auto deps = health_.Get(ports, now);
  const bool memcached_ok = ports.store.Ping().has_value();
  const bool critical_ok = deps.stripe_ok && memcached_ok;
  const bool all_ok = critical_ok && deps.chittyid_ok;
  rapidjson::StringBuffer buf;
  json::Writer w(buf);
  w.StartObject();
  json::Key(w, "status");
  json::String(w, all_ok ? "healthy" : "degraded");
  json::Key(w, "service");
  json::String(w, "chittycharge");
  json::Key(w, "version");
  json::String(w, CHITTYCHARGE_VERSION);
  json::Key(w, "stripe_connected");
  w.Bool(deps.stripe_ok);
  json::Key(w, "chittyid_connected");
  w.Bool(deps.chittyid_ok);
  json::Key(w, "memcached_connected");
  w.Bool(memcached_ok);
  w.EndObject();
  return http::Json(critical_ok ? 200 : 503, std::string(buf.GetString(), buf.GetSize()));
}

App::Routed App::Route(const http::Request& request, const Ports& ports, int64_t now) {
  Routed routed;
  const auto match = http::MatchRoute(request.method, request.path);
  routed.route = match.route;
  if (!match.route) {
    if (match.allow.empty()) {
      routed.response = http::ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found", "No such route"));
      return routed;
    }
    routed.response = http::ErrorResponse(MakeError(ErrorKind::kMethodNotAllowed, "method_not_allowed",
                                                    "Method not allowed; use " + match.allow));
    routed.response.headers.emplace_back("Allow", match.allow);
    return routed;
  }
  routed.response = Dispatch(request, ports, now, match, &routed);
  return routed;
}

http::Response App::Dispatch(const http::Request& request, const Ports& ports, int64_t now,
                             const http::RouteMatch& match, Routed* routed) {
  const Deps deps{config_, ports.stripe, ports.chittyid, ports.store, &settled_};
  switch (*match.route) {
    case http::Route::kHealth: return Health(ports, now);
    case http::Route::kWebhook: return ReceiveWebhook(deps, request, now, &routed->note);
    case http::Route::kMetrics: {
      if (!IsLoopback(request.remote_addr)) {
        return http::ErrorResponse(MakeError(ErrorKind::kPermissionDenied, "forbidden",
                                             "/metrics is served to loopback only"));
      }
      auto r = http::Json(200, metrics_.Render());
      r.content_type = "text/plain; version=0.0.4";
      return r;
    }
    default: break;
  }
  const config::ClientToken* client = Authenticate(request);
  if (client == nullptr) {
    return http::ErrorResponse(MakeError(ErrorKind::kUnauthenticated, "unauthorized",
                                         "Missing or unknown ChittyID-Token"));
  }
  routed->client = client->name;
  if (auto limited = RateLimit(*client, ports.store, now)) return std::move(*limited);
  const std::string_view key = request.Header("idempotency-key");
  if (key.size() > kMaxIdempotencyKey || !PrintableAscii(key)) {
    return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                                         "Idempotency-Key must be 1 to 255 printable characters",
                                         "Idempotency-Key"));
  }
  const bool keyed = request.method == "POST" && !key.empty();
  const Caller caller{*client, keyed ? std::string(key) : std::string(), now};
  if (!keyed) return Handlers(deps, caller, request, match);
  auto begin = BeginIdempotent(ports.store, client->name, key, request);
  if (begin.answer) {
    routed->replayed = true;
    return std::move(*begin.answer);
  }
  http::Response response = Handlers(deps, caller, request, match);
  FinishIdempotent(ports.store, begin.ticket, response);
  return response;
}

http::Response App::Handlers(const Deps& deps, const Caller& caller, const http::Request& request,
                             const http::RouteMatch& match) {
  switch (*match.route) {
    case http::Route::kCreateHold: return CreateHold(deps, caller, request);
    case http::Route::kGetHold: return GetHold(deps, caller, match.id);
    case http::Route::kListHolds: return ListHolds(deps, caller, request);
    case http::Route::kCaptureHold: return CaptureHold(deps, caller, request, match.id);
    case http::Route::kCancelHold: return CancelHold(deps, caller, request, match.id);
    default: break;
  }
  return http::ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found", "No such route"));
}

void App::Count(const Routed& routed, double seconds) {
  const int status = routed.response.status;
  const auto route_index = routed.route ? static_cast<uint32_t>(*routed.route)
                                        : metrics::Metrics::kUnmatchedRoute;
  metrics_.Request(route_index, status, seconds);
  if (!routed.route || routed.replayed) return;
  switch (*routed.route) {
    case http::Route::kCreateHold:
      if (status == 201) metrics_.Hold(metrics::HoldEvent::kCreated);
      if (status == 402) metrics_.Hold(metrics::HoldEvent::kDeclined);
      break;
    case http::Route::kCaptureHold:
      if (status == 200) metrics_.Hold(metrics::HoldEvent::kCaptured);
      break;
    case http::Route::kCancelHold:
      if (status == 200) metrics_.Hold(metrics::HoldEvent::kCanceled);
      break;
    case http::Route::kWebhook: metrics_.Webhook(routed.note.type, routed.note.result); break;
    default: break;
  }
}

http::Response App::Handle(const http::Request& request, const Ports& ports, int64_t now_ms) {
  const auto start = std::chrono::steady_clock::now();
  metrics_.InFlight(1);
  const std::string request_id = RequestIdFor(request.Header("x-request-id"));
  Routed routed = Route(request, ports, now_ms / 1000);
  routed.response.headers.emplace_back("X-Request-Id", request_id);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  Count(routed, took.count());
  metrics_.InFlight(-1);
  log::Info("request",
            {log::Str("request_id", request_id), log::Str("method", request.method),
             log::Str("route", routed.route ? std::string(http::RouteName(*routed.route)) : "unmatched"),
             log::Num("status", routed.response.status), log::Str("client", routed.client),
             log::Num("duration_us", static_cast<long long>(took.count() * 1e6))});  // NOLINT(google-runtime-int)
  return std::move(routed.response);
}

}  // namespace cc::api
