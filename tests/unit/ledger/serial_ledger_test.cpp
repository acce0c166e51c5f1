// Tests for ledger/serial_ledger.h: the wrapped ledger's behaviour, one call at a time
// across the fibers of a thread, in arrival order.
#include "ledger/serial_ledger.h"

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "ledger/faulty_ledger.h"
#include "ledger/in_memory_ledger.h"
#include "ledger/ledger_behaviour.h"
#include "runtime/fibers.h"

namespace cc::ledger {
namespace {

using std::chrono::milliseconds;

struct Wrapped {
  InMemoryLedger inner;
  SerialLedger ledger{inner};
};

// A ledger whose every call parks its fiber for a while mid-call (as PgLedger does while
// PostgreSQL answers) and records how many calls overlap and in which order they start.
class ParkingLedger final : public Ledger {
 public:
  explicit ParkingLedger(Ledger& target) : target_(target) {}

  Result<bool> RecordHold(const Hold& hold) override {
    return During("hold", [&] { return target_.RecordHold(hold); });
  }
  Result<std::optional<Hold>> FindHold(std::string_view id) override {
    return During("find", [&] { return target_.FindHold(id); });
  }
  Result<Page<Hold>> ListHolds(const HoldFilter& filter) override {
    return During("list", [&] { return target_.ListHolds(filter); });
  }
  Result<std::vector<Hold>> LeaseDueReleases(int64_t now, int64_t lease_s, int limit) override {
    return During("lease", [&] { return target_.LeaseDueReleases(now, lease_s, limit); });
  }
  Result<std::vector<Hold>> LeaseDueAuthorizations(int64_t now, int64_t margin_s, int64_t lease_s,
                                                   int limit) override {
    return During("lease-authorizations",
                  [&] { return target_.LeaseDueAuthorizations(now, margin_s, lease_s, limit); });
  }
  Result<std::vector<Hold>> LeaseDueChecks(int64_t now, int64_t interval_s, int limit) override {
    return During("checks", [&] { return target_.LeaseDueChecks(now, interval_s, limit); });
  }
  Result<bool> SetHoldClaim(std::string_view hold_id, std::string_view claim_json) override {
    return During("claim", [&] { return target_.SetHoldClaim(hold_id, claim_json); });
  }
  Result<bool> SetHoldDisclosure(std::string_view hold_id,
                                 std::string_view disclosure_json) override {
    return During("disclosure",
                  [&] { return target_.SetHoldDisclosure(hold_id, disclosure_json); });
  }
  Result<bool> RecordEvidence(const Evidence& evidence, const Event& added) override {
    return During("evidence", [&] { return target_.RecordEvidence(evidence, added); });
  }
  Result<std::vector<Evidence>> ListEvidence(std::string_view hold_id) override {
    return During("evidence-list", [&] { return target_.ListEvidence(hold_id); });
  }
  Result<bool> RecordGuestLink(const GuestLink& link) override {
    return During("guest-link", [&] { return target_.RecordGuestLink(link); });
  }
  Result<std::optional<GuestLink>> FindGuestLink(std::string_view token_sha256) override {
    return During("guest-link", [&] { return target_.FindGuestLink(token_sha256); });
  }
  Result<bool> RecordDispute(std::string_view hold_id, const Dispute& dispute) override {
    return During("dispute", [&] { return target_.RecordDispute(hold_id, dispute); });
  }
  Result<std::vector<Hold>> LeaseDueDisputes(int64_t now, int64_t lease_s, int limit) override {
    return During("lease", [&] { return target_.LeaseDueDisputes(now, lease_s, limit); });
  }
  Result<bool> MarkDispute(std::string_view hold_id, std::string_view dispute_id, DisputeMark mark,
                           int64_t at) override {
    return During("dispute", [&] { return target_.MarkDispute(hold_id, dispute_id, mark, at); });
  }
  Result<Event> AppendEvent(const Event& event) override {
    return During("event", [&] { return target_.AppendEvent(event); });
  }
  Result<Page<Event>> ListEvents(std::string_view hold_id, std::string_view starting_after,
                                 int limit) override {
    return During("events", [&] { return target_.ListEvents(hold_id, starting_after, limit); });
  }
  Result<StripeIntent> BeginIntent(const StripeIntent& intent) override {
    return During("begin", [&] { return target_.BeginIntent(intent); });
  }
  Result<std::optional<StripeIntent>> FindIntent(std::string_view key) override {
    return During("intent", [&] { return target_.FindIntent(key); });
  }
  Status FinishIntent(std::string_view key, IntentState state, std::string_view result_json,
                      std::string_view stripe_request_id, int64_t now) override {
    return During("finish", [&] {
      return target_.FinishIntent(key, state, result_json, stripe_request_id, now);
    });
  }
  Result<std::vector<StripeIntent>> ListPendingIntents(int64_t created_before, int limit) override {
    return During("pending", [&] { return target_.ListPendingIntents(created_before, limit); });
  }
  Result<std::vector<StripeIntent>> PendingIntentsOf(std::string_view hold_id) override {
    return During("pending-of", [&] { return target_.PendingIntentsOf(hold_id); });
  }
  Result<bool> RecordWebhookEvent(std::string_view event_id, int64_t received_at) override {
    return During(std::string(event_id),
                  [&] { return target_.RecordWebhookEvent(event_id, received_at); });
  }
  Status Ping() override {
    return During("ping", [&] { return target_.Ping(); });
  }
  Status SetNotificationClients(std::span<const std::string> clients) override {
    return During("notify-clients", [&] { return target_.SetNotificationClients(clients); });
  }
  Result<std::vector<Notification>> LeaseDueNotifications(int64_t now, int64_t lease_s,
                                                          int limit) override {
    return During("notify-lease",
                  [&] { return target_.LeaseDueNotifications(now, lease_s, limit); });
  }
  Result<bool> RecordNotificationAttempt(const NotificationAttempt& attempt) override {
    return During("notify-attempt", [&] { return target_.RecordNotificationAttempt(attempt); });
  }
  Result<Page<Notification>> ListFailedNotifications(std::string_view client,
                                                     std::string_view starting_after,
                                                     int limit) override {
    return During("notify-failed",
                  [&] { return target_.ListFailedNotifications(client, starting_after, limit); });
  }
  std::vector<Result<StripeIntent>> BeginIntents(
      std::span<const StripeIntent* const> intents) override {
    return During("begins:" + std::to_string(intents.size()),
                  [&] { return target_.BeginIntents(intents); });
  }
  std::vector<Status> RecordCreates(std::span<const CreateRecord> records) override {
    return During("creates:" + std::to_string(records.size()),
                  [&] { return target_.RecordCreates(records); });
  }

