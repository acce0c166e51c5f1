// Tests for ledger/faulty_ledger.h.
#include "ledger/faulty_ledger.h"

#include "ledger/in_memory_ledger.h"
#include "ledger/ledger_behaviour.h"

namespace cc::ledger {
namespace {

bool IsUnavailable(const Error& e) {
  return e.kind == ErrorKind::kUnavailable && e.code == "service_unavailable";
}

struct Wrapped {
  InMemoryLedger inner;
  FaultyLedger ledger{inner};
};

BOOST_AUTO_TEST_SUITE(ledger_faulty_ledger)

// While healthy it is the ledger it wraps.
CC_LEDGER_BEHAVIOUR_CASES(Wrapped)

BOOST_AUTO_TEST_CASE(every_call_fails_unavailable_when_switched_on_and_touches_nothing) {
  InMemoryLedger inner;
  FaultyLedger ledger(inner);
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_1", "main", behaviour::kNow)));
  ledger.SetFailing(true);
  BOOST_TEST(ledger.failing());
  const auto check = [](const auto& r) {
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(IsUnavailable(r.error()));
  };
  check(ledger.RecordHold(behaviour::MakeHold("pi_2", "main", behaviour::kNow)));
  check(ledger.FindHold("pi_1"));
  HoldFilter f;
  f.client = "main";
  check(ledger.ListHolds(f));
  check(ledger.AppendEvent(behaviour::MakeEvent("evt_1", "pi_1", "created")));
  check(ledger.ListEvents("pi_1", "", 10));
  check(ledger.BeginIntent(behaviour::MakeIntent("k", behaviour::kNow)));
  check(ledger.FinishIntent("k", IntentState::kFailed, "{}", "", behaviour::kNow));
  check(ledger.ListPendingIntents(behaviour::kNow, 10));
  check(ledger.RecordWebhookEvent("evt_s", behaviour::kNow));
  check(ledger.Ping());
  check(ledger.SetHoldClaim("pi_1", R"({"items":[],"total":1})"));
  BOOST_TEST(ledger.calls() == 12U);
  BOOST_TEST(!inner.FindHold("pi_2")->has_value());
  BOOST_TEST((*inner.FindHold("pi_1"))->claim_json.empty());
  BOOST_TEST(*inner.RecordWebhookEvent("evt_s", behaviour::kNow));

  ledger.SetFailing(false);
  auto back = ledger.FindHold("pi_1");
  REQUIRE_OK(back);
  BOOST_TEST(back->has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::ledger
