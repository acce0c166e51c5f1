#include "holds/handlers.h"

#include <boost/test/unit_test.hpp>

#include "claims/currency.h"
#include "core/json.h"
#include "fakes/ports_fixture.h"
#include "holds/hold_repository.h"
#include "test_util.h"

namespace cc::holds {
namespace {

struct Fixture : testing::PortsFixture {
  int64_t now = 1767225600;

  http::Caller as(const config::ClientToken& c, std::string key = {}) {
    return http::Caller{c, std::move(key), now, "req-test"};
  }
  static http::Request Post(std::string body) {
    http::Request r;
    r.method = "POST";
    r.body = std::move(body);
    return r;
  }
  rapidjson::Document Body(const http::Response& r) {
    auto doc = json::ParseStrict(r.body);
    BOOST_REQUIRE(doc.has_value());
    return std::move(*doc);
  }
  std::string Create(const std::string& body =
                         R"({"amount":25000,"description":"Deposit","property_id":"prop_1"})") {
    auto r = CreateHold(deps(), as(alpha), Post(body));
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return Body(r)["id"].GetString();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(holds_handlers, Fixture)

BOOST_AUTO_TEST_CASE(seed_flow_create_confirm_partial_capture_then_409) {
  auto created = CreateHold(deps(), as(alpha), Post(R"({"amount":25000,"description":"Deposit"})"));
  BOOST_REQUIRE_EQUAL(created.status, 201);
  auto body = Body(created);
  const std::string id = body["id"].GetString();
  BOOST_TEST(std::string(body["client_secret"].GetString()).starts_with(id + "_secret_"));
  BOOST_TEST(std::string(body["chitty_id"].GetString()) == "CHITTY-AUTH-FAKE1");
  BOOST_TEST(stripe.intents.at(id).metadata.at("client") == "alpha");
  BOOST_TEST(stripe.intents.at(id).metadata.at("tier") == "NEW_GUEST");

  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  now += 5;  // older than the 2 s freshness: the capture re-reads Stripe
  auto captured = CaptureHold(deps(), as(alpha), Post(R"({"amount_to_capture":7500})"), id);
  BOOST_REQUIRE_EQUAL(captured.status, 200);
  BOOST_TEST(Body(captured)["amount_captured"].GetInt64() == 7500);
  BOOST_TEST(Body(captured)["status"].GetString() == std::string("succeeded"));

  const size_t captures = stripe.Count("capture");
  auto again = CaptureHold(deps(), as(alpha), Post("{}"), id);
  BOOST_TEST(again.status == 409);
  BOOST_TEST(Body(again)["code"].GetString() == std::string("hold_already_captured"));
  BOOST_TEST(stripe.Count("capture") == captures);  // answered from the terminal cache

  auto got = GetHold(deps(), as(alpha), id);
  BOOST_TEST(Body(got)["amount_captured"].GetInt64() == 7500);
  BOOST_TEST(!Body(got)["captured_at"].IsNull());
}

BOOST_AUTO_TEST_CASE(token_max_tier_is_403_before_the_amount_limit) {
  auto r = CreateHold(deps(), as(beta),
                      Post(R"({"amount":1000001,"description":"x","tier":"PREMIUM_PROPERTY"})"));
  BOOST_TEST(r.status == 403);
  BOOST_TEST(Body(r)["code"].GetString() == std::string("tier_not_allowed"));
  BOOST_TEST(stripe.calls.empty());
}

BOOST_AUTO_TEST_CASE(tier_limits_at_and_over) {
  for (auto [tier, limit] : {std::pair{"NEW_GUEST", 250000}, std::pair{"VERIFIED_GUEST", 500000},
                             std::pair{"PREMIUM_PROPERTY", 1000000}}) {
    const std::string at = R"({"description":"x","tier":")" + std::string(tier) + R"(","amount":)" +
                           std::to_string(limit) + "}";
    BOOST_TEST(CreateHold(deps(), as(alpha), Post(at)).status == 201);
    const std::string over = R"({"description":"x","tier":")" + std::string(tier) +
                             R"(","amount":)" + std::to_string(limit + 1) + "}";
    auto r = CreateHold(deps(), as(alpha), Post(over));
    BOOST_TEST(r.status == 400);
    BOOST_TEST(Body(r)["code"].GetString() == std::string("amount_exceeds_tier_limit"));
  }
  BOOST_TEST(stripe.Count("create") == 3U);
}

BOOST_AUTO_TEST_CASE(jpy_is_refused_until_its_tier_limits_are_configured) {
  const std::string body = R"({"description":"x","currency":"jpy","amount":20000})";
  auto refused = CreateHold(deps(), as(alpha), Post(body));
  BOOST_TEST(refused.status == 400);
  BOOST_TEST(Body(refused)["code"].GetString() == std::string("unsupported_currency"));
  BOOST_TEST(Body(refused)["param"].GetString() == std::string("currency"));
  BOOST_TEST(std::string(Body(refused)["error"].GetString()).find("TIER_LIMITS_JPY") !=
             std::string::npos);
  BOOST_TEST(stripe.calls.empty());

  auto limits = claims::ParseTierLimits(claims::Currency::kJpy, "30000,60000,120000");
  REQUIRE_OK(limits);
  config.tier_limits.by_currency.at(static_cast<size_t>(claims::Currency::kJpy)) = *limits;
  auto created = CreateHold(deps(), as(alpha), Post(body));
  BOOST_TEST(created.status == 201);
  BOOST_TEST(Body(created)["amount"].GetInt64() == 20000);  // whole yen
  BOOST_TEST(Body(created)["currency"].GetString() == std::string("jpy"));
  BOOST_TEST(Body(created)["tier_limit"].GetInt64() == 30000);
  auto over =
      CreateHold(deps(), as(alpha), Post(R"({"description":"x","currency":"jpy","amount":30001})"));
  BOOST_TEST(over.status == 400);
  BOOST_TEST(Body(over)["code"].GetString() == std::string("amount_exceeds_tier_limit"));
  auto under =
      CreateHold(deps(), as(alpha), Post(R"({"description":"x","currency":"jpy","amount":49})"));
  BOOST_TEST(Body(under)["code"].GetString() == std::string("amount_too_small"));
  BOOST_TEST(stripe.Count("create") == 1U);
}

BOOST_AUTO_TEST_CASE(bad_input_calls_nothing) {
  BOOST_TEST(CreateHold(deps(), as(alpha), Post(R"({"amount":49,"description":"x"})")).status ==
             400);
  BOOST_TEST(stripe.calls.empty());
  BOOST_TEST(chittyid.minted == 0);
}

BOOST_AUTO_TEST_CASE(declined_card_is_402_with_id_and_the_intent_is_abandoned) {
  auto r = CreateHold(deps(), as(alpha),
                      Post(R"({"description":"x","payment_method":"pm_card_chargeDeclined"})"));
  BOOST_TEST(r.status == 402);
  auto body = Body(r);
  BOOST_TEST(body["code"].GetString() == std::string("card_declined"));
  const std::string id = body["id"].GetString();
  BOOST_TEST(stripe.intents.at(id).status == "canceled");
  BOOST_TEST(stripe.intents.at(id).cancellation_reason == "abandoned");
}

BOOST_AUTO_TEST_CASE(three_d_secure_is_201_requires_action) {
  auto r =
      CreateHold(deps(), as(alpha),
                 Post(R"({"description":"x","payment_method":"pm_card_authenticationRequired"})"));
  BOOST_TEST(r.status == 201);
  BOOST_TEST(Body(r)["status"].GetString() == std::string("requires_action"));
}

BOOST_AUTO_TEST_CASE(chittyid_down_gives_a_pending_id) {
  chittyid.down = true;
  auto r = CreateHold(deps(), as(alpha), Post(R"({"description":"x"})"));
  BOOST_TEST(r.status == 201);
  BOOST_TEST(std::string(Body(r)["chitty_id"].GetString()).starts_with("CHITTY-AUTH-PENDING-"));
}

BOOST_AUTO_TEST_CASE(a_retried_keyed_create_reuses_the_intent_and_chitty_id) {
  auto first = CreateHold(deps(), as(alpha, "key-1"), Post(R"({"description":"x"})"));
  auto second = CreateHold(deps(), as(alpha, "key-1"), Post(R"({"description":"x"})"));
  BOOST_TEST(Body(first)["id"].GetString() == std::string(Body(second)["id"].GetString()));
  BOOST_TEST(stripe.intents.size() == 1U);
  BOOST_TEST(chittyid.minted == 1);
  BOOST_TEST(stripe.calls[0].key == stripe.calls[1].key);
}

BOOST_AUTO_TEST_CASE(keyed_create_with_memcached_down_is_still_one_intent) {
  store.SetFailing(true);
  auto first = CreateHold(deps(), as(alpha, "key-2"), Post(R"({"description":"x"})"));
  auto second = CreateHold(deps(), as(alpha, "key-2"), Post(R"({"description":"x"})"));
  BOOST_TEST(first.status == 201);
  BOOST_TEST(Body(first)["chitty_id"].GetString() ==
             std::string(Body(second)["chitty_id"].GetString()));
  BOOST_TEST(stripe.intents.size() == 1U);
}

BOOST_AUTO_TEST_CASE(flushed_cache_rebuilds_from_stripe_metadata) {
  const std::string id = Create();
  memory.Delete(HoldKey(id));
  auto got = GetHold(deps(), as(alpha), id);
  BOOST_REQUIRE_EQUAL(got.status, 200);
  BOOST_TEST(Body(got)["property_id"].GetString() == std::string("prop_1"));
  BOOST_TEST(Body(got)["tier"].GetString() == std::string("NEW_GUEST"));
  BOOST_TEST(stripe.Count("retrieve") == 1U);
}

BOOST_AUTO_TEST_CASE(memcached_down_reads_from_stripe) {
  const std::string id = Create();
  store.SetFailing(true);
  BOOST_TEST(GetHold(deps(), as(alpha), id).status == 200);
}

BOOST_AUTO_TEST_CASE(get_by_chitty_id_and_via_search_after_a_flush) {
  const std::string id = Create();
  auto by_chitty = GetHold(deps(), as(alpha), "CHITTY-AUTH-FAKE1");
  BOOST_TEST(Body(by_chitty)["id"].GetString() == id);
  memory.Delete(ChittyKey("CHITTY-AUTH-FAKE1"));
  BOOST_TEST(GetHold(deps(), as(alpha), "CHITTY-AUTH-FAKE1").status == 200);
  BOOST_TEST(stripe.Count("search") == 1U);
}

BOOST_AUTO_TEST_CASE(another_clients_hold_is_404) {
  const std::string id = Create();
  BOOST_TEST(GetHold(deps(), as(beta), id).status == 404);
  BOOST_TEST(CaptureHold(deps(), as(beta), Post("{}"), id).status == 404);
  BOOST_TEST(CancelHold(deps(), as(beta), Post("{}"), id).status == 404);
}

BOOST_AUTO_TEST_CASE(capture_before_confirmation_is_409_not_capturable) {
  const std::string id = Create();
  auto r = CaptureHold(deps(), as(alpha), Post("{}"), id);
  BOOST_TEST(r.status == 409);
  BOOST_TEST(Body(r)["code"].GetString() == std::string("hold_not_capturable"));
  BOOST_TEST(stripe.Count("capture") == 0U);
}

BOOST_AUTO_TEST_CASE(capture_more_than_capturable_is_400) {
  const std::string id = Create();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  now += 5;
  auto r = CaptureHold(deps(), as(alpha), Post(R"({"amount_to_capture":25001})"), id);
  BOOST_TEST(r.status == 400);
  BOOST_TEST(Body(r)["code"].GetString() == std::string("capture_exceeds_capturable"));
}

BOOST_AUTO_TEST_CASE(cancel_then_cancel_again_and_cancel_after_capture) {
  const std::string id = Create();
  auto r = CancelHold(deps(), as(alpha), Post(R"({"reason":"guest left early"})"), id);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(Body(r)["status"].GetString() == std::string("canceled"));
  BOOST_TEST(stripe.intents.at(id).metadata.at("cancel_reason") == "guest left early");
  BOOST_TEST(Body(CancelHold(deps(), as(alpha), Post("{}"), id))["code"].GetString() ==
             std::string("hold_already_canceled"));

  const std::string other = Create();
  REQUIRE_OK(stripe.Confirm(other, "pm_card_visa"));
  now += 5;
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(R"({"reason":"damage"})"), other).status == 200);
  BOOST_TEST(stripe.intents.at(other).metadata.at("capture_reason") == "damage");
  BOOST_TEST(Body(CancelHold(deps(), as(alpha), Post("{}"), other))["code"].GetString() ==
             std::string("hold_already_captured"));
}

