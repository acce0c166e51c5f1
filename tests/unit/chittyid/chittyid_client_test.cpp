// Tests for chittyid/chittyid_client.h over a scripted transport.
#include "chittyid/chittyid_client.h"

#include <rapidjson/document.h>

#include <string>

#include "chittyid/pending_id.h"
#include "fakes/scripted_transport.h"
#include "test_util.h"

namespace cc::chittyid {
namespace {

using httpclient::HttpRequest;
using testing::RequestHeader;
using testing::ScriptedTransport;

struct Fixture {
  ScriptedTransport transport;
  ChittyIdClient client{transport, {"https://id.example/", "tok_secret", 2000}};
};

bool KindIs(const Error& e, ErrorKind kind) { return e.kind == kind; }

BOOST_AUTO_TEST_SUITE(chittyid_chittyid_client)

BOOST_FIXTURE_TEST_CASE(mint_sends_bearer_and_json_body, Fixture) {
  transport.Respond(201, R"({"chitty_id":"CHITTY-AUTH-0001-XYZ"})");
  auto id = client.MintAuth({{"property_id", "prop_1"}, {"note", "a \"quoted\" value"}});
  REQUIRE_OK(id);
  BOOST_TEST(*id == "CHITTY-AUTH-0001-XYZ");

  BOOST_REQUIRE(transport.requests().size() == 1U);
  const HttpRequest& r = transport.requests()[0];
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.url == "https://id.example/v1/mint");
  BOOST_TEST(RequestHeader(r, "Authorization") == "Bearer tok_secret");
  BOOST_TEST(RequestHeader(r, "Content-Type") == "application/json");
  BOOST_TEST(r.timeout_ms == 2000);
  BOOST_TEST(r.connect_timeout_ms <= 2000);

  rapidjson::Document body;
  body.Parse(r.body.c_str());
  BOOST_REQUIRE(!body.HasParseError() && body.IsObject());
  BOOST_TEST(std::string(body["entity_type"].GetString()) == "AUTH");
  BOOST_REQUIRE(body["metadata"].IsObject());
  BOOST_TEST(std::string(body["metadata"]["property_id"].GetString()) == "prop_1");
  BOOST_TEST(std::string(body["metadata"]["note"].GetString()) == "a \"quoted\" value");
}

BOOST_FIXTURE_TEST_CASE(mint_503_is_unavailable, Fixture) {
  transport.Respond(503, R"({"error":"down"})");
  auto id = client.MintAuth({});
  REQUIRE_ERROR(id);
  BOOST_TEST(KindIs(id.error(), ErrorKind::kUnavailable));
  BOOST_TEST(id.error().message.find("tok_secret") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(mint_504_is_deadline_and_401_is_upstream, Fixture) {
  transport.Respond(504, "");
  transport.Respond(401, R"({"error":"bad token"})");
  auto timed_out = client.MintAuth({});
  REQUIRE_ERROR(timed_out);
  BOOST_TEST(KindIs(timed_out.error(), ErrorKind::kDeadlineExceeded));
  auto refused = client.MintAuth({});
  REQUIRE_ERROR(refused);
  BOOST_TEST(KindIs(refused.error(), ErrorKind::kUpstream));
}

BOOST_FIXTURE_TEST_CASE(mint_bad_answers_are_upstream_errors, Fixture) {
  for (const char* body :
       {"not json", "[]", "{}", R"({"chitty_id":42})", R"({"chitty_id":"AUTH-1"})",
        R"({"chitty_id":"CHITTY-A B"})", R"({"chitty_id":"CHITTY-AUTH-1"} trailing)"}) {
    transport.Respond(200, body);
    auto id = client.MintAuth({});
    BOOST_TEST_INFO("body: " << body);
    REQUIRE_ERROR(id);
    BOOST_TEST(KindIs(id.error(), ErrorKind::kUpstream));
  }
}

BOOST_FIXTURE_TEST_CASE(mint_overlong_id_is_refused, Fixture) {
  transport.Respond(200, R"({"chitty_id":"CHITTY-)" + std::string(200, 'A') + "\"}");
  BOOST_TEST(!client.MintAuth({}));
}

BOOST_FIXTURE_TEST_CASE(transport_timeout_passes_through, Fixture) {
  transport.FailWith(ErrorKind::kDeadlineExceeded, "timed out");
  auto id = client.MintAuth({});
  REQUIRE_ERROR(id);
  BOOST_TEST(KindIs(id.error(), ErrorKind::kDeadlineExceeded));
  BOOST_TEST(id.error().message == "timed out");
}

BOOST_FIXTURE_TEST_CASE(health_is_a_get_of_health, Fixture) {
  transport.Respond(200, R"({"status":"ok"})");
  REQUIRE_OK(client.Health());
  BOOST_TEST(transport.requests()[0].method == "GET");
  BOOST_TEST(transport.requests()[0].url == "https://id.example/health");
  BOOST_TEST(RequestHeader(transport.requests()[0], "Authorization") == "Bearer tok_secret");
}

BOOST_FIXTURE_TEST_CASE(health_errors, Fixture) {
  transport.Respond(500, "");
  transport.FailWith(ErrorKind::kUnavailable, "refused");
  const auto answered_500 = client.Health();
  REQUIRE_ERROR(answered_500);
  BOOST_TEST(KindIs(answered_500.error(), ErrorKind::kUpstream));
  const auto unreachable = client.Health();
  REQUIRE_ERROR(unreachable);
  BOOST_TEST(KindIs(unreachable.error(), ErrorKind::kUnavailable));
}

BOOST_AUTO_TEST_CASE(pending_id_is_upper_case_and_sanitised) {
  BOOST_TEST(PendingChittyId("ab12cd") == "CHITTY-AUTH-PENDING-AB12CD");
  BOOST_TEST(PendingChittyId("a b/\xc3\xa9") == "CHITTY-AUTH-PENDING-A-B---");
  BOOST_TEST(PendingChittyId(std::string(100, 'f')).size() == kPendingPrefix.size() + 64);
  BOOST_TEST(IsPendingChittyId(PendingChittyId("x")));
  BOOST_TEST(!IsPendingChittyId("CHITTY-AUTH-0001"));
}

BOOST_AUTO_TEST_CASE(pending_unique_from_key_is_stable_and_random_is_not) {
  BOOST_TEST(PendingUniqueFromKey("idem-1") == PendingUniqueFromKey("idem-1"));
  BOOST_TEST(PendingUniqueFromKey("idem-1") != PendingUniqueFromKey("idem-2"));
  BOOST_TEST(PendingUniqueFromKey("idem-1").size() == 24U);
  BOOST_TEST(RandomPendingUnique() != RandomPendingUnique());
  BOOST_TEST(RandomPendingUnique().size() == 24U);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::chittyid
