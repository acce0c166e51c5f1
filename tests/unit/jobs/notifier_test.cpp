// Tests for jobs/notifier.h: one pass of the sender over the in-memory ledger, the fake
// Stripe and a scripted transport, with a fake clock: what is POSTed (URL, headers, body,
// signature), per-hold order, retries and their schedule, giving up after 3 days, and
// what a pass lets go untried.
#include "jobs/notifier.h"

#include <boost/test/unit_test.hpp>
#include <vector>

#include "core/crypto.h"
#include "core/json.h"
#include "fakes/ports_fixture.h"
#include "fakes/scripted_transport.h"
#include "holds/handlers.h"
#include "holds/hold_repository.h"
#include "notify/notification.h"
#include "test_util.h"

namespace cc::jobs {
namespace {

constexpr const char* kUrl = "https://hooks.alpha.test/chittycharge";

struct Fixture : testing::PortsFixture {
  int64_t now = 1767225600;
  testing::ScriptedTransport transport;
  NotifierOptions options;

  Fixture() {
    config.clients = {alpha, beta};
    config.client_webhooks = {{"alpha", kUrl}};
    config.notify_secrets = {"notify_secret_new_0001", "notify_secret_old_0001"};
    options.clock = [this] { return now; };
    // As each worker does at start: alpha's events are queued from now on.
    BOOST_REQUIRE(SyncNotificationClients(config, ledger).has_value());
  }

