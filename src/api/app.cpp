#include "api/app.h"

#include "api/holds.h"
#include "api/webhooks.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "http/router.h"

namespace cc::api {
namespace {

constexpr int64_t kStripeProbeInterval = 30;
constexpr int64_t kChittyIdProbeInterval = 10;
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
  std::lock_guard lock(mu_);
  if (probe_stripe) {
    stripe_ok_ = stripe_ok;
    stripe_checked_ = now;
    stripe_probing_ = false;
  }
  if (probe_chittyid) {
    chittyid_ok_ = chittyid_ok;
    chittyid_checked_ = now;
    chittyid_probing_ = false;
  }
  return {stripe_ok_, chittyid_ok_};
}

App::App(const config::Config& config) : config_(config) {
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
  const int64_t window = now / 60;
  auto count = store.Incr("rl:" + client.name + ":" + std::to_string(window), 1, 1, 120);
  if (!count) return std::nullopt;  // fail open: nginx's coarse limit still applies
  if (static_cast<int64_t>(*count) <= client.rate_per_minute) return std::nullopt;
  const int64_t retry_after = std::max<int64_t>(1, (window + 1) * 60 - now);
  auto response = http::ErrorResponse(
      MakeError(ErrorKind::kRateLimited, "rate_limited",
                "Rate limit of " + std::to_string(client.rate_per_minute) +
                    " requests per minute exceeded"));
  response.headers.emplace_back("Retry-After", std::to_string(retry_after));
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

http::Response App::Route(const http::Request& request, const Ports& ports, int64_t now,
                          std::string* client_name) {
  const auto match = http::MatchRoute(request.method, request.path);
  if (!match.route) {
    if (match.allow.empty()) {
      return http::ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found", "No such route"));
    }
    auto r = http::ErrorResponse(MakeError(ErrorKind::kMethodNotAllowed, "method_not_allowed",
                                           "Method not allowed; use " + match.allow));
    r.headers.emplace_back("Allow", match.allow);
    return r;
  }
  switch (*match.route) {
    case http::Route::kHealth: return Health(ports, now);
    case http::Route::kWebhook:
      return ReceiveWebhook(Deps{config_, ports.stripe, ports.chittyid, ports.store}, request, now);
    case http::Route::kMetrics:
      return http::ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found", "No such route"));
    default: break;
  }
  const config::ClientToken* client = Authenticate(request);
  if (client == nullptr) {
    return http::ErrorResponse(MakeError(ErrorKind::kUnauthenticated, "unauthorized",
                                         "Missing or unknown ChittyID-Token"));
  }
  *client_name = client->name;
  if (auto limited = RateLimit(*client, ports.store, now)) return std::move(*limited);
  const std::string_view key = request.Header("idempotency-key");
  if (key.size() > kMaxIdempotencyKey || !PrintableAscii(key)) {
    return http::ErrorResponse(MakeError(ErrorKind::kInvalidArgument, "invalid_request",
                                         "Idempotency-Key must be 1 to 255 printable characters",
                                         "Idempotency-Key"));
  }
  const Deps deps{config_, ports.stripe, ports.chittyid, ports.store};
  const Caller caller{*client, request.method == "POST" ? std::string(key) : std::string(), now};
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

http::Response App::Handle(const http::Request& request, const Ports& ports, int64_t now_ms) {
  const std::string request_id = RequestIdFor(request.Header("x-request-id"));
  std::string client_name;
  http::Response response = Route(request, ports, now_ms / 1000, &client_name);
  response.headers.emplace_back("X-Request-Id", request_id);
  const auto match = http::MatchRoute(request.method, request.path);
  log::Info("request",
            {log::Str("request_id", request_id), log::Str("method", request.method),
             log::Str("route", match.route ? std::string(http::RouteName(*match.route)) : "unmatched"),
             log::Num("status", response.status), log::Str("client", client_name)});
  return response;
}

}  // namespace cc::api