BOOST_AUTO_TEST_CASE(stripe_state_conflict_is_named_after_a_reread) {
  const std::string id = Create();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  now += 5;
  // Another worker captured it meanwhile: our cache still says requires_capture.
  BOOST_REQUIRE_EQUAL(GetHold(deps(), as(alpha), id).status, 200);
  stripe.intents.at(id).status = "succeeded";
  stripe.intents.at(id).amount_received = 25000;
  auto r = CaptureHold(deps(), as(alpha), Post("{}"), id);
  BOOST_TEST(r.status == 409);
  BOOST_TEST(Body(r)["code"].GetString() == std::string("hold_already_captured"));
}

BOOST_AUTO_TEST_CASE(identical_captures_share_one_stripe_key) {
  const std::string id = Create();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  now += 5;
  BOOST_REQUIRE_EQUAL(GetHold(deps(), as(alpha), id).status, 200);  // fresh in the cache
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "upstream_error", "Stripe 500");
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(R"({"amount_to_capture":100})"), id).status ==
             502);
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(R"({"amount_to_capture":100})"), id).status ==
             200);
  std::vector<std::string> keys;
  for (const auto& c : stripe.calls) {
    if (c.op == "capture") keys.push_back(c.key);
  }
  BOOST_REQUIRE_EQUAL(keys.size(), 2U);
  BOOST_TEST(keys[0] == keys[1]);
}

