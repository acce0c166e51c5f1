#include "gateway/gateway.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>

#include "core/json.h"
#include "fakes/app_fixture.h"
#include "test_util.h"

namespace cc::gateway {
namespace {

// A StripeApi whose Ping blocks until Release() (or, so a failing test cannot hang, for at
// most ten seconds): a health probe held in flight. Ping answers `ping_ok`; nothing else
// is expected to be called.
class GatedPing final : public stripe::StripeApi {
 public:
  explicit GatedPing(bool ping_ok = true) : ping_ok_(ping_ok) {}

  Result<stripe::PaymentIntent> Create(const stripe::CreateParams&, const std::string&) override {
    return Unused();
  }
  Result<stripe::PaymentIntent> Retrieve(const std::string&) override { return Unused(); }
  Result<stripe::PaymentIntent> UpdateMetadata(const std::string&, const stripe::Metadata&,
                                               const std::string&) override {
    return Unused();
  }
  Result<stripe::PaymentIntent> Capture(const std::string&, const stripe::CaptureParams&,
                                        const std::string&) override {
    return Unused();
  }
  Result<stripe::PaymentIntent> Cancel(const std::string&, const stripe::CancelParams&,
                                       const std::string&) override {
    return Unused();
  }
  Result<stripe::SearchPage> Search(const std::string&, int, const std::string&) override {
    return Unused();
  }

  Status Ping() override {
    std::unique_lock lock(mu_);
    ++pings_;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
    if (!ping_ok_) return Unused();
    return Ok();
  }

  // True once a Ping is in flight (waits up to ten seconds).
  bool WaitForPing() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [this] { return pings_ > 0; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int pings() {
    std::lock_guard lock(mu_);
    return pings_;
  }

 private:
  static tl::unexpected<Error> Unused() {
    return Fail(ErrorKind::kUnavailable, "upstream_error", "not expected in this test");
  }
  const bool ping_ok_;
  std::mutex mu_;
  std::condition_variable cv_;
  int pings_ = 0;
  bool released_ = false;
};

struct Fixture : testing::AppFixture {
  Fixture()
      : AppFixture({{"alpha", "tok_alpha_0123456789", Tier::kPremiumProperty, 3},
                    {"beta", "tok_beta_0123456789", Tier::kVerifiedGuest, 100}}) {}