  std::vector<std::string> started;
  int in_flight = 0;
  int most_in_flight = 0;

 private:
  template <typename Call>
  auto During(const std::string& name, Call call) -> decltype(call()) {
    started.push_back(name);
    most_in_flight = std::max(most_in_flight, ++in_flight);
    fibers::Pause(milliseconds(2));  // the fiber parks mid-call
    auto answer = call();
    --in_flight;
    return answer;
  }

  Ledger& target_;
};

void RunAll(fibers::Scheduler& scheduler) {
  const auto start = std::chrono::steady_clock::now();
  scheduler.RunReady();
  while (scheduler.live() > 0 && std::chrono::steady_clock::now() - start < milliseconds(5000)) {
    fibers::Pause(milliseconds(std::max(scheduler.MillisToNextWake(), 1)));  // the thread sleeps
    scheduler.RunReady();
  }
  BOOST_REQUIRE(scheduler.live() == 0U);
}

BOOST_AUTO_TEST_SUITE(ledger_serial_ledger)

// Outside fibers it is the ledger it wraps.
CC_LEDGER_BEHAVIOUR_CASES(Wrapped)

BOOST_AUTO_TEST_CASE(fibers_calling_at_once_are_served_one_at_a_time_in_arrival_order) {
  InMemoryLedger memory;
  ParkingLedger parking(memory);
  SerialLedger ledger(parking);
  fibers::Scheduler scheduler;
  std::vector<std::string> expected;
  int fresh = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string id = "evt_" + std::to_string(i);
    expected.push_back(id);
    scheduler.Spawn([&, id] {
      auto recorded = ledger.RecordWebhookEvent(id, behaviour::kNow);
      if (recorded && *recorded) ++fresh;
    });
  }
  scheduler.RunReady();
  BOOST_TEST(ledger.waiting() == 9U);  // the first is mid-call, the rest queue
  RunAll(scheduler);
  BOOST_TEST(parking.most_in_flight == 1);
  BOOST_TEST(parking.started == expected, boost::test_tools::per_element());
  BOOST_TEST(fresh == 10);
  BOOST_TEST(ledger.waiting() == 0U);
}

BOOST_AUTO_TEST_CASE(a_pool_serves_one_call_per_connection_at_once) {
  InMemoryLedger memory;
  ParkingLedger first(memory);
  ParkingLedger second(memory);
  ParkingLedger third(memory);
  SerialLedger ledger({&first, &second, &third});
  fibers::Scheduler scheduler;
  int fresh = 0;
  for (int i = 0; i < 12; ++i) {
    scheduler.Spawn([&, i] {
      auto recorded = ledger.RecordWebhookEvent("evt_p" + std::to_string(i), behaviour::kNow);
      if (recorded && *recorded) ++fresh;
    });
  }
  scheduler.RunReady();
  BOOST_TEST(ledger.waiting() == 9U);  // three are mid-call, one per connection
  RunAll(scheduler);
  BOOST_TEST(fresh == 12);
  for (const auto* connection : {&first, &second, &third}) {
    BOOST_TEST(connection->most_in_flight == 1);  // never two calls on one connection
    BOOST_TEST(connection->started.size() == 4U);
  }
  BOOST_TEST(ledger.waiting() == 0U);
}

BOOST_AUTO_TEST_CASE(intents_queued_while_the_connection_is_busy_go_as_one_batch) {
  InMemoryLedger memory;
  ParkingLedger parking(memory);
  SerialLedger ledger(parking);
  fibers::Scheduler scheduler;
  std::vector<std::string> answered(10);
  for (size_t i = 0; i < 10; ++i) {
    scheduler.Spawn([&, i] {
      auto intent = behaviour::MakeIntent("kq" + std::to_string(i), behaviour::kNow);
      auto begun = ledger.BeginIntent(intent);
      if (begun) answered[i] = begun->idempotency_key;
    });
  }
  scheduler.Spawn([&] { REQUIRE_OK(ledger.Ping()); });  // queued behind the first batch
  RunAll(scheduler);
  // The first found the connection free and went alone; the rest queued behind it and
  // went as one batch, led by the second, which waited for the connection before the ping.
  const std::vector<std::string> expected{"begins:1", "begins:9", "ping"};
  BOOST_TEST(parking.started == expected, boost::test_tools::per_element());
  for (size_t i = 0; i < 10; ++i) BOOST_TEST(answered[i] == "kq" + std::to_string(i));
  BOOST_TEST(ledger.batches() == 2U);
  BOOST_TEST(ledger.batched_calls() == 10U);
  BOOST_TEST(memory.ListPendingIntents(behaviour::kNow + 1, 100)->size() == 10U);
}

BOOST_AUTO_TEST_CASE(creates_share_batches_across_a_pool_and_each_gets_its_own_answer) {
  InMemoryLedger memory;
  ParkingLedger first(memory);
  ParkingLedger second(memory);
  SerialLedger ledger({&first, &second});
  fibers::Scheduler scheduler;
  constexpr size_t kCreates = 150;
  std::vector<Hold> holds;
  std::vector<Event> events;
  holds.reserve(kCreates);
  events.reserve(kCreates);
  for (size_t i = 0; i < kCreates; ++i) {
    const std::string pi = "pi_q" + std::to_string(i);
    holds.push_back(behaviour::MakeHold(pi, "alpha", behaviour::kNow));
    events.push_back(behaviour::MakeEvent("evt_q" + std::to_string(i), pi, "created"));
    events.back().status_after = holds.back().status;
    auto intent = behaviour::MakeIntent("kq" + std::to_string(i), behaviour::kNow);
    if (i != 7) REQUIRE_OK(memory.BeginIntent(intent));  // the 8th has no intent: kNotFound
  }
  std::vector<int> outcome(kCreates, -1);
  for (size_t i = 0; i < kCreates; ++i) {
    scheduler.Spawn([&, i] {
      auto recorded = ledger.RecordCreate(holds[i], events[i], "kq" + std::to_string(i), "{}",
                                          behaviour::kNow + 1);
      outcome[i] = recorded ? 0 : static_cast<int>(recorded.error().kind);
    });
  }
  RunAll(scheduler);
  for (size_t i = 0; i < kCreates; ++i) {
    BOOST_TEST_INFO(i);
    BOOST_TEST(outcome[i] == (i == 7 ? static_cast<int>(ErrorKind::kNotFound) : 0));
  }
  BOOST_TEST(first.most_in_flight == 1);
  BOOST_TEST(second.most_in_flight == 1);
  // Two lone creates took the two connections; then batches of at most kMaxBatch.
  BOOST_TEST(ledger.batched_calls() == kCreates);
  BOOST_TEST(ledger.batches() <= 5U);
  BOOST_TEST(ledger.batches() >= 4U);
  BOOST_TEST(memory.ListPendingIntents(behaviour::kNow + 1, 100)->empty());
}

BOOST_AUTO_TEST_CASE(a_failing_call_hands_the_lock_on) {
  InMemoryLedger memory;
  FaultyLedger faulty(memory);
  ParkingLedger parking(faulty);
  SerialLedger ledger(parking);
  fibers::Scheduler scheduler;
  std::vector<bool> pings;
  faulty.SetFailing(true);
  for (int i = 0; i < 3; ++i) {
    scheduler.Spawn([&] {
      pings.push_back(ledger.Ping().has_value());
      faulty.SetFailing(false);  // PostgreSQL is back for the next caller
    });
  }
  RunAll(scheduler);
  const std::vector<bool> expected{false, true, true};
  BOOST_TEST(pings == expected, boost::test_tools::per_element());
  REQUIRE_OK(ledger.Ping());  // free again, outside a fiber too
}

BOOST_AUTO_TEST_CASE(each_call_is_timed_as_postgresql_and_only_a_failing_database_is_an_error) {
  auto metrics = metrics::Metrics::Open("", {});
  REQUIRE_OK(metrics);
  InMemoryLedger memory;
  FaultyLedger faulty(memory);
  ParkingLedger parking(faulty);
  SerialLedger ledger({&parking}, metrics->get());
  fibers::Scheduler scheduler;
  for (int i = 0; i < 3; ++i) {  // a lone intent, then a batch of two
    scheduler.Spawn([&, i] {
      REQUIRE_OK(ledger.BeginIntent(behaviour::MakeIntent("kt" + std::to_string(i), 1)));
    });
  }
  RunAll(scheduler);
  REQUIRE_ERROR(ledger.ListEvents("pi_unknown", "", 0));  // a refused limit: an answer
  faulty.SetFailing(true);
  REQUIRE_ERROR(ledger.Ping());  // the database failing: an error
  const std::string out = (*metrics)->Render();
  BOOST_TEST_INFO(out);
  BOOST_TEST(out.find(R"(chittycharge_dependency_duration_seconds_count{dependency="postgresql"} 5)"
                      "\n") != std::string::npos);
  BOOST_TEST(out.find(R"(chittycharge_dependency_errors_total{dependency="postgresql"} 1)"
                      "\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_caller_outside_fibers_is_refused_while_a_fiber_holds_it) {
  InMemoryLedger memory;
  ParkingLedger parking(memory);
  SerialLedger ledger(parking);
  fibers::Scheduler scheduler;
  scheduler.Spawn([&] { REQUIRE_OK(ledger.Ping()); });
  scheduler.RunReady();  // parked mid-call, holding the lock
  auto busy = ledger.Ping();
  REQUIRE_ERROR(busy);
  BOOST_TEST((busy.error().kind == ErrorKind::kInternal));
  BOOST_TEST(parking.started.size() == 1U);  // never reached the wrapped ledger
  RunAll(scheduler);
  REQUIRE_OK(ledger.Ping());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::ledger