BOOST_AUTO_TEST_CASE(list_is_scoped_to_the_client) {
  Create();
  auto r = ListHolds(deps(), as(alpha),
                     http::Request{"GET", "/api/holds", "property_id=prop_1", {}, "", ""});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(Body(r)["data"].Size() == 1U);
  BOOST_TEST(stripe.Count("search") == 0U);  // served from the ledger
  auto bad = ListHolds(deps(), as(alpha),
                       http::Request{"GET", "/api/holds", "property_id=a'b", {}, "", ""});
  BOOST_TEST(bad.status == 400);
  auto bad_limit =
      ListHolds(deps(), as(alpha), http::Request{"GET", "/api/holds", "limit=101", {}, "", ""});
  BOOST_TEST(bad_limit.status == 400);
}

// Regression: a NUL (%00) in a list filter reached the search builder, whose 400 named no
// field.
BOOST_AUTO_TEST_CASE(list_refuses_nul_in_a_filter_and_names_it) {
  for (const char* field : {"property_id", "tenant_id"}) {
    auto r =
        ListHolds(deps(), as(alpha),
                  http::Request{"GET", "/api/holds", std::string(field) + "=p%00", {}, "", ""});
    BOOST_REQUIRE_EQUAL(r.status, 400);
    const auto body = Body(r);
    BOOST_TEST(json::StringMember(body, "param").value_or("") == field);
    BOOST_TEST(json::StringMember(body, "error").value_or("").find("NUL") != std::string::npos);
  }
  BOOST_TEST(stripe.Count("search") == 0U);
}

