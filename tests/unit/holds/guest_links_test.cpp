// Guest links (holds::CreateGuestLink, ServeGuestPage, GetGuestHold, AcceptGuestDisclosure):
// the link's token is the only credential, stored hashed, scoped to one hold, expiring.
#include <boost/test/unit_test.hpp>

#include "claims/disclosure.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/time_util.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "test_util.h"

namespace cc::holds {
namespace {

struct Fixture : testing::PortsFixture {
  int64_t now = 1767225600;

  Fixture() {
    config.public_url = "https://pay.example.com";
    config.stripe_publishable_key = "pk_test_sandbox";
  }
  http::Caller as(const config::ClientToken& c) { return http::Caller{c, {}, now, "req-guest"}; }
  static http::Request Post(std::string body) {
    http::Request r;
    r.method = "POST";
    r.headers.emplace_back("content-type", "application/json");
    r.headers.emplace_back("user-agent", "Mozilla/5.0 (Phone)\x01");
    r.body = std::move(body);
    return r;
  }
  static rapidjson::Document Body(const http::Response& r) {
    auto doc = json::ParseStrict(r.body);
    BOOST_REQUIRE(doc.has_value());
    return std::move(*doc);
  }
  std::string Created(const std::string& body = R"({"amount":25000,"description":"Deposit",)"
                                                R"("property_id":"Lake House"})") {
    auto created = CreateHold(deps(), as(alpha), Post(body));
    BOOST_REQUIRE_EQUAL(created.status, 201);
    return Body(created)["id"].GetString();
  }
  // The token of a new link to the hold.
  std::string Link(const std::string& id) {
    auto made = CreateGuestLink(deps(), as(alpha), id);
    BOOST_REQUIRE_EQUAL(made.status, 201);
    const std::string url = Body(made)["url"].GetString();
    const std::string prefix = "https://pay.example.com/pay/";
    BOOST_REQUIRE(url.starts_with(prefix));
    return url.substr(prefix.size());
  }
  http::Response Accept(const std::string& token, const std::string& version) {
    return AcceptGuestDisclosure(deps(), Post(R"({"disclosure_version":")" + version + "\"}"),
                                 token, now, "req-accept");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(holds_guest_links, Fixture)

BOOST_AUTO_TEST_CASE(a_link_is_random_expires_after_the_ttl_and_only_its_hash_is_kept) {
  const std::string id = Created();
  auto made = CreateGuestLink(deps(), as(alpha), id);
  BOOST_REQUIRE_EQUAL(made.status, 201);
  auto body = Body(made);
  BOOST_TEST(std::string(body["expires_at"].GetString()) == FormatIso8601(now + 72 * 3600));
  BOOST_TEST(std::string(body["hold_id"].GetString()) == id);
  const std::string token = Link(id);
  BOOST_TEST(token.size() == 64U);  // 256 bits, hex
  BOOST_TEST(token != Link(id));    // every link its own token
  auto kept = book.FindGuestLink(crypto::Sha256Hex(token));
  REQUIRE_OK(kept);
  BOOST_REQUIRE(kept->has_value());
  BOOST_TEST((*kept)->hold_id == id);
  auto by_token = book.FindGuestLink(token);  // the token itself is not a key
  REQUIRE_OK(by_token);
  BOOST_TEST(!by_token->has_value());

  BOOST_TEST(GetGuestHold(deps(), token, now + 72 * 3600 - 1).status == 200);
  auto expired = GetGuestHold(deps(), token, now + 72 * 3600);
  BOOST_TEST(expired.status == 404);
  BOOST_TEST(std::string(Body(expired)["code"].GetString()) == "not_found");
  BOOST_TEST(ServeGuestPage(deps(), token, now + 72 * 3600).status == 404);
  now += 72 * 3600;
  BOOST_TEST(Accept(token, std::string(claims::CurrentDisclosure().version)).status == 404);
}

BOOST_AUTO_TEST_CASE(only_the_owner_makes_links) {
  const std::string id = Created();
  auto other = CreateGuestLink(deps(), as(beta), id);
  BOOST_TEST(other.status == 404);
  BOOST_TEST(CreateGuestLink(deps(), as(alpha), "pi_nope").status == 404);
  ledger.SetFailing(true);
  BOOST_TEST(CreateGuestLink(deps(), as(alpha), id).status == 503);
}

BOOST_AUTO_TEST_CASE(unknown_tampered_and_malformed_tokens_are_not_found) {
  const std::string token = Link(Created());
  std::string tampered = token;
  tampered[0] = tampered[0] == 'a' ? 'b' : 'a';
  for (const std::string& bad :
       {tampered, token.substr(1), std::string("../../etc"), std::string(64, 'A'), std::string()}) {
    BOOST_TEST(GetGuestHold(deps(), bad, now).status == 404);
    BOOST_TEST(ServeGuestPage(deps(), bad, now).status == 404);
  }
  auto page = ServeGuestPage(deps(), token, now);
  BOOST_TEST(page.status == 200);
  BOOST_REQUIRE_EQUAL(page.headers.size(), 1U);
  BOOST_TEST(page.headers[0].first == "X-Accel-Redirect");
  BOOST_TEST(page.headers[0].second == std::string(kGuestPageFile));
}

BOOST_AUTO_TEST_CASE(the_page_reads_the_terms_the_rendered_disclosure_and_the_client_secret) {
  const std::string id = Created();
  const std::string token = Link(id);
  auto answer = GetGuestHold(deps(), token, now);
  BOOST_REQUIRE_EQUAL(answer.status, 200);
  auto body = Body(answer);
  BOOST_TEST(std::string(body["hold_id"].GetString()) == id);
  BOOST_TEST(std::string(body["status"].GetString()) == "requires_payment_method");
  BOOST_TEST(body["amount"].GetInt64() == 25000);
  BOOST_TEST(std::string(body["currency"].GetString()) == "usd");
  BOOST_TEST(std::string(body["description"].GetString()) == "Deposit");
  BOOST_TEST(std::string(body["property_id"].GetString()) == "Lake House");
  const auto& current = claims::CurrentDisclosure();
  BOOST_TEST(body["disclosure"]["version"].GetString() == current.version);
  const std::string text = body["disclosure"]["text"].GetString();
  BOOST_TEST(text.find("$250.00") != std::string::npos);
  BOOST_TEST(text.find("Lake House") != std::string::npos);
  BOOST_TEST(std::string(body["client_secret"].GetString()) == id + "_secret_x");
  BOOST_TEST(body["setup_client_secret"].IsNull());
  BOOST_TEST(std::string(body["publishable_key"].GetString()) == "pk_test_sandbox");

  stripe.intents.at(id).status = "requires_capture";  // the guest confirmed the card
  body = Body(GetGuestHold(deps(), token, now));
  BOOST_TEST(std::string(body["status"].GetString()) == "requires_capture");
  BOOST_TEST(body["client_secret"].IsNull());  // nothing left to confirm: no card form
}

BOOST_AUTO_TEST_CASE(a_scheduled_holds_link_carries_the_setup_client_secret) {
  const std::string id =
      Created(R"({"amount":5000,"description":"Stay","customer_email":"g@example.com",)"
              R"("authorize_at":")" +
              FormatIso8601(now + 10 * 86400) + "\"}");
  const std::string token = Link(id);
  auto body = Body(GetGuestHold(deps(), token, now));
  BOOST_TEST(std::string(body["status"].GetString()) == "scheduled");
  BOOST_TEST(body["client_secret"].IsNull());
  BOOST_TEST(std::string(body["setup_client_secret"].GetString()) == id + "_secret_y");
  stripe.SaveCard(id, "pm_card_visa");
  body = Body(GetGuestHold(deps(), token, now));
  BOOST_TEST(body["setup_client_secret"].IsNull());  // the card is saved
}

BOOST_AUTO_TEST_CASE(accepting_records_the_disclosure_and_its_event_once) {
  const std::string id = Created();
  const std::string token = Link(id);
  const std::string version(claims::CurrentDisclosure().version);
  auto outdated = Accept(token, "2000-01-01");
  BOOST_TEST(outdated.status == 409);
  BOOST_TEST(std::string(Body(outdated)["code"].GetString()) == "disclosure_outdated");
  BOOST_TEST(AcceptGuestDisclosure(deps(), Post(R"({"version":"x"})"), token, now, "r").status ==
             400);
  BOOST_TEST(AcceptGuestDisclosure(deps(), Post("[]"), token, now, "r").status == 400);
  BOOST_TEST(book.FindHold(id)->value().disclosure_json.empty());  // nothing recorded yet

  auto accepted = Accept(token, version);
  BOOST_REQUIRE_MESSAGE(accepted.status == 200, accepted.body);
  const std::string expected =
      R"({"version":")" + version + R"(","accepted_at":")" + FormatIso8601(now) + "\"}";
  BOOST_TEST(book.FindHold(id)->value().disclosure_json == expected);
  BOOST_TEST(accepted.body == R"({"hold_id":")" + id + R"(","disclosure":)" + expected + "}");
  auto events = book.ListEvents(id, "", 100);
  REQUIRE_OK(events);
  const auto& e = events->data.back();
  BOOST_TEST(e.type == "disclosure_accepted");
  BOOST_TEST(e.actor == "guest");
  BOOST_TEST(e.request_id == "req-accept");
  BOOST_TEST(e.detail_json ==
             R"({"version":")" + version + R"(","user_agent":"Mozilla/5.0 (Phone)?"})");

  now += 60;  // a retry after a decline: the first acceptance stays, no second event
  auto again = Accept(token, version);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.body == accepted.body);
  BOOST_TEST(book.ListEvents(id, "", 100)->data.size() == events->data.size());
}

BOOST_AUTO_TEST_CASE(a_down_ledger_records_nothing_and_says_so) {
  const std::string token = Link(Created());
  ledger.SetFailing(true);
  BOOST_TEST(GetGuestHold(deps(), token, now).status == 503);
  BOOST_TEST(Accept(token, std::string(claims::CurrentDisclosure().version)).status == 503);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
