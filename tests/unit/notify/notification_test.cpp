// Tests for notify/notification.h: the retry schedule, the signature (against a vector
// computed outside this code base, with Python's hmac), the body and the failed list.
#include "notify/notification.h"

#include <boost/test/unit_test.hpp>
#include <vector>

#include "core/json.h"
#include "test_util.h"

namespace cc::notify {
namespace {

constexpr int64_t kCreated = 1760184000;  // 2025-10-11T12:00:00Z

ledger::Notification Sample() {
  ledger::Notification n;
  n.id = "ntf_abc";
  n.client = "alpha";
  n.hold_id = "pi_1";
  n.type = "hold.captured";
  n.created_at = kCreated;
  n.next_attempt_at = kCreated;
  n.event.id = "evt_abc";
  n.event.hold_id = "pi_1";
  n.event.chitty_id = "CHITTY-AUTH-1";
  n.event.type = "captured";
  n.event.actor = "client:alpha";
  n.event.request_id = "req-1";
  n.event.status_before = "requires_capture";
  n.event.status_after = "succeeded";
  n.event.amount = 7500;
  n.event.currency = "usd";
  n.event.payment_intent = "pi_1";
  n.event.detail_json = R"({"reason":"damage"})";
  n.event.created_at = kCreated;
  n.event.seq = 2;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(notify_notification)

BOOST_AUTO_TEST_CASE(retries_start_at_10_seconds_and_double_up_to_an_hour) {
  const std::vector<int64_t> expected{10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600};
  for (size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST_INFO("failed try " << i + 1);
    BOOST_TEST(RetryDelay(static_cast<int>(i) + 1) == expected[i]);
  }
  BOOST_TEST(RetryDelay(0) == 10);
  BOOST_TEST(RetryDelay(1000000) == 3600);  // no overflow after many tries
}

BOOST_AUTO_TEST_CASE(the_first_retry_is_within_10_seconds_of_the_failure) {
  auto next = NextAttemptAt(kCreated, 1, kCreated + 3);
  BOOST_REQUIRE(next.has_value());
  BOOST_TEST(*next == kCreated + 13);
}

BOOST_AUTO_TEST_CASE(a_notification_that_always_fails_is_tried_for_3_days_then_given_up) {
  // Each try fails the moment it is made; the clock is the schedule itself.
  int64_t now = kCreated;
  int tries = 0;
  int64_t last_try = now;
  int64_t longest_wait = 0;
  while (true) {
    ++tries;  // a try at `now` fails
    last_try = now;
    auto next = NextAttemptAt(kCreated, tries, now);
    if (!next) break;
    BOOST_REQUIRE(*next > now);
    longest_wait = std::max(longest_wait, *next - now);
    now = *next;
    BOOST_REQUIRE(tries < 1000);
  }
  BOOST_TEST(last_try == kCreated + kGiveUpAfterSeconds);  // the last try at the 3-day mark
  BOOST_TEST(longest_wait == kMaxRetryIntervalSeconds);
  // 10+20+…+2560 = 5110 s in 9 retries, then hourly, then one at the mark.
  const int64_t hourly = (kGiveUpAfterSeconds - 5110) / 3600;
  BOOST_TEST(tries == 1 + 9 + static_cast<int>(hourly) + 1);
  // A try that ends after the mark (a slow answer) gives up too.
  BOOST_TEST(!NextAttemptAt(kCreated, 3, kCreated + kGiveUpAfterSeconds + 5).has_value());
  // Just before the mark, the next try is AT the mark, not an hour later.
  auto capped = NextAttemptAt(kCreated, 80, kCreated + kGiveUpAfterSeconds - 60);
  BOOST_REQUIRE(capped.has_value());
  BOOST_TEST(*capped == kCreated + kGiveUpAfterSeconds);
}

BOOST_AUTO_TEST_CASE(the_signature_is_stripes_scheme_checked_against_an_outside_vector) {
  const std::string body = R"({"id":"ntf_1","type":"hold.created"})";
  // python3: hmac.new(secret, b"1760184000." + body, hashlib.sha256).hexdigest()
  const std::vector<std::string> one{"whsec_notify_test_secret"};
  BOOST_TEST(SignatureHeader(one, 1760184000, body) ==
             "t=1760184000,v1=29b60d123119837273acc1d461233356f38930ea7539ea81c307182cbe7b172c");
  // While rotating: one v1 per secret, the first secret's first.
  const std::vector<std::string> two{"whsec_notify_test_secret", "old_secret_0001"};
  BOOST_TEST(SignatureHeader(two, 1760184000, body) ==
             "t=1760184000,v1=29b60d123119837273acc1d461233356f38930ea7539ea81c307182cbe7b172c,"
             "v1=b86b366b8882bf139ae0f15b324ec65bddd70125d0a8dbf97b760f79a5c9c56f");
  // Another timestamp or body is another signature.
  BOOST_TEST(SignatureHeader(one, 1760184001, body) != SignatureHeader(one, 1760184000, body));
}

BOOST_AUTO_TEST_CASE(the_body_carries_the_id_type_time_hold_and_event) {
  const std::string body = RenderBody(Sample(), R"({"id":"pi_1","status":"succeeded"})");
  auto doc = json::ParseStrict(body);
  REQUIRE_OK(doc);
  BOOST_TEST(std::string((*doc)["id"].GetString()) == "ntf_abc");
  BOOST_TEST(std::string((*doc)["type"].GetString()) == "hold.captured");
  BOOST_TEST(std::string((*doc)["created_at"].GetString()) == "2025-10-11T12:00:00Z");
  const auto& data = (*doc)["data"];
  BOOST_TEST(std::string(data["hold"]["status"].GetString()) == "succeeded");
  const auto& event = data["event"];
  BOOST_TEST(std::string(event["id"].GetString()) == "evt_abc");
  BOOST_TEST(std::string(event["type"].GetString()) == "captured");
  BOOST_TEST(std::string(event["actor"].GetString()) == "client:alpha");
  BOOST_TEST(std::string(event["status_before"].GetString()) == "requires_capture");
  BOOST_TEST(event["amount"].GetInt64() == 7500);
  BOOST_TEST(std::string(event["detail"]["reason"].GetString()) == "damage");
  BOOST_TEST(std::string(event["created_at"].GetString()) == "2025-10-11T12:00:00Z");
  BOOST_TEST(event["stripe_request_id"].IsNull());
  BOOST_TEST(data.MemberCount() == 2U);
  BOOST_TEST(doc->MemberCount() == 4U);
  auto without_hold = json::ParseStrict(RenderBody(Sample(), ""));
  REQUIRE_OK(without_hold);
  BOOST_TEST((*without_hold)["data"]["hold"].IsNull());
}

BOOST_AUTO_TEST_CASE(an_http_failure_keeps_a_short_printable_start_of_the_answer) {
  BOOST_TEST(HttpFailure(500, "") == "HTTP 500");
  BOOST_TEST(HttpFailure(503, "upstream\ndown\xff  ") == "HTTP 503: upstream down");
  const std::string long_body(1000, 'x');
  BOOST_TEST(HttpFailure(404, long_body).size() == std::string("HTTP 404: ").size() + 200);
}

BOOST_AUTO_TEST_CASE(the_failed_list_says_retrying_or_gave_up) {
  ledger::Page<ledger::Notification> page;
  ledger::Notification retrying = Sample();
  retrying.attempts = 2;
  retrying.last_error = "HTTP 500";
  retrying.next_attempt_at = kCreated + 30;
  ledger::Notification gave_up = Sample();
  gave_up.id = "ntf_def";
  gave_up.status = ledger::NotificationStatus::kGaveUp;
  gave_up.attempts = 83;
  gave_up.last_error = "timeout: no answer within 10 s";
  gave_up.next_attempt_at.reset();
  page.data = {retrying, gave_up};
  page.has_more = true;
  auto doc = json::ParseStrict(RenderFailedPage(page));
  REQUIRE_OK(doc);
  BOOST_TEST((*doc)["has_more"].GetBool());
  const auto& data = (*doc)["data"];
  BOOST_REQUIRE(data.Size() == 2U);
  BOOST_TEST(std::string(data[0]["id"].GetString()) == "ntf_abc");
  BOOST_TEST(std::string(data[0]["type"].GetString()) == "hold.captured");
  BOOST_TEST(std::string(data[0]["hold_id"].GetString()) == "pi_1");
  BOOST_TEST(std::string(data[0]["status"].GetString()) == "retrying");
  BOOST_TEST(data[0]["attempts"].GetInt() == 2);
  BOOST_TEST(std::string(data[0]["last_error"].GetString()) == "HTTP 500");
  BOOST_TEST(std::string(data[0]["next_attempt_at"].GetString()) == "2025-10-11T12:00:30Z");
  BOOST_TEST(data[0].MemberCount() == 7U);
  BOOST_TEST(std::string(data[1]["status"].GetString()) == "gave_up");
  BOOST_TEST(data[1]["next_attempt_at"].IsNull());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace cc::notify
