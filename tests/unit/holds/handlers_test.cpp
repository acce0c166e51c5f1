#include "holds/handlers.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "claims/claim.h"
#include "claims/currency.h"
#include "core/json.h"
#include "core/time_util.h"
#include "fakes/ports_fixture.h"
#include "holds/hold_repository.h"
#include "holds/journal.h"
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
  // A hold ready to capture, its cache older than the freshness window.
  std::string Authorized(const std::string& body =
                             R"({"amount":25000,"description":"Deposit","property_id":"prop_1"})") {
    const std::string id = Create(body);
    REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
    now += 5;
    return id;
  }
  // The Stripe keys of the capture calls made so far.
  std::vector<std::string> CaptureKeys() const {
    std::vector<std::string> keys;
    for (const auto& c : stripe.calls) {
      if (c.op == "capture") keys.push_back(c.key);
    }
    return keys;
  }
  std::vector<ledger::Event> Trail(const std::string& id) {
    auto page = book.ListEvents(id, "", 100);
    BOOST_REQUIRE(page.has_value());
    return page->data;
  }
};

// Three items: 12000 + 5000 + 2500 = 19500.
constexpr const char* kThreeItems =
    R"({"reason":"checkout inspection","items":[)"
    R"({"description":"Broken lamp","amount":12000,"category":"damage"},)"
    R"({"description":"Deep clean","amount":5000,"category":"cleaning"},)"
    R"({"description":"Key not returned","amount":2500,"category":"fee","evidence":[]}]})";

// `n` items of `amount` each, with an optional extra member before `items`.
std::string ItemsBody(size_t n, int64_t amount, const std::string& extra = {}) {
  std::string body = "{" + extra + R"("items":[)";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) body += ',';
    body += R"({"description":"item )" + std::to_string(i) + R"(","amount":)" +
            std::to_string(amount) + R"(,"category":"other"})";
  }
  return body + "]}";
}

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
  BOOST_TEST(Body(first)["chitty_id"].GetString() ==
             std::string(Body(second)["chitty_id"].GetString()));
  // The retry mints before its intent is looked up (one ledger statement per first attempt)
  // and leaves that id unused.
  BOOST_TEST(chittyid.minted == 2);
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
  BOOST_TEST(stripe.Count("search") == 0U);  // the ledger knows the chitty_id
  ledger.SetFailing(true);                   // without it, Stripe's search finds the hold
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

// CONTRACT.md "Itemized capture": the sum is captured; the claim is on the hold (200, GET,
// list), in the captured event's detail and, summarized, in Stripe's metadata.
BOOST_AUTO_TEST_CASE(an_itemized_capture_captures_the_sum_and_records_the_claim) {
  const std::string id = Authorized();
  auto r = CaptureHold(deps(), as(alpha), Post(kThreeItems), id);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  const auto body = Body(r);
  BOOST_TEST(body["amount_captured"].GetInt64() == 19500);
  BOOST_TEST(stripe.intents.at(id).amount_received == 19500);
  const auto& claim = body["claim"];
  BOOST_REQUIRE(claim.IsObject());
  BOOST_TEST(claim["total"].GetInt64() == 19500);
  BOOST_REQUIRE_EQUAL(claim["items"].Size(), 3U);
  BOOST_TEST(claim["items"][0]["description"].GetString() == std::string("Broken lamp"));
  BOOST_TEST(claim["items"][1]["category"].GetString() == std::string("cleaning"));
  BOOST_TEST(claim["items"][2]["amount"].GetInt64() == 2500);
  BOOST_TEST(claim["items"][2]["evidence"].Size() == 0U);
  BOOST_TEST(claim["captured_at"].GetString() == FormatIso8601(now));
  BOOST_TEST(body["captured_at"].GetString() == FormatIso8601(now));

  const auto& meta = stripe.intents.at(id).metadata;
  BOOST_TEST(meta.at("claim_items") == "3 items: damage 12000, cleaning 5000, fee 2500");
  BOOST_TEST(meta.at("claim_total") == "19500");
  BOOST_TEST(meta.at("capture_reason") == "checkout inspection");
  BOOST_TEST(body["metadata"].MemberCount() == 0U);  // the service's keys are not shown

  auto hold = book.FindHold(id);
  BOOST_REQUIRE(hold->has_value());
  BOOST_TEST((*hold)->claim_json ==
             claims::RenderClaim(*claims::ParseCaptureRequest(kThreeItems)->claim, now));
  const auto trail = Trail(id);
  BOOST_REQUIRE_EQUAL(trail.size(), 2U);  // created, captured (authorized: by the webhook)
  BOOST_TEST(trail[1].type == "captured");
  BOOST_TEST(trail[1].amount.value_or(0) == 19500);
  auto detail = json::ParseStrict(trail[1].detail_json);
  REQUIRE_OK(detail);
  BOOST_TEST((*detail)["reason"].GetString() == std::string("checkout inspection"));
  BOOST_TEST(!detail->HasMember("amount_to_capture"));
  BOOST_TEST((*detail)["claim"]["total"].GetInt64() == 19500);
  BOOST_TEST((*detail)["claim"]["items"].Size() == 3U);
  BOOST_TEST(book.ListPendingIntents(now + 1000, 10)->empty());  // the intent is finished

  memory.Delete(HoldKey(id));  // GET from Stripe: the claim is the ledger's
  auto got = GetHold(deps(), as(alpha), id);
  BOOST_REQUIRE_EQUAL(got.status, 200);
  BOOST_TEST(Body(got)["claim"]["total"].GetInt64() == 19500);
  auto listed = ListHolds(deps(), as(alpha), http::Request{"GET", "/api/holds", "", {}, "", ""});
  BOOST_REQUIRE_EQUAL(listed.status, 200);
  BOOST_TEST(Body(listed)["data"][0]["claim"]["items"].Size() == 3U);
}

