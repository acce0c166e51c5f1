// fuzz_router: the request path above libfcgi: http::MatchRoute over the routes table,
// http::ParseQuery and a full gateway::Gateway::Handle (request id, routing, auth, rate limit,
// every handler) over fakes.
//
// Input: one to four HTTP-like requests separated by a line holding only "%%%":
//
//   POST /api/holds?x=1          request line: method, target (path and query)
//   chittyid-token: tok_alpha_0123456789     headers, names lower-cased here,
//   x-fuzz-remote: 127.0.0.1                 (this one sets remote_addr;
//   stripe-signature: sign                    "sign" is replaced by a valid signature)
//                                            an empty line
//   {"amount":5000,...}                      the body: the rest of the record
//
// The requests share one world (App, FakeStripe, FakeChittyId, InMemoryStore), so a
// create can be followed by a get, capture or cancel of what it made, and client "beta"
// (2 requests per minute) reaches the rate limit. FakeStripe starts with pi_seed1
// (alpha, requires_capture) and pi_seed2 (beta, requires_action), so the first hold
// created is pi_fake3 (its ChittyID CHITTY-AUTH-FAKE1). A signed webhook may cache a hold
// Stripe never made; Stripe's answer for it is then 404 (FakeStripe itself would throw).
// Besides what the sanitizers see, it checks: MatchRoute is self-consistent; every
// answer has a status in 200..599, an X-Request-Id, an Allow list on a 405, a
// Retry-After on a 429, and strict JSON whenever it says application/json.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/metrics.h"
#include "fakes/fake_stripe.h"
#include "fuzz_util.h"
#include "gateway/gateway.h"
#include "gateway/routes.h"
#include "holds/settled_holds.h"
#include "http/http.h"
#include "http/router.h"
#include "ledger/in_memory_ledger.h"
#include "store/in_memory_store.h"