  http::Response Call(std::string method, std::string path, http::HeaderList headers = {},
                      std::string body = {}) {
    return Handle(http::Request{std::move(method), std::move(path), "", std::move(headers),
                                std::move(body), "127.0.0.1"});
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(gateway_gateway, Fixture)

BOOST_AUTO_TEST_CASE(missing_and_wrong_tokens_are_401) {
  BOOST_TEST(Call("GET", "/api/holds/pi_1").status == 401);
  BOOST_TEST(Call("GET", "/api/holds/pi_1", {{"chittyid-token", "tok_alpha_012345678"}}).status ==
             401);
  BOOST_TEST(
      Call("GET", "/api/holds/pi_1", {{"authorization", "Basic tok_alpha_0123456789"}}).status ==
      401);
  BOOST_TEST(stripe.calls.empty());
}

BOOST_AUTO_TEST_CASE(bearer_works_and_chittyid_token_wins) {
  BOOST_TEST(
      Call("GET", "/api/holds/pi_1", {{"authorization", "Bearer tok_beta_0123456789"}}).status ==
      404);
  http::Request r{
      "GET",
      "/",
      "",
      {{"chittyid-token", "tok_alpha_0123456789"}, {"authorization", "Bearer tok_beta_0123456789"}},
      "",
      ""};
  BOOST_REQUIRE(app.Authenticate(r) != nullptr);
  BOOST_TEST(app.Authenticate(r)->name == "alpha");
}

BOOST_AUTO_TEST_CASE(rate_limit_per_client_with_retry_after) {
  const http::HeaderList alpha{{"chittyid-token", "tok_alpha_0123456789"}};
  now_ms += 45000;  // 15 s left in the window
  for (int i = 0; i < 3; ++i) BOOST_TEST(Call("GET", "/api/holds/pi_x", alpha).status == 404);
  auto limited = Call("GET", "/api/holds/pi_x", alpha);
  BOOST_TEST(limited.status == 429);
  BOOST_TEST(Header(limited, "Retry-After") == "15");
  // another client has its own counter; health is exempt
  BOOST_TEST(Call("GET", "/api/holds/pi_x", {{"chittyid-token", "tok_beta_0123456789"}}).status ==
             404);
  BOOST_TEST(Call("GET", "/health").status == 200);
  now_ms += 15000;  // next window
  BOOST_TEST(Call("GET", "/api/holds/pi_x", alpha).status == 404);
}

BOOST_AUTO_TEST_CASE(rate_limit_fails_open_without_memcached) {
  store.SetFailing(true);
  const http::HeaderList alpha{{"chittyid-token", "tok_alpha_0123456789"}};
  for (int i = 0; i < 5; ++i) BOOST_TEST(Call("GET", "/api/holds/pi_x", alpha).status == 404);
}

BOOST_AUTO_TEST_CASE(routes_404_and_405_with_allow) {
  BOOST_TEST(Call("GET", "/nope").status == 404);
  auto r = Call("DELETE", "/api/holds");
  BOOST_TEST(r.status == 405);
  BOOST_TEST(Header(r, "Allow") == "GET, POST");
  BOOST_TEST(Call("GET", "/api/holds/pi_1/capture").status == 405);
}

BOOST_AUTO_TEST_CASE(guest_link_routes_take_the_links_token_not_a_client_token) {
  const std::string id = "pi_guest";
  ledger::Hold hold;
  hold.id = id;
  hold.chitty_id = "CHITTY-AUTH-guest";
  hold.client = "alpha";
  hold.amount = 5000;
  hold.currency = "usd";
  hold.status = "requires_payment_method";
  hold.created_at = now_ms / 1000;
  hold.payment_intents = {id};
  REQUIRE_OK(book.RecordHold(hold));
  auto made =
      Call("POST", "/api/holds/pi_guest/guest_link", {{"chittyid-token", "tok_alpha_0123456789"}});
  BOOST_REQUIRE_EQUAL(made.status, 201);
  const std::string url = json::ParseStrict(made.body)->operator[]("url").GetString();
  const std::string token = url.substr(url.rfind('/') + 1);
  // No client token needed, and a client token does not open another link.
  auto page = Call("GET", "/pay/" + token);
  BOOST_TEST(page.status == 200);
  BOOST_TEST(Header(page, "X-Accel-Redirect") == "/pay/.page/index.html");
  BOOST_TEST(Call("GET", "/pay/" + std::string(64, 'a') + "/hold",
                  {{"chittyid-token", "tok_alpha_0123456789"}})
                 .status == 404);
  BOOST_TEST(Call("GET", "/pay/" + token + "/accept").status == 405);
  BOOST_TEST(Call("POST", "/api/holds/pi_guest/guest_link").status == 401);
  BOOST_TEST(
      Call("POST", "/api/holds/pi_guest/guest_link", {{"chittyid-token", "tok_beta_0123456789"}})
          .status == 404);
}

BOOST_AUTO_TEST_CASE(request_id_is_echoed_only_when_well_formed) {
  BOOST_TEST(Header(Call("GET", "/nope", {{"x-request-id", "abc-123.x_y"}}), "X-Request-Id") ==
             "abc-123.x_y");
  const auto made = Header(Call("GET", "/nope", {{"x-request-id", "bad id!"}}), "X-Request-Id");
  BOOST_TEST(made != "bad id!");
  BOOST_TEST(made.size() == 32U);
}

BOOST_AUTO_TEST_CASE(health_reports_each_dependency) {
  auto ok = Call("GET", "/health");
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(ok.body.find(R"("status":"healthy")") != std::string::npos);
  store.SetFailing(true);
  auto down = Call("GET", "/health");
  BOOST_TEST(down.status == 503);
  BOOST_TEST(down.body.find(R"("memcached_connected":false)") != std::string::npos);
  BOOST_TEST(down.body.find(R"("database_connected":true)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(health_is_503_degraded_while_the_ledger_is_down_and_recovers) {
  auto ok = Call("GET", "/health");
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(ok.body.find(R"("database_connected":true)") != std::string::npos);
  const auto pings_before = ledger.calls();
  ledger.SetFailing(true);  // PostgreSQL down
  auto down = Call("GET", "/health");
  BOOST_TEST(down.status == 503);
  BOOST_TEST(down.body.find(R"("status":"degraded")") != std::string::npos);
  BOOST_TEST(down.body.find(R"("database_connected":false)") != std::string::npos);
  BOOST_TEST(down.body.find(R"("memcached_connected":true)") != std::string::npos);
  BOOST_TEST(down.body.find(R"("stripe_connected":true)") != std::string::npos);
  BOOST_TEST(ledger.calls() == pings_before + 1);  // one ping per call, no memo
  ledger.SetFailing(false);
  auto back = Call("GET", "/health");  // at once: nothing cached the outage
  BOOST_TEST(back.status == 200);
  BOOST_TEST(back.body.find(R"("status":"healthy")") != std::string::npos);
}

// Regression: a fresh worker's concurrent /health callers answered 503 with
// stripe_connected=false while the first Stripe probe was still in flight.
BOOST_AUTO_TEST_CASE(health_during_the_first_probe_waits_for_its_result) {
  GatedPing gated;
  HealthProbe probe;
  const http::Deps ports{config, gated, chittyid, store, ledger};
  auto first = std::async(std::launch::async, [&] { return probe.Get(ports, 1000); });
  BOOST_REQUIRE(gated.WaitForPing());
  auto second = std::async(std::launch::async, [&] { return probe.Get(ports, 1000); });
  BOOST_TEST((second.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout),
             "the second caller must wait for the first probe, not report stripe_ok=false");
  gated.Release();
  BOOST_TEST(first.get().stripe_ok);
  const auto seen = second.get();
  BOOST_TEST(seen.stripe_ok);
  BOOST_TEST(seen.chittyid_ok);
  BOOST_TEST(gated.pings() == 1);  // still probed once per interval per process
}

BOOST_AUTO_TEST_CASE(health_during_a_reprobe_answers_the_last_result) {
  HealthProbe probe;
  BOOST_TEST(probe.Get(http::Deps{config, stripe, chittyid, store, ledger}, 1000).stripe_ok);
  GatedPing failing(/*ping_ok=*/false);
  auto reprobe = std::async(std::launch::async, [&] {
    return probe.Get(http::Deps{config, failing, chittyid, store, ledger}, 1030);
  });
  BOOST_REQUIRE(failing.WaitForPing());
  // Answered from the last result at once (waiting would see the failed re-probe).
  BOOST_TEST(probe.Get(http::Deps{config, stripe, chittyid, store, ledger}, 1030).stripe_ok);
  failing.Release();
  BOOST_TEST(!reprobe.get().stripe_ok);
  BOOST_TEST(failing.pings() == 1);
}

BOOST_AUTO_TEST_CASE(idempotency_key_must_be_printable_and_short) {
  const http::HeaderList h{{"chittyid-token", "tok_beta_0123456789"},
                           {"idempotency-key", std::string(256, 'k')}};
  BOOST_TEST(Call("POST", "/api/holds", h, R"({"description":"x"})").status == 400);
  BOOST_TEST(stripe.calls.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::gateway