BOOST_AUTO_TEST_CASE(a_plain_capture_has_no_claim) {
  const std::string id = Authorized();
  auto r = CaptureHold(deps(), as(alpha), Post(R"({"amount_to_capture":7500})"), id);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(Body(r)["claim"].IsNull());
  BOOST_TEST(!stripe.intents.at(id).metadata.contains("claim_items"));
  BOOST_TEST((*book.FindHold(id))->claim_json.empty());
  BOOST_TEST(Trail(id).back().detail_json == R"({"amount_to_capture":7500})");
}

// Every refusal of the contract's list: the 400, no Stripe call, nothing recorded.
struct Refusal {
  const char* name;
  std::string body;
  int status;
  const char* code;
  const char* param;
};

BOOST_AUTO_TEST_CASE(refused_captures_call_no_stripe_and_record_nothing) {
  const std::vector<Refusal> refusals = {
      {"amount_to_capture differs from the sum", ItemsBody(3, 100, R"("amount_to_capture":301,)"),
       400, "invalid_request", "items"},
      {"sum over capturable", ItemsBody(2, 12501), 400, "capture_exceeds_capturable", "items"},
      {"sum under usd's minimum", ItemsBody(3, 10), 400, "amount_too_small", "items"},
      {"evidence not this hold's",
       R"({"items":[{"description":"Lamp","amount":5000,"category":"damage",)"
       R"("evidence":["file_1Unknown"]}]})",
       400, "invalid_request", "items"},
      {"51 items", ItemsBody(51, 100), 400, "invalid_request", "items"},
      {"no items", R"({"items":[]})", 400, "invalid_request", "items"},
      {"a malformed item", R"({"items":[{"description":"x","amount":1.5,"category":"fee"}]})", 400,
       "invalid_request", "items"},
      {"plain amount under the minimum", R"({"amount_to_capture":49})", 400, "amount_too_small",
       "amount_to_capture"},
      {"plain amount over capturable", R"({"amount_to_capture":25001})", 400,
       "capture_exceeds_capturable", "amount_to_capture"},
  };
  const std::string id = Authorized();
  for (const auto& c : refusals) {
    BOOST_TEST_CONTEXT(c.name) {
      for (const std::string& key : {std::string(), "key-" + std::string(c.name)}) {
        auto r = CaptureHold(deps(), as(alpha, key), Post(c.body), id);
        BOOST_TEST(r.status == c.status);
        const auto body = Body(r);
        BOOST_TEST(json::StringMember(body, "code").value_or("") == c.code);
        BOOST_TEST(json::StringMember(body, "param").value_or("") == c.param);
      }
    }
  }
  BOOST_TEST(stripe.Count("capture") == 0U);
  BOOST_TEST(stripe.intents.at(id).status == "requires_capture");
  BOOST_TEST(book.ListPendingIntents(now + 1000, 100)->empty());  // no capture intent begun
  BOOST_TEST((*book.FindHold(id))->claim_json.empty());
  BOOST_TEST(Trail(id).size() == 1U);  // created
  // The same hold still captures a valid claim afterwards.
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(ItemsBody(3, 100)), id).status == 200);
}

BOOST_AUTO_TEST_CASE(the_minimum_is_the_currencys) {
  const std::string gbp = Authorized(R"({"amount":5000,"currency":"gbp","description":"x"})");
  auto small = CaptureHold(deps(), as(alpha), Post(ItemsBody(2, 14)), gbp);  // 28 < 30
  BOOST_TEST(small.status == 400);
  BOOST_TEST(Body(small)["code"].GetString() == std::string("amount_too_small"));
  auto ok = CaptureHold(deps(), as(alpha), Post(ItemsBody(3, 10)), gbp);  // 30: gbp's minimum
  BOOST_REQUIRE_EQUAL(ok.status, 200);
  BOOST_TEST(Body(ok)["amount_captured"].GetInt64() == 30);
}