// Regression: a 600-character property_id was answered "may not contain quotes or
// backslashes"; the filter's limit is create's, 500 characters (not bytes).
BOOST_AUTO_TEST_CASE(list_says_a_filter_is_too_long_and_gives_the_limit) {
  for (const char* field : {"property_id", "tenant_id"}) {
    auto r = ListHolds(
        deps(), as(alpha),
        http::Request{"GET", "/api/holds", field + ("=" + std::string(600, 'p')), {}, "", ""});
    BOOST_REQUIRE_EQUAL(r.status, 400);
    const auto body = Body(r);
    BOOST_TEST(json::StringMember(body, "param").value_or("") == field);
    const std::string message(json::StringMember(body, "error").value_or(""));
    BOOST_TEST(message == std::string(field) + " is longer than 500 characters");
  }
  std::string accented;
  for (int i = 0; i < 500; ++i) accented += "%C3%A9";  // é: 500 characters, 1000 bytes
  auto fits = ListHolds(deps(), as(alpha),
                        http::Request{"GET", "/api/holds", "property_id=" + accented, {}, "", ""});
  BOOST_TEST(fits.status == 200);
}

// A client name is any text but `,` and `:` (CHITTYCHARGE_API_TOKENS); a quote in it used
// to end the search value early, so that client's list came back empty.
BOOST_AUTO_TEST_CASE(list_for_a_client_name_with_a_quote) {
  const config::ClientToken oneil{"o'neil", "tok_o", Tier::kPremiumProperty, 10};
  auto created = CreateHold(deps(), as(oneil), Post(R"({"description":"Deposit"})"));
  BOOST_REQUIRE_EQUAL(created.status, 201);
  Create();  // alpha's
  auto r = ListHolds(deps(), as(oneil), http::Request{"GET", "/api/holds", "", {}, "", ""});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_REQUIRE_EQUAL(Body(r)["data"].Size(), 1U);
  const std::string id = Body(created)["id"].GetString();
  BOOST_TEST(Body(r)["data"][0]["id"].GetString() == id);
  BOOST_TEST(stripe.Count("search") == 0U);
}

