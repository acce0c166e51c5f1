// Tests for store/in_memory_store.h and the shared argument checks in store/validate.h.
#include "store/in_memory_store.h"

#include <string>
#include <thread>
#include <vector>

#include "store/validate.h"
#include "test_util.h"

namespace cc::store {
namespace {

// A store whose clock the test moves by hand.
struct ClockedStore {
  int64_t now = 1'700'000'000;
  InMemoryStore store{[this] { return now; }};
};

BOOST_AUTO_TEST_SUITE(store_in_memory_store)

BOOST_AUTO_TEST_CASE(get_of_missing_key_is_nullopt_not_error) {
  ClockedStore s;
  auto got = s.store.Get("absent");
  REQUIRE_OK(got);
  BOOST_TEST(!got->has_value());
}

BOOST_AUTO_TEST_CASE(set_then_get_returns_value_and_overwrites) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("k", "one", 0));
  REQUIRE_OK(s.store.Set("k", "two", 0));
  auto got = s.store.Get("k");
  REQUIRE_OK(got);
  BOOST_TEST(got->value() == "two");
}

BOOST_AUTO_TEST_CASE(empty_value_is_a_hit) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("k", "", 0));
  auto got = s.store.Get("k");
  REQUIRE_OK(got);
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST(got->value().empty());
}

BOOST_AUTO_TEST_CASE(entry_expires_exactly_at_ttl) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("k", "v", 10));
  s.now += 9;
  BOOST_TEST(s.store.Get("k")->has_value());
  s.now += 1;
  BOOST_TEST(!s.store.Get("k")->has_value());
  BOOST_TEST(s.store.Size() == 0U);
}

BOOST_AUTO_TEST_CASE(ttl_zero_never_expires) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("k", "v", 0));
  s.now += 365 * 24 * 3600;
  BOOST_TEST(s.store.Get("k")->has_value());
}

BOOST_AUTO_TEST_CASE(add_stores_only_when_absent) {
  ClockedStore s;
  auto first = s.store.Add("k", "a", 60);
  REQUIRE_OK(first);
  BOOST_TEST(*first);
  auto second = s.store.Add("k", "b", 60);
  REQUIRE_OK(second);
  BOOST_TEST(!*second);
  BOOST_TEST(s.store.Get("k")->value() == "a");
}

BOOST_AUTO_TEST_CASE(add_succeeds_again_after_expiry) {
  ClockedStore s;
  REQUIRE_OK(s.store.Add("k", "a", 5));
  s.now += 5;
  auto again = s.store.Add("k", "b", 5);
  REQUIRE_OK(again);
  BOOST_TEST(*again);
}

BOOST_AUTO_TEST_CASE(incr_creates_at_initial_then_adds_delta) {
  ClockedStore s;
  BOOST_TEST(*s.store.Incr("c", 1, 1, 60) == 1U);
  BOOST_TEST(*s.store.Incr("c", 1, 1, 60) == 2U);
  BOOST_TEST(*s.store.Incr("c", 5, 1, 60) == 7U);
  BOOST_TEST(s.store.Get("c")->value() == "7");
}

BOOST_AUTO_TEST_CASE(incr_keeps_the_ttl_of_the_first_write) {
  ClockedStore s;
  REQUIRE_OK(s.store.Incr("c", 1, 1, 60));
  s.now += 59;
  BOOST_TEST(*s.store.Incr("c", 1, 1, 60) == 2U);
  s.now += 1;  // the window of the first write is over: a fresh counter
  BOOST_TEST(*s.store.Incr("c", 1, 1, 60) == 1U);
}

BOOST_AUTO_TEST_CASE(incr_wraps_at_2_pow_64_like_memcached) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("c", "18446744073709551615", 0));
  BOOST_TEST(*s.store.Incr("c", 2, 0, 0) == 1U);
}

BOOST_AUTO_TEST_CASE(incr_on_non_counter_is_invalid_argument) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("c", "abc", 0));
  auto r = s.store.Incr("c", 1, 0, 0);
  REQUIRE_ERROR(r);
  BOOST_TEST(static_cast<int>(r.error().kind) == static_cast<int>(ErrorKind::kInvalidArgument));
}

BOOST_AUTO_TEST_CASE(delete_removes_and_is_idempotent) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("k", "v", 0));
  REQUIRE_OK(s.store.Delete("k"));
  REQUIRE_OK(s.store.Delete("k"));
  BOOST_TEST(!s.store.Get("k")->has_value());
}

BOOST_AUTO_TEST_CASE(clear_drops_everything_and_ping_is_ok) {
  ClockedStore s;
  REQUIRE_OK(s.store.Set("a", "1", 0));
  REQUIRE_OK(s.store.Set("b", "2", 0));
  BOOST_TEST(s.store.Size() == 2U);
  s.store.Clear();
  BOOST_TEST(s.store.Size() == 0U);
  REQUIRE_OK(s.store.Ping());
}

BOOST_AUTO_TEST_CASE(default_clock_is_the_system_clock) {
  InMemoryStore store;
  REQUIRE_OK(store.Set("k", "v", 60));
  BOOST_TEST(store.Get("k")->has_value());
}

BOOST_AUTO_TEST_CASE(concurrent_incr_loses_no_update) {
  InMemoryStore store;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store] {
      for (int i = 0; i < kPerThread; ++i) (void)store.Incr("c", 1, 1, 0);
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(store.Get("c")->value() == std::to_string(kThreads * kPerThread));
}

BOOST_AUTO_TEST_CASE(bad_keys_are_rejected_by_every_call) {
  ClockedStore s;
  const std::string too_long(kMaxKeyBytes + 1, 'k');
  for (const std::string& key : {std::string(), too_long, std::string("a b"), std::string("a\nb"),
                                 std::string("caf\xc3\xa9")}) {
    BOOST_TEST(!s.store.Get(key));
    BOOST_TEST(!s.store.Set(key, "v", 0));
    BOOST_TEST(!s.store.Add(key, "v", 0));
    BOOST_TEST(!s.store.Incr(key, 1, 0, 0));
    BOOST_TEST(!s.store.Delete(key));
  }
  BOOST_TEST(s.store.Size() == 0U);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace cc::store