namespace {

using cc::fuzz::Require;

constexpr int64_t kNowMs = 1767225600000 + 45000;  // 15 s before a rate-limit window ends
constexpr size_t kMaxRequests = 4;
constexpr size_t kMaxHeaders = 16;
constexpr std::string_view kWebhookSecret = "whsec_fuzz_0123456789";

cc::http::Request ParseRequest(std::string_view text) {
  cc::http::Request request;
  std::string_view line = cc::fuzz::TakeLine(&text);
  const size_t sp = line.find(' ');
  request.method = std::string(line.substr(0, sp));
  const std::string_view target =
      sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  const size_t q = target.find('?');
  request.path = std::string(target.substr(0, q));
  request.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  while (!text.empty() && request.headers.size() < kMaxHeaders) {
    line = cc::fuzz::TakeLine(&text);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    std::string_view value =
        colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    request.headers.emplace_back(cc::fuzz::Lower(line.substr(0, colon)), std::string(value));
  }
  request.remote_addr = std::string(request.Header("x-fuzz-remote"));
  request.body = std::string(text);
  for (auto& [name, value] : request.headers) {
    if (name != "stripe-signature" || value != "sign") continue;
    const std::string t = std::to_string(kNowMs / 1000);
    value = "t=" + t + ",v1=" + cc::crypto::HmacSha256Hex(kWebhookSecret, t + "." + request.body);
  }
  return request;
}

std::string_view HeaderOf(const cc::http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

void CheckRouting(const cc::http::Request& request) {
  static const std::vector<cc::http::RouteSpec> specs = [] {
    std::vector<cc::http::RouteSpec> out;
    for (const auto& route : cc::gateway::Routes()) out.push_back(route.spec);
    return out;
  }();
  const auto match = cc::http::MatchRoute(specs, request.method, request.path);
  if (match.index) {
    Require(match.allow.empty(), "a matched route carries an Allow list");
    Require(*match.index < specs.size(), "a match outside the table");
    Require(specs[*match.index].method == request.method, "matched another method");
  }
  const auto again = cc::http::MatchRoute(specs, request.method, request.path);
  Require(again.index == match.index && again.id == match.id && again.allow == match.allow,
          "MatchRoute is not deterministic");
  const auto query = cc::http::ParseQuery(request.query);
  Require(query.size() <= request.query.size(), "ParseQuery made up parameters");
  Require(cc::http::PercentDecode(request.path).size() <= request.path.size(),
          "PercentDecode grew its input");
}

void CheckResponse(const cc::http::Response& r) {
  Require(r.status >= 200 && r.status <= 599, "status outside 200..599");
  Require(!HeaderOf(r, "X-Request-Id").empty(), "response without X-Request-Id");
  if (r.status == 405) Require(!HeaderOf(r, "Allow").empty(), "405 without Allow");
  if (r.status == 429) Require(!HeaderOf(r, "Retry-After").empty(), "429 without Retry-After");
  if (r.content_type == "application/json") {
    Require(cc::json::ParseStrict(r.body).has_value(),
            "application/json answer is not strict JSON");
  }
}

cc::stripe::PaymentIntent Seeded(std::string id, std::string status, std::string client) {
  cc::stripe::PaymentIntent pi;
  pi.id = std::move(id);
  pi.status = std::move(status);
  pi.amount = 25000;
  pi.amount_capturable = pi.status == "requires_capture" ? 25000 : 0;
  pi.currency = "usd";
  pi.description = "seeded hold";
  pi.created = kNowMs / 1000 - 600;
  pi.latest_charge = "ch_" + pi.id;
  pi.metadata = {{"client", std::move(client)},
                 {"chitty_id", "CHITTY-AUTH-" + pi.id},
                 {"tier", "NEW_GUEST"},
                 {"booking_id", "000123"}};
  return pi;
}

// FakeStripe over the ids it knows: like Stripe, 404 for any other (FakeStripe::at throws).
class KnownIdsOnly final : public cc::stripe::StripeApi {
 public:
  explicit KnownIdsOnly(cc::testing::FakeStripe& fake) : fake_(fake) {}

  cc::Result<cc::stripe::PaymentIntent> Create(const cc::stripe::CreateParams& params,
                                               const std::string& key) override {
    return fake_.Create(params, key);
  }
  cc::Result<cc::stripe::PaymentIntent> Retrieve(const std::string& id) override {
    return fake_.Retrieve(id);
  }
  cc::Result<cc::stripe::PaymentIntent> UpdateMetadata(const std::string& id,
                                                       const cc::stripe::Metadata& metadata,
                                                       const std::string& key) override {
    if (!fake_.intents.contains(id)) return Missing();
    return fake_.UpdateMetadata(id, metadata, key);
  }
  cc::Result<cc::stripe::PaymentIntent> Capture(const std::string& id,
                                                const cc::stripe::CaptureParams& params,
                                                const std::string& key) override {
    if (!fake_.intents.contains(id)) return Missing();
    return fake_.Capture(id, params, key);
  }
  cc::Result<cc::stripe::PaymentIntent> Cancel(const std::string& id,
                                               const cc::stripe::CancelParams& params,
                                               const std::string& key) override {
    if (!fake_.intents.contains(id)) return Missing();
    return fake_.Cancel(id, params, key);
  }
  cc::Result<cc::stripe::SearchPage> Search(const std::string& query, int limit,
                                            const std::string& page) override {
    return fake_.Search(query, limit, page);
  }
  cc::Status Ping() override { return fake_.Ping(); }

 private:
  static tl::unexpected<cc::Error> Missing() {
    return cc::Fail(cc::ErrorKind::kNotFound, "not_found", "No such hold");
  }
  cc::testing::FakeStripe& fake_;
};

struct World {
  cc::config::Config config = [] {
    cc::config::Config c;
    c.stripe_secret_key = "sk_test_fuzz";
    c.webhook_secrets = {std::string(kWebhookSecret)};
    c.clients = {{"alpha", "tok_alpha_0123456789", cc::Tier::kPremiumProperty, 1000},
                 {"beta", "tok_beta_0123456789", cc::Tier::kVerifiedGuest, 2}};
    return c;
  }();
  cc::testing::FakeStripe fake_stripe;
  KnownIdsOnly stripe{fake_stripe};
  cc::testing::FakeChittyId chittyid;
  cc::store::InMemoryStore store{[] { return kNowMs / 1000; }};
  cc::gateway::Gateway app;
  cc::holds::SettledHolds settled;
  cc::ledger::InMemoryLedger ledger;

  explicit World(cc::metrics::Metrics& metrics) : app(config, metrics) {
    fake_stripe.now = kNowMs / 1000;
    fake_stripe.intents["pi_seed1"] = Seeded("pi_seed1", "requires_capture", "alpha");
    fake_stripe.intents["pi_seed2"] = Seeded("pi_seed2", "requires_action", "beta");
  }
};

cc::metrics::Metrics& ProcessMetrics() {
  static const std::unique_ptr<cc::metrics::Metrics> metrics = [] {
    auto opened = cc::metrics::Metrics::Open("", cc::gateway::RouteNames());
    Require(opened.has_value(), "Metrics::Open(\"\") failed");
    return std::move(*opened);
  }();
  return *metrics;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World world(ProcessMetrics());
  const cc::http::Deps deps{world.config, world.stripe, world.chittyid,
                            world.store,  world.ledger, &world.settled};
  const auto records =
      cc::fuzz::Split(cc::fuzz::AsView(data, size), cc::fuzz::kRecordSeparator, kMaxRequests);
  for (const std::string_view record : records) {
    const cc::http::Request request = ParseRequest(record);
    CheckRouting(request);
    CheckResponse(world.app.Handle(request, deps, kNowMs));
  }
  return 0;
}