// Regression: Stripe's search matches metadata ignoring case, so a client "Alpha" listed
// the holds of "alpha" (config refuses such a pair now; the list checks ownership too).
BOOST_AUTO_TEST_CASE(list_shows_no_hold_of_a_client_whose_name_differs_only_by_case) {
  Create();  // alpha's
  const config::ClientToken upper{"Alpha", "tok_A", Tier::kPremiumProperty, 10};
  auto r = ListHolds(deps(), as(upper), http::Request{"GET", "/api/holds", "", {}, "", ""});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(Body(r)["data"].Size() == 0U);
  BOOST_TEST(!Body(r)["has_more"].GetBool());
}

// Regression: create, browser confirm and capture within one second used to trust the
// stale cached status (compared fetched_at with a whole-second clock).
BOOST_AUTO_TEST_CASE(capture_in_the_same_second_as_the_confirm_rereads_stripe) {
  const std::string id = Create();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post("{}"), id).status == 200);
}

// Regression: next_starting_after was read from a moved-from PaymentIntent.
BOOST_AUTO_TEST_CASE(list_pages_name_the_last_id) {
  Create();
  Create();
  const std::string newest = Create();
  auto r = ListHolds(deps(), as(alpha), http::Request{"GET", "/api/holds", "limit=1", {}, "", ""});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(Body(r)["next_starting_after"].GetString() == newest);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
