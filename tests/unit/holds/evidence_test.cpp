// POST/GET /api/holds/:id/evidence (holds::UploadEvidence, ListEvidence), the claim check
// against the hold's files, and the create's disclosure on the hold.
#include <boost/test/unit_test.hpp>

#include "core/json.h"
#include "fakes/ports_fixture.h"
#include "holds/handlers.h"
#include "test_util.h"

namespace cc::holds {
namespace {

const std::string kPng("\x89PNG\r\n\x1a\n-evidence", 17);

struct Fixture : testing::PortsFixture {
  int64_t now = 1767225600;

  http::Caller as(const config::ClientToken& c, std::string key = {}) {
    return http::Caller{c, std::move(key), now, "req-evidence"};
  }
  static http::Request Post(std::string body, std::string query = {},
                            std::string content_type = "application/json") {
    http::Request r;
    r.method = "POST";
    r.query = std::move(query);
    r.headers.emplace_back("content-type", std::move(content_type));
    r.body = std::move(body);
    return r;
  }
  static rapidjson::Document Body(const http::Response& r) {
    auto doc = json::ParseStrict(r.body);
    BOOST_REQUIRE(doc.has_value());
    return std::move(*doc);
  }
  std::string Created(const std::string& body = R"({"amount":25000,"description":"Deposit"})") {
    auto created = CreateHold(deps(), as(alpha), Post(body));
    BOOST_REQUIRE_EQUAL(created.status, 201);
    return Body(created)["id"].GetString();
  }
  http::Response Upload(const std::string& id, const std::string& name = "lamp.png",
                        const std::string& bytes = kPng) {
    return UploadEvidence(deps(), as(alpha), Post(bytes, "filename=" + name, "image/png"), id);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(holds_evidence, Fixture)

BOOST_AUTO_TEST_CASE(an_upload_is_stored_at_stripe_recorded_with_its_event_and_listed) {
  const std::string id = Created();
  auto answer = Upload(id);
  BOOST_REQUIRE_EQUAL(answer.status, 201);
  auto body = Body(answer);
  const std::string file = body["id"].GetString();
  BOOST_TEST(stripe.file_bytes.at(file) == kPng);
  BOOST_TEST(std::string(body["type"].GetString()) == "image/png");
  BOOST_TEST(body["size"].GetInt64() == 17);
  auto rows = book.ListEvidence(id);
  REQUIRE_OK(rows);
  BOOST_REQUIRE_EQUAL(rows->size(), 1U);
  BOOST_TEST((*rows)[0].filename == "lamp.png");
  auto events = book.ListEvents(id, "", 100);
  BOOST_TEST(events->data.back().type == "evidence_added");
  auto intent = book.ListPendingIntents(now + 1000, 10);
  BOOST_TEST(intent->empty());  // finished
  auto list = ListEvidence(deps(), as(alpha), id);
  BOOST_REQUIRE_EQUAL(list.status, 200);
  BOOST_TEST(list.body == R"({"data":[)" + answer.body + R"(],"has_more":false})");

  auto again = Upload(id);  // the same upload: the same Stripe key, file and answer
  BOOST_TEST(again.status == 201);
  BOOST_TEST(again.body == answer.body);
  BOOST_TEST(book.ListEvidence(id)->size() == 1U);
  BOOST_TEST(stripe.file_bytes.size() == 1U);
}

BOOST_AUTO_TEST_CASE(refusals_and_a_down_ledger_call_no_stripe) {
  const std::string id = Created();
  BOOST_TEST(
      UploadEvidence(deps(), as(beta), Post(kPng, "filename=a.png", "image/png"), id).status ==
      404);
  BOOST_TEST(Upload(id, "a.pdf", "%PDF-1.4").status == 400);  // declared PNG, bytes PDF
  BOOST_TEST(Upload(id, "").status == 400);
  ledger.SetFailing(true);
  BOOST_TEST(Upload(id).status == 503);
  BOOST_TEST(ListEvidence(deps(), as(alpha), id).status == 503);
  ledger.SetFailing(false);
  BOOST_TEST(stripe.Count("file") == 0U);
}

BOOST_AUTO_TEST_CASE(a_stripe_failure_records_no_file_and_leaves_the_intent_pending) {
  const std::string id = Created();
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "upstream_error", "Stripe 500");
  BOOST_TEST(Upload(id).status == 502);
  BOOST_TEST(book.ListEvidence(id)->empty());
  BOOST_TEST(book.ListPendingIntents(now + 1000, 10)->size() == 1U);
  BOOST_TEST(Upload(id).status == 201);  // the retry records it
  BOOST_TEST(book.ListEvidence(id)->size() == 1U);
}

BOOST_AUTO_TEST_CASE(claim_items_may_cite_only_the_holds_own_files) {
  const std::string other = Created();
  const std::string theirs = Body(Upload(other, "theirs.png"))["id"].GetString();
  const std::string id = Created();
  const std::string ours = Body(Upload(id, "ours.png"))["id"].GetString();
  REQUIRE_OK(stripe.Confirm(id, "pm_card_visa"));
  auto item = [](const std::string& file) {
    return R"({"items":[{"description":"Lamp","amount":1200,"category":"damage","evidence":[")" +
           file + R"("]}]})";
  };
  auto refused = CaptureHold(deps(), as(alpha), Post(item(theirs)), id);
  BOOST_TEST(refused.status == 400);
  BOOST_TEST(std::string(Body(refused)["param"].GetString()) == "items");
  BOOST_TEST(stripe.Count("capture") == 0U);
  auto captured = CaptureHold(deps(), as(alpha), Post(item(ours)), id);
  BOOST_TEST(captured.status == 200);
  BOOST_TEST(stripe.Count("capture") == 1U);
}

BOOST_AUTO_TEST_CASE(the_disclosure_is_kept_on_the_hold_and_shown) {
  const std::string id =
      Created(R"({"amount":25000,"description":"Deposit","disclosure":{"version":"2026-12-01",)"
              R"("accepted_at":"2026-01-01T00:00:00Z"}})");
  const std::string kept = R"({"version":"2026-12-01","accepted_at":"2026-01-01T00:00:00Z"})";
  auto hold = book.FindHold(id);
  BOOST_TEST((*hold)->disclosure_json == kept);
  auto got = GetHold(deps(), as(alpha), id);
  BOOST_TEST(got.body.find(R"("disclosure":)" + kept) != std::string::npos);
  auto future = CreateHold(
      deps(), as(alpha),
      Post(R"({"amount":25000,"description":"Deposit","disclosure":{"version":"2026-12-01",)"
           R"("accepted_at":"2027-01-01T00:00:00Z"}})"));
  BOOST_TEST(future.status == 400);
  BOOST_TEST(stripe.Count("create") == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::holds