// The claim is on disk before Stripe is called: a capture whose Stripe call failed has
// its claim in the pending intent, and nothing on the hold.
BOOST_AUTO_TEST_CASE(the_claim_is_in_the_intent_before_stripe_is_called) {
  const std::string id = Authorized();
  BOOST_REQUIRE_EQUAL(GetHold(deps(), as(alpha), id).status, 200);  // fresh in the cache
  stripe.fail_next = MakeError(ErrorKind::kDeadlineExceeded, "upstream_timeout", "slow");
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(kThreeItems), id).status == 504);
  BOOST_TEST(stripe.Count("capture") == 1U);  // the POST went out (and its answer was lost)
  auto pending = book.ListPendingIntents(now + 1000, 10);
  REQUIRE_OK(pending);
  const auto intent = std::find_if(pending->begin(), pending->end(),
                                   [](const auto& i) { return i.operation == "capture"; });
  BOOST_REQUIRE(intent != pending->end());
  BOOST_TEST(intent->hold_id == id);
  const std::string claim = IntentClaimJson(intent->request_json, 42);
  BOOST_TEST(claim == claims::RenderClaim(*claims::ParseCaptureRequest(kThreeItems)->claim, 42));
  BOOST_TEST(IntentField(intent->request_json, "reason") == "checkout inspection");
  BOOST_TEST(IntentField(intent->request_json, "actor") == "client:alpha");
  BOOST_TEST((*book.FindHold(id))->claim_json.empty());
  BOOST_TEST(Trail(id).size() == 1U);
  // The retry goes out under the same Stripe key and records the claim.
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(kThreeItems), id).status == 200);
  const auto keys = CaptureKeys();
  BOOST_REQUIRE_EQUAL(keys.size(), 2U);
  BOOST_TEST(keys[0] == keys[1]);
  BOOST_TEST(!(*book.FindHold(id))->claim_json.empty());
}

BOOST_AUTO_TEST_CASE(a_keyed_itemized_capture_replays_and_other_items_under_its_key_are_422) {
  const std::string id = Authorized();
  auto first = CaptureHold(deps(), as(alpha, "cap-1"), Post(kThreeItems), id);
  BOOST_REQUIRE_EQUAL(first.status, 200);
  now += 3;
  memory.Delete(HoldKey(id));  // even with the cache lost
  auto again = CaptureHold(deps(), as(alpha, "cap-1"), Post(kThreeItems), id);
  BOOST_REQUIRE_EQUAL(again.status, 200);
  BOOST_TEST(Body(again)["amount_captured"].GetInt64() == 19500);
  BOOST_TEST(Body(again)["claim"]["total"].GetInt64() == 19500);
  // The first claim stays, its capture time with it.
  BOOST_TEST(Body(again)["claim"]["captured_at"].GetString() ==
             std::string(Body(first)["claim"]["captured_at"].GetString()));
  const auto keys = CaptureKeys();
  BOOST_REQUIRE_EQUAL(keys.size(), 2U);
  BOOST_TEST(keys[0] == keys[1]);  // Stripe replayed its answer
  BOOST_TEST(Trail(id).size() == 2U);

  auto other = CaptureHold(deps(), as(alpha, "cap-1"), Post(ItemsBody(2, 100)), id);
  BOOST_TEST(other.status == 422);
  BOOST_TEST(Body(other)["code"].GetString() == std::string("idempotency_key_reused"));
  BOOST_TEST(stripe.Count("capture") == 2U);
}

BOOST_AUTO_TEST_CASE(unkeyed_captures_with_other_items_use_other_stripe_keys) {
  const std::string id = Authorized();
  BOOST_REQUIRE_EQUAL(GetHold(deps(), as(alpha), id).status, 200);  // fresh in the cache
  // Same total (300), same reason, other items: not the same Stripe operation.
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "upstream_error", "Stripe 500");
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(ItemsBody(3, 100)), id).status == 502);
  BOOST_TEST(CaptureHold(deps(), as(alpha), Post(ItemsBody(2, 150)), id).status == 200);
  const auto keys = CaptureKeys();
  BOOST_REQUIRE_EQUAL(keys.size(), 2U);
  BOOST_TEST(keys[0] != keys[1]);
  BOOST_TEST(Body(GetHold(deps(), as(alpha), id))["claim"]["items"].Size() == 2U);
}

BOOST_AUTO_TEST_CASE(an_itemized_capture_with_the_ledger_down_is_503_before_stripe) {
  const std::string id = Authorized();
  ledger.SetFailing(true);
  auto r = CaptureHold(deps(), as(alpha), Post(kThreeItems), id);
  BOOST_TEST(r.status == 503);
  BOOST_TEST(stripe.Count("capture") == 0U);
  ledger.SetFailing(false);
  BOOST_TEST((*book.FindHold(id))->claim_json.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