  http::Caller as(const config::ClientToken& c) { return http::Caller{c, "", now, "req-test"}; }
  std::string Create(const config::ClientToken& c = {}) {
    const config::ClientToken& who = c.name.empty() ? alpha : c;
    http::Request r{"POST", "/api/holds", "", {}, R"({"amount":5000,"description":"stay"})", ""};
    auto created = holds::CreateHold(deps(), as(who), r);
    BOOST_REQUIRE_EQUAL(created.status, 201);
    auto doc = json::ParseStrict(created.body);
    return (*doc)["id"].GetString();
  }
  void Capture(const std::string& id) {
    BOOST_REQUIRE(stripe.Confirm(id, "pm_card_visa").has_value());
    now += 5;
    http::Request r{"POST", "/api/holds/" + id + "/capture", "", {}, "{}", ""};
    BOOST_REQUIRE_EQUAL(holds::CaptureHold(deps(), as(alpha), r, id).status, 200);
  }
  NotifyReport Pass() { return SendNotifications(deps(), transport, options); }
  // The JSON bodies POSTed so far, from request `from` on.
  std::vector<rapidjson::Document> Sent(size_t from = 0) {
    std::vector<rapidjson::Document> out;
    for (size_t i = from; i < transport.requests().size(); ++i) {
      auto doc = json::ParseStrict(transport.requests()[i].body);
      BOOST_REQUIRE_MESSAGE(doc.has_value(), transport.requests()[i].body);
      out.push_back(std::move(*doc));
    }
    return out;
  }
  static std::string Str(const rapidjson::Value& v, const char* key) { return v[key].GetString(); }
  ledger::Notification Failed(size_t i = 0) {
    auto page = book.ListFailedNotifications("alpha", "", 100);
    BOOST_REQUIRE(page.has_value());
    BOOST_REQUIRE(page->data.size() > i);
    return page->data[i];
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(jobs_notifier, Fixture)

BOOST_AUTO_TEST_CASE(sends_a_holds_events_in_order_signed_with_every_secret) {
  const std::string id = Create();
  Capture(id);
  transport.Respond(200, "").Respond(204, "");
  now += 1;
  auto report = Pass();
  BOOST_TEST(report.delivered == 2);
  BOOST_TEST(report.failed == 0);
  BOOST_REQUIRE_EQUAL(transport.requests().size(), 2U);
  auto sent = Sent();
  BOOST_TEST(Str(sent[0], "type") == "hold.created");
  BOOST_TEST(Str(sent[1], "type") == "hold.captured");
  BOOST_TEST(Str(sent[0]["data"]["hold"], "id") == id);
  BOOST_TEST(Str(sent[1]["data"]["hold"], "status") == "succeeded");  // as GET shows it now
  BOOST_TEST(Str(sent[1]["data"]["event"], "status_after") == "succeeded");
  BOOST_TEST(Str(sent[1]["data"]["event"], "actor") == "client:alpha");
  BOOST_TEST(Str(sent[0], "id").starts_with("ntf_"));
  for (size_t i = 0; i < 2; ++i) {
    const auto& request = transport.requests()[i];
    BOOST_TEST(request.method == "POST");
    BOOST_TEST(request.url == kUrl);
    BOOST_TEST(request.timeout_ms == 10000);
    BOOST_TEST(testing::RequestHeader(request, "Content-Type") == "application/json");
    // t=<now>,v1=<HMAC with the first secret>,v1=<with the second>, over "<t>.<body>".
    const std::string t = std::to_string(now);
    const std::string payload = t + "." + request.body;
    BOOST_TEST(testing::RequestHeader(request, "ChittyCharge-Signature") ==
               "t=" + t + ",v1=" + crypto::HmacSha256Hex("notify_secret_new_0001", payload) +
                   ",v1=" + crypto::HmacSha256Hex("notify_secret_old_0001", payload));
  }
  BOOST_TEST(Pass().delivered == 0);  // nothing left
  BOOST_TEST(transport.requests().size() == 2U);
}

BOOST_AUTO_TEST_CASE(a_failed_try_holds_back_the_next_of_its_hold_and_retries_with_the_same_id) {
  const std::string id = Create();
  Capture(id);
  transport.Respond(500, "down for maintenance");
  auto first = Pass();
  BOOST_TEST(first.failed == 1);
  BOOST_TEST(first.delivered == 0);
  BOOST_REQUIRE_EQUAL(transport.requests().size(), 1U);  // captured waits for created
  const std::string ntf = Str(Sent()[0], "id");
  const ledger::Notification failed = Failed();
  BOOST_TEST(failed.id == ntf);
  BOOST_TEST(failed.attempts == 1);
  BOOST_TEST(failed.last_error == "HTTP 500: down for maintenance");
  BOOST_TEST((failed.next_attempt_at == std::optional<int64_t>(now + 10)));

  now += 9;  // not due yet
  BOOST_TEST(Pass().delivered == 0);
  BOOST_TEST(transport.requests().size() == 1U);
  now += 1;
  transport.Respond(200, "").Respond(200, "");
  auto second = Pass();
  BOOST_TEST(second.delivered == 2);
  auto sent = Sent(1);
  BOOST_REQUIRE_EQUAL(sent.size(), 2U);
  BOOST_TEST(Str(sent[0], "id") == ntf);  // the same id
  BOOST_TEST(Str(sent[0], "type") == "hold.created");
  BOOST_TEST(Str(sent[1], "type") == "hold.captured");
  BOOST_TEST(book.ListFailedNotifications("alpha", "", 10)->data.empty());
}

BOOST_AUTO_TEST_CASE(gives_up_after_3_days_and_the_next_one_goes) {
  const std::string id = Create();
  const int64_t created = now;
  Capture(id);
  int passes = 0;
  while (true) {
    transport.Respond(503, "");
    // The last try: once it is given up, the same pass sends the hold's next one.
    const bool last = now >= created + notify::kGiveUpAfterSeconds;
    if (last) transport.Respond(200, "");
    auto report = Pass();
    ++passes;
    BOOST_REQUIRE(passes < 200);
    if (last) {
      BOOST_TEST(report.gave_up == 1);
      BOOST_TEST(report.delivered == 1);
      break;
    }
    BOOST_REQUIRE_EQUAL(report.failed, 1);
    auto next = Failed().next_attempt_at;
    BOOST_REQUIRE(next.has_value());
    BOOST_REQUIRE(*next - now <= notify::kMaxRetryIntervalSeconds);
    now = *next;
  }
  BOOST_TEST(now == created + notify::kGiveUpAfterSeconds);
  BOOST_TEST(passes == 81);  // see notify_notification's schedule
  const ledger::Notification gave_up = Failed();
  BOOST_TEST((gave_up.status == ledger::NotificationStatus::kGaveUp));
  BOOST_TEST(gave_up.attempts == 81);
  BOOST_TEST(gave_up.last_error == "HTTP 503");
  // The captured one was not blocked by a given-up one.
  BOOST_TEST(Str(Sent(transport.requests().size() - 1)[0], "type") == "hold.captured");
}

BOOST_AUTO_TEST_CASE(after_two_timeouts_the_rest_of_a_clients_notifications_wait) {
  Create();
  Create();
  Create();
  transport.FailWith(ErrorKind::kDeadlineExceeded, "timed out")
      .FailWith(ErrorKind::kDeadlineExceeded, "timed out");
  auto report = Pass();
  BOOST_TEST(report.failed == 2);
  BOOST_TEST(report.deferred == 1);
  BOOST_TEST(transport.requests().size() == 2U);
  BOOST_TEST(Failed().last_error == "timeout: no answer within 10 s");
  // The one let go was not tried: no attempt counted, due again in a minute.
  auto page = book.ListFailedNotifications("alpha", "", 10);
  BOOST_TEST(page->data.size() == 2U);
  now += kDeferSeconds;
  transport.Respond(200, "").Respond(200, "").Respond(200, "");
  BOOST_TEST(Pass().delivered == 3);
}

BOOST_AUTO_TEST_CASE(a_hold_that_cannot_be_read_waits_and_a_vanished_one_is_sent_as_null) {
  const std::string id = Create();
  memory.Delete(holds::HoldKey(id));  // no cached copy
  stripe.fail_next = MakeError(ErrorKind::kUpstream, "api_error", "Stripe is down");
  auto report = Pass();
  BOOST_TEST(report.deferred == 1);
  BOOST_TEST(transport.requests().empty());
  stripe.intents.erase(id);  // Stripe no longer knows it (a reset sandbox)
  now += kDeferSeconds;
  transport.Respond(200, "");
  BOOST_TEST(Pass().delivered == 1);
  BOOST_TEST(Sent()[0]["data"]["hold"].IsNull());
}

BOOST_AUTO_TEST_CASE(a_client_without_a_url_gets_nothing_queued) {
  Create(beta);
  BOOST_TEST(Pass().delivered == 0);
  BOOST_TEST(transport.requests().empty());
  BOOST_TEST(book.LeaseDueNotifications(now + 1000, 60, 100)->empty());
  config.client_webhooks.clear();  // webhooks removed: nothing queued for alpha either
  BOOST_REQUIRE(SyncNotificationClients(config, ledger).has_value());
  Create();
  BOOST_TEST(Pass().delivered == 0);
  BOOST_TEST(book.LeaseDueNotifications(now + 1000, 60, 100)->empty());
}

BOOST_AUTO_TEST_CASE(a_down_ledger_is_reported) {
  ledger.SetFailing(true);
  BOOST_TEST(Pass().ledger_down);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::jobs
