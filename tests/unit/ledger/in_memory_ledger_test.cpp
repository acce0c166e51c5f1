// Tests for ledger/in_memory_ledger.h: the shared behaviour, and thread-safety.
#include "ledger/in_memory_ledger.h"

#include <atomic>
#include <thread>
#include <vector>

#include "ledger/ledger_behaviour.h"

namespace cc::ledger {
namespace {

struct Fresh {
  InMemoryLedger ledger;
};

BOOST_AUTO_TEST_SUITE(ledger_in_memory_ledger)

CC_LEDGER_BEHAVIOUR_CASES(Fresh)

BOOST_AUTO_TEST_CASE(concurrent_recorders_of_one_webhook_event_see_one_new) {
  InMemoryLedger ledger;
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        auto r = ledger.RecordWebhookEvent("evt_" + std::to_string(i), behaviour::kNow);
        if (r && *r) fresh.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(fresh.load() == 100);
}

BOOST_AUTO_TEST_CASE(concurrent_appenders_get_distinct_consecutive_seqs) {
  InMemoryLedger ledger;
  REQUIRE_OK(ledger.RecordHold(behaviour::MakeHold("pi_c", "main", behaviour::kNow)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string id = "evt_" + std::to_string(t) + "_" + std::to_string(i);
        BOOST_TEST(ledger.AppendEvent(behaviour::MakeEvent(id, "pi_c", "reconciled")).has_value());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto page = ledger.ListEvents("pi_c", "", 100);
  REQUIRE_OK(page);
  BOOST_REQUIRE(page->data.size() == 100U);
  for (size_t i = 0; i < page->data.size(); ++i) {
    BOOST_TEST(page->data[i].seq == static_cast<int64_t>(i) + 1);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::ledger
